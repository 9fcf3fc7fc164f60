"""The status page of ``jobspec serve``: one self-contained HTML document (no external
script or style), served at ``/``.

The user signs in by pasting a token (kept in the tab's ``sessionStorage``, sent as a
bearer token, never put in a URL). The page then lists the user's runs and, for the one
selected, its task instances' states and a log, asking ``/api/v1`` again every second so
states change without a reload. Every value from the server is inserted as text
(``textContent``), never as HTML.
"""

from __future__ import annotations

__all__ = ["STATUS_PAGE"]

STATUS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>jobspec runs</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.75rem; text-align: left; }
tr.run { cursor: pointer; }
tr.selected { background: #eef; }
.state-completed { color: #176f2c; } .state-failed, .state-timeout, .state-lost { color: #b00020; }
.state-running { color: #1a57c4; } .state-pending { color: #7a6a00; }
pre { background: #f6f6f6; padding: 0.5rem; max-height: 20rem; overflow: auto; }
#signin { margin-bottom: 1rem; }
</style>
</head>
<body>
<h1>jobspec runs</h1>
<form id="signin">
  <label>Token <input id="token" type="password" size="60" autocomplete="off"></label>
  <button type="submit">Sign in</button> <span id="who"></span>
</form>
<p id="message"></p>
<table id="runs"><thead><tr><th>run</th><th>name</th><th>transformer</th><th>state</th>
<th>created</th></tr></thead><tbody></tbody></table>
<h2 id="run-title"></h2>
<table id="tasks"><thead><tr><th>task</th><th>index</th><th>state</th><th>exit</th>
<th>reason</th></tr></thead><tbody></tbody></table>
<pre id="log"></pre>
<script>
"use strict";
let selected = null;
const token = () => sessionStorage.getItem("jobspec-token");
async function ask(path) {
  const answer = await fetch("/api/v1" + path, {headers: {Authorization: "Bearer " + token()}});
  if (answer.status === 401) { throw new Error("not signed in (the token was refused)"); }
  if (!answer.ok) { throw new Error((await answer.json()).error || answer.statusText); }
  return path.endsWith("/logs") ? answer.text() : answer.json();
}
function cell(row, text, cls) {
  const td = row.insertCell(); td.textContent = text == null ? "-" : String(text);
  if (cls) { td.className = cls; }
}
function when(t) { return t ? new Date(t * 1000).toLocaleString() : "-"; }
async function refresh() {
  if (!token()) { return; }
  const message = document.getElementById("message");
  try {
    const runs = await ask("/runs");
    const body = document.querySelector("#runs tbody");
    body.replaceChildren();
    for (const run of runs) {
      const row = body.insertRow();
      row.className = "run" + (run.run_id === selected ? " selected" : "");
      row.dataset.run = run.run_id;
      cell(row, run.run_id); cell(row, run.name); cell(row, run.transformer);
      cell(row, run.state, "state-" + run.state); cell(row, when(run.created_at));
      row.onclick = () => { selected = run.run_id; refresh(); };
    }
    if (selected === null && runs.length) { selected = runs[0].run_id; }
    if (selected !== null) {
      const status = await ask("/runs/" + encodeURIComponent(selected));
      document.getElementById("run-title").textContent =
        "run " + status.run.run_id + ": " + status.run.state;
      const tasks = document.querySelector("#tasks tbody");
      tasks.replaceChildren();
      for (const t of status.tasks) {
        const row = tasks.insertRow();
        row.dataset.task = t.task_id + "." + t.index;
        cell(row, t.task_id); cell(row, t.index); cell(row, t.state, "state-" + t.state);
        cell(row, t.exit_code); cell(row, t.reason);
      }
      document.getElementById("log").textContent =
        await ask("/runs/" + encodeURIComponent(selected) + "/logs");
    }
    message.textContent = "";
  } catch (error) {
    message.textContent = error.message;
  }
}
document.getElementById("signin").onsubmit = (event) => {
  event.preventDefault();
  sessionStorage.setItem("jobspec-token", document.getElementById("token").value);
  document.getElementById("token").value = "";
  refresh();
};
setInterval(refresh, 1000);
refresh();
</script>
</body>
</html>
"""
