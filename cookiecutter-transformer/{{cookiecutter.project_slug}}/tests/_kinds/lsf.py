"""scheduler.py (LSF): what is sent and how answers are read.

When you change scheduler.py for your site's LSF, change these samples to real output of
its commands: they are the cheapest check that the parsing still holds.
"""

from jobspec_core.batch import CommandResult, JobRequest, JobState

from {{ cookiecutter.package_name }}.scheduler import SiteScheduler

words = SiteScheduler()


def result(stdout, stderr="", code=0):
    return CommandResult(("bjobs",), code, stdout, stderr)


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
    assert ["-n", "2"] in words.resource_options(request())
    assert words.duration_options(150) == [["-W", "3"]]  # minutes, rounded up
    assert words.passthrough_options({"q": "debug"}) == [["-q", "debug"]]
    assert words.array_options(1, 4, "many") == [["-J", "many[1-4]"]]


def test_dependencies_are_done_conditions():
    assert words.dependency_options(["1", "2"]) == ["-w", "done(1) && done(2)"]


def test_parse_submit():
    assert words.parse_submit(result("Job <1234> is submitted to queue <normal>.\n")) == "1234"


def test_parse_status_reads_bjobs_lines():
    out = (
        "1,DONE,-,-\n2,EXIT,3,-\n3,PEND,-,-\n4,RUN,-,-\n4,DONE,-,-\n"
        "6,EXIT,140,TERM_RUNLIMIT: job killed after reaching LSF run time limit\n"
    )
    found = words.parse_status(result(out, "Job <5> is not found\n", 255), [])
    assert found["1"].state is JobState.FINISHED and found["1"].exit_code == 0
    assert found["2"].exit_code == 3
    assert found["3"].state is JobState.PENDING
    assert found["4"].state is JobState.RUNNING  # an array: one element still runs
    assert found["6"].state is JobState.TIMEOUT
    assert "5" not in found
