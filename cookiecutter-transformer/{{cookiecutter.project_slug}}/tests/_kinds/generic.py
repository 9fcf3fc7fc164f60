"""scheduler.py (generic protocol): what is sent and how answers are read.

When you change scheduler.py for your site's commands, change these samples to real output
of those commands: they are the cheapest check that the parsing still holds.
"""

from jobspec_core.batch import CommandResult, JobRequest, JobState

from {{ cookiecutter.package_name }}.scheduler import SiteScheduler

words = SiteScheduler()


def result(stdout, stderr="", code=0):
    return CommandResult(("status",), code, stdout, stderr)


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


def test_options_carry_resources_time_and_passthrough():
    flat = [w for option in words.resource_options(request(gpus_per_slot=1)) for w in option]
    assert flat[flat.index("--slots") + 1] == "2" and "--gpus-per-slot" in flat
    assert words.duration_options(150) == [["--time", "150"]]
    assert words.passthrough_options({"queue": "debug"}) == [["--option", "queue=debug"]]
    after = words.dependency_options(["{id:a}", "{id:b}"])
    assert after == ["--after", "{id:a}", "--after", "{id:b}"]
    assert words.array_options(0, 9, "many") == [["--name", "many"], ["--array", "0-9"]]


def test_parse_submit_takes_the_last_line():
    assert words.parse_submit(result("queued.\n42\n")) == "42"


def test_parse_status_maps_states_and_exit_codes():
    found = words.parse_status(result("1 done 0\n2 running -\n3 held -\n4 error -\n"), [])
    assert found["1"].state is JobState.FINISHED and found["1"].exit_code == 0
    assert found["2"].state is JobState.RUNNING and found["2"].exit_code is None
    assert found["3"].state is JobState.HELD
    assert found["4"].state is JobState.ERROR
    assert "5" not in found  # left out: unknown
