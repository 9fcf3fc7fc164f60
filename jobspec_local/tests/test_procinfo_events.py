"""The pieces status relies on after a crash: pid + start time identity (no pid reuse, no
zombies) and an event log that survives a torn last line."""

from __future__ import annotations

import json
import os
import subprocess
import time

from jobspec_local.events import EventLog, append_events
from jobspec_local.procinfo import alive, start_time


def test_alive_checks_start_time_and_zombies():
    me = os.getpid()
    started = start_time(me)
    assert started is not None
    assert alive(me, started) and alive(me, None)
    assert not alive(me, started + 1)  # same pid, another process (reuse)
    assert not alive(None, None)
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # exited but not reaped: a zombie
        with open(f"/proc/{child.pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.01)
    assert not alive(child.pid, None)
    child.wait()
    assert start_time(child.pid) is None or not alive(child.pid, None)


def test_event_log_reads_incrementally_and_skips_torn_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    assert log.refresh().started == {}  # no file yet
    append_events(path, [["S", 10, 20, 1.0], ["R", "a", 0, 11, 21, 1.5]])
    log.refresh()
    assert log.supervisor == (10, 20) and log.started[("a", 0)] == (11, 21, 1.5)
    with open(path, "ab") as f:  # a writer killed mid-line, then a later writer appends
        f.write(b'["E","a",0,"compl')
    log.refresh()
    assert ("a", 0) not in log.ended  # the partial line is not consumed yet
    with open(path, "ab") as f:
        f.write(b"\n" + json.dumps(["E", "b", 0, "failed", 1, "x", 1.0, 2.0]).encode() + b"\n")
    log.refresh()
    assert ("a", 0) not in log.ended and log.ended[("b", 0)][3] == "failed"
    append_events(path, [["D", 3.0]])
    assert log.refresh().done
