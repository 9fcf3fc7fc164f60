"""Parsing of real Grid Engine outputs (captured by tests/data/capture.py on 8.1.9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jobspec_core.batch import CommandResult, JobState
from jobspec_sge.outputs import error_reason, parse_qacct, task_ids
from jobspec_sge.scheduler import GridEngine

DATA = Path(__file__).parent / "data"
INDEX = json.loads((DATA / "index.json").read_text())
JOBS = INDEX["jobs"]
GE = GridEngine()


def result(name: str, suffix: str = ".txt") -> CommandResult:
    entry = INDEX[name]
    text = (DATA / f"{name}{suffix}").read_text()
    return CommandResult(tuple(entry["argv"]), entry["returncode"], text, entry["stderr"])


@pytest.mark.parametrize("name", ["ok", "fail", "limit", "eqw", "long", "held"])
def test_parse_submit_plain(name: str) -> None:
    job = GE.parse_submit(result(f"qsub_{name}"))
    assert job.isdigit() and job in JOBS.values()


def test_parse_submit_array_is_the_job_number() -> None:
    assert (DATA / "qsub_array.txt").read_text().strip() == f"{JOBS['array']}.1-3:1"
    assert GE.parse_submit(result("qsub_array")) == JOBS["array"]


@pytest.mark.parametrize("text", ["", "Unable to run job: error: no suitable queues\n", "x.1"])
def test_parse_submit_refuses_other_output(text: str) -> None:
    with pytest.raises(ValueError, match="expected a job id"):
        GE.parse_submit(CommandResult(("qsub",), 0, text, ""))


def test_task_ranges() -> None:
    assert task_ids("4-6:1") == [4, 5, 6]
    assert task_ids("1-7:3,9") == [1, 4, 7, 9]
    assert task_ids("") == []
    with pytest.raises(ValueError):
        task_ids("a-b")


def test_qstat_xml_running_pending_held_error_and_array() -> None:
    ids = [JOBS[k] for k in ("eqw", "long_deleted", "held", "wide_array_deleted")]
    got = GE.parse_status(result("qstat_xml_mixed", ".xml"), ids)
    wide = JOBS["wide_array_deleted"]
    assert got[JOBS["long_deleted"]].state is JobState.RUNNING
    assert (got[JOBS["held"]].state, got[JOBS["held"]].native) == (JobState.HELD, "hqw")
    assert (got[JOBS["eqw"]].state, got[JOBS["eqw"]].native) == (JobState.ERROR, "Eqw")
    # Elements 1-3 run (3 is still being transferred: "t"), 4-6 wait as one range.
    assert {k: v.native for k, v in got.items() if k.startswith(f"{wide}.")} == {
        f"{wide}.1": "r",
        f"{wide}.2": "r",
        f"{wide}.3": "t",
        f"{wide}.4": "qw",
        f"{wide}.5": "qw",
        f"{wide}.6": "qw",
    }
    assert got[wide].state is JobState.RUNNING  # the job as a whole: its most active element


def test_qstat_xml_only_wanted_jobs() -> None:
    got = GE.parse_status(result("qstat_xml_mixed", ".xml"), [JOBS["held"]])
    assert set(got) == {JOBS["held"]}
    after = GE.parse_status(result("qstat_xml_after", ".xml"), list(JOBS.values()))
    # 6 s after the deletions every job had left the queue ("held" ran after the deleted
    # job it waited for, -hold_jid being after-any, and ended): an empty queue is no error.
    assert after == {}


@pytest.mark.parametrize(
    "stdout, rc",
    [("", 0), ("error: commlib error: got select error (Connection refused)\n", 1), ("<x/>", 0)],
)
def test_qstat_failure_is_a_value_error(stdout: str, rc: int) -> None:
    with pytest.raises(ValueError):
        GE.parse_status(CommandResult(("qstat", "-xml"), rc, stdout, ""), ["1"])


def test_state_map_words() -> None:
    assert GE.state("Ehqw") is JobState.ERROR
    assert GE.state("dr") is JobState.CANCELLED
    assert GE.state("Rr") is JobState.RUNNING and GE.state("s") is JobState.RUNNING
    assert GE.state("hRwq") is JobState.HELD
    assert GE.state("zz") is JobState.UNKNOWN


def accounting(*names: str) -> dict:
    ids = [JOBS[k] for k in JOBS]
    return GE.parse_accounting([result(f"qacct_{n}") for n in names], ids)


def test_qacct_completed_and_failed() -> None:
    got = accounting("ok", "fail")
    ok, fail = got[JOBS["ok"]], got[JOBS["fail"]]
    assert (ok.state, ok.exit_code, ok.reason) == (JobState.FINISHED, 0, None)
    assert (fail.state, fail.exit_code) == (JobState.FINISHED, 3)  # the script's own exit


def test_qacct_killed_at_h_rt_is_a_timeout() -> None:
    got = accounting("limit")[JOBS["limit"]]
    assert (got.state, got.exit_code, got.native) == (JobState.TIMEOUT, 137, "failed 37")
    assert "qmaster enforced h_rt" in got.reason


def test_qacct_deleted_running_job_failed_with_reason() -> None:
    got = accounting("deleted")[JOBS["long_deleted"]]
    assert (got.state, got.exit_code) == (JobState.FAILED, 137)
    assert "failed 100 (assumedly after job)" in got.reason


def test_qacct_array_per_element_and_job() -> None:
    arr = JOBS["array"]
    got = accounting("array")
    assert {k: v.exit_code for k, v in got.items() if k.startswith(f"{arr}.")} == {
        f"{arr}.1": 0,
        f"{arr}.2": 1,
        f"{arr}.3": 2,
    }
    assert got[arr].state is JobState.FINISHED
    wide = JOBS["wide_array_deleted"]
    deleted = accounting("array_deleted")
    # Only the three elements that ran are accounted; the job's state is the worst.
    assert sorted(k for k in deleted if k.startswith(f"{wide}.")) == [
        f"{wide}.{i}" for i in (1, 2, 3)
    ]
    assert deleted[wide].state is JobState.FAILED


def test_qacct_unknown_job_is_left_out() -> None:
    assert accounting("missing") == {}
    assert INDEX["qacct_missing"]["stderr"] == "error: job id 999999 not found\n"
    # a record of another job than the ones asked about is ignored
    assert parse_qacct((DATA / "qacct_ok.txt").read_text(), {"424242"}) == {}


def test_qacct_rerun_job_judged_by_its_last_record() -> None:
    text = (DATA / "qacct_limit.txt").read_text() + (DATA / "qacct_limit.txt").read_text().replace(
        "failed       37  : qmaster enforced h_rt, h_cpu, or h_vmem limit", "failed       0"
    ).replace("exit_status  137                  (Killed)", "exit_status  0")
    got = parse_qacct(text, {JOBS["limit"]})
    assert (got[JOBS["limit"]].state, got[JOBS["limit"]].exit_code) == (JobState.FINISHED, 0)


def test_accounting_argv_one_per_job() -> None:
    assert GE.accounting_argv(["qacct", "-j"], ["3", "5"]) == [
        ["qacct", "-j", "3"],
        ["qacct", "-j", "5"],
    ]


def test_qstat_j_error_reason_explains_eqw() -> None:
    reason = GE.parse_explain(result("qstat_j_eqw"), "4")
    assert reason is not None and reason.startswith("error: can't chdir to /tmp/")
    assert reason.endswith("missing: No such file or directory")
    assert GE.explain_argv(GE.explain_command, "4") == ["qstat", "-j", "4"]


@pytest.mark.parametrize("name", ["qstat_j_running", "qstat_j_held", "qstat_j_missing"])
def test_qstat_j_without_an_error_reason_explains_nothing(name: str) -> None:
    assert GE.parse_explain(result(name), "1") is None
    assert error_reason("") is None
