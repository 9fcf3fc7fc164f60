"""The Flux state map (flux-jobs(1) "JOB STATUS") and job id parsing."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from jobspec_core.transformer import TaskState
from jobspec_flux.states import parse_jobid, status_from_record


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("NEW", "pending"),
        ("DEPEND", "pending"),
        ("PRIORITY", "pending"),
        ("SCHED", "pending"),
        ("RUN", "running"),
        ("CLEANUP", "running"),
    ],
)
def test_active_states(state, expected):
    assert status_from_record({"state": state}).state.value == expected


def _inactive(result, code=None, exc=None, t_run=1.0):
    return {
        "state": "INACTIVE",
        "result": result,
        "returncode": code,
        "t_run": t_run,
        "t_inactive": 2.0,
        "exception": exc or {"occurred": False},
    }


def test_results():
    assert status_from_record(_inactive("COMPLETED", 0)).state is TaskState.COMPLETED
    failed = status_from_record(_inactive("FAILED", 3))
    assert (failed.state, failed.exit_code) == (TaskState.FAILED, 3)
    timeout = status_from_record(
        _inactive("TIMEOUT", 142, {"occurred": True, "type": "timeout", "note": "expired"})
    )
    assert (timeout.state, timeout.exit_code, timeout.reason) == (TaskState.TIMEOUT, 142, "expired")
    cancelled = status_from_record(_inactive("CANCELED", 143))
    assert (cancelled.state, cancelled.exit_code) == (TaskState.CANCELLED, 143)
    never_started = status_from_record(_inactive("CANCELED", 143, t_run=None))
    assert never_started.exit_code is None


def test_dependency_exception_is_never_run():
    record = _inactive(
        "FAILED",
        1,
        {
            "occurred": True,
            "type": "dependency",
            "note": "dependency after-success=x can never be satisfied",
        },
    )
    status = status_from_record(record)
    assert status.state is TaskState.NEVER_RUN and "never be satisfied" in status.reason


def test_unknown_values_are_unknown_not_guessed():
    assert status_from_record({"state": "WEIRD"}).state is TaskState.UNKNOWN
    assert status_from_record(_inactive("ODD")).state is TaskState.UNKNOWN


def test_parse_jobid_forms():
    assert parse_jobid("12801015808") == 12801015808
    assert parse_jobid("ƒLWBZ27") == 12801015808  # measured with flux job id --to=dec
    assert parse_jobid("fLWBZ27") == 12801015808  # the ASCII prefix outside UTF-8 locales
    assert parse_jobid("0x2fb000000") == 0x2FB000000
    for bad in ["", "ƒ", "ƒ0OIl", "job", "f-1"]:
        with pytest.raises(ValueError):
            parse_jobid(bad)


@pytest.mark.skipif(shutil.which("flux") is None, reason="flux is not on PATH")
def test_parse_jobid_agrees_with_flux_job_id():
    flux = shutil.which("flux")  # wherever it is installed (/opt/flux/bin here)
    for dec in [1, 57, 58, 12801015808, 2**63 - 1]:
        f58 = subprocess.run(
            [flux, "job", "id", "--to=f58", str(dec)],
            capture_output=True,
            text=True,
            check=True,
            env={"LANG": "C.UTF-8", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        ).stdout.strip()
        assert parse_jobid(f58) == dec, f58
