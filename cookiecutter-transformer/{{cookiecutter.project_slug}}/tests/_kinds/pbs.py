"""scheduler.py (PBS): what is sent and how answers are read.

When you change scheduler.py for your site's PBS, change these samples to real output of
its commands: they are the cheapest check that the parsing still holds.
"""

import json

from {{ cookiecutter.package_name }} import scheduler
from {{ cookiecutter.package_name }}.native import JobRequest, JobState


def request(**kw):
    base = dict(name="build", script="build.sh", duration=90, slots=2, cores_per_slot=4)
    return JobRequest(**{**base, **kw})


def test_directives():
    lines = scheduler.directives(request(gpus_per_slot=1, passthrough={"q": "debug"}))
    assert "#PBS -l select=2:ncpus=4:ngpus=1" in lines
    assert "#PBS -l walltime=00:02:30" in lines  # 90 s plus the grace
    assert "#PBS -q debug" in lines


def test_dependencies_are_afterok():
    args = scheduler.submit_args(request(), ["1.srv", "2.srv"])
    assert args == ["-W", "depend=afterok:1.srv:2.srv", "build.sh"]


def test_parse_submit():
    assert scheduler.parse_submit("1234.pbs-server\n") == "1234.pbs-server"


def test_parse_status_reads_qstat_json_and_tolerates_unknown_ids():
    jobs = {
        "1.s": {"job_state": "F", "Exit_status": 0},
        "2.s": {"job_state": "Q"},
        "3.s": {"job_state": "R"},
    }
    out = json.dumps({"Jobs": jobs})
    found = scheduler.parse_status(out, "qstat: Unknown Job Id 4.s\n", 153, [])
    assert found["1.s"].state is JobState.FINISHED and found["1.s"].exit_code == 0
    assert found["2.s"].state is JobState.PENDING
    assert found["3.s"].state is JobState.RUNNING
    assert "4.s" not in found
    assert scheduler.parse_status("", "qstat: Unknown Job Id 4.s\n", 153, []) == {}
