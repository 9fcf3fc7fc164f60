"""scheduler.py (PBS): what is sent and how answers are read.

When you change scheduler.py for your site's PBS, change these samples to real output of
its commands: they are the cheapest check that the parsing still holds.
"""

import json

from jobspec_core.batch import CommandResult, JobRequest, JobState

from {{ cookiecutter.package_name }}.scheduler import SiteScheduler

words = SiteScheduler()


def result(stdout, stderr="", code=0):
    return CommandResult(("qstat",), code, stdout, stderr)


def request(**kw):
    base = dict(
        node_id="build",
        kind="job",
        name="build",
        script="/run/build.sh",
        duration=90,
        walltime=150,
        slots=2,
        cores_per_slot=4,
    )
    return JobRequest(**{**base, **kw})


def test_options():
    assert words.resource_options(request(gpus_per_slot=1)) == [["-l", "select=2:ncpus=4:ngpus=1"]]
    assert words.duration_options(150) == [["-l", "walltime=0:02:30"]]
    assert words.passthrough_options({"q": "debug"}) == [["-q", "debug"]]
    assert words.array_options(0, 9, "many") == [["-N", "many"], ["-J", "0-9"]]
    assert words.array_element_id("12[].srv", 3) == "12[3].srv"


def test_dependencies_are_afterok():
    assert words.dependency_options(["1.srv", "2.srv"]) == ["-W", "depend=afterok:1.srv:2.srv"]


def test_parse_submit():
    assert words.parse_submit(result("1234.pbs-server\n")) == "1234.pbs-server"


def test_parse_status_reads_qstat_json_and_tolerates_unknown_ids():
    jobs = {
        "1.s": {"job_state": "F", "Exit_status": 0},
        "2.s": {"job_state": "Q"},
        "3.s": {"job_state": "R"},
        "5.s": {"job_state": "F", "Exit_status": -29},
        "6.s": {"job_state": "H", "Hold_Types": "s", "comment": "could not run"},
    }
    out = json.dumps({"Jobs": jobs})
    found = words.parse_status(result(out, "qstat: Unknown Job Id 4.s\n", 153), [])
    assert found["1.s"].state is JobState.FINISHED and found["1.s"].exit_code == 0
    assert found["2.s"].state is JobState.PENDING
    assert found["3.s"].state is JobState.RUNNING
    assert found["5.s"].state is JobState.TIMEOUT
    assert found["6.s"].state is JobState.ERROR and found["6.s"].reason == "could not run"
    assert "4.s" not in found
    assert words.parse_status(result("", "qstat: Unknown Job Id 4.s\n", 153), []) == {}
