"""scheduler.py (LSF): what is sent and how answers are read.

When you change scheduler.py for your site's LSF, change these samples to real output of
its commands: they are the cheapest check that the parsing still holds.
"""

from {{ cookiecutter.package_name }} import scheduler
from {{ cookiecutter.package_name }}.native import JobRequest, JobState


def request(**kw):
    base = dict(name="build", script="build.sh", duration=90, slots=2, cores_per_slot=4)
    return JobRequest(**{**base, **kw})


def test_directives():
    lines = scheduler.directives(request(passthrough={"q": "debug"}))
    assert "#BSUB -n 2" in lines
    assert "#BSUB -W 3" in lines  # 90 s plus the grace, in minutes rounded up
    assert "#BSUB -q debug" in lines


def test_dependencies_are_done_conditions():
    assert scheduler.submit_args(request(), ["1", "2"]) == ["-w", "done(1) && done(2)"]
    assert scheduler.submit_args(request(), []) == []


def test_parse_submit():
    assert scheduler.parse_submit("Job <1234> is submitted to queue <normal>.\n") == "1234"


def test_parse_status_reads_bjobs_lines():
    found = scheduler.parse_status(
        "1,DONE,-\n2,EXIT,3\n3,PEND,-\n4,RUN,-\n", "Job <5> is not found\n", 255, []
    )
    assert found["1"].state is JobState.FINISHED and found["1"].exit_code == 0
    assert found["2"].exit_code == 3
    assert found["3"].state is JobState.PENDING
    assert found["4"].state is JobState.RUNNING
    assert "5" not in found
