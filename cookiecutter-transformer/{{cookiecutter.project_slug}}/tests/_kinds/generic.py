"""scheduler.py (generic protocol): what is sent and how answers are read.

When you change scheduler.py for your site's commands, change these samples to real output
of those commands: they are the cheapest check that the parsing still holds.
"""

from {{ cookiecutter.package_name }} import scheduler
from {{ cookiecutter.package_name }}.native import JobRequest, JobState


def request(**kw):
    base = dict(name="build", script="build.sh", duration=90, slots=2, cores_per_slot=4)
    return JobRequest(**{**base, **kw})


def test_submit_args_carry_dependencies_resources_and_the_script_last():
    args = scheduler.submit_args(request(passthrough={"queue": "debug"}), ["{id:a}", "{id:b}"])
    assert args[:4] == ["--after", "{id:a}", "--after", "{id:b}"]
    assert args[args.index("--time") + 1] == "150"  # 90 s plus the grace
    assert args[args.index("--slots") + 1] == "2"
    assert args[args.index("--option") + 1] == "queue=debug"
    assert args[-1] == "build.sh"


def test_parse_submit_takes_the_last_line():
    assert scheduler.parse_submit("queued.\n42\n") == "42"


def test_parse_status_maps_states_and_exit_codes():
    found = scheduler.parse_status("1 done 0\n2 running -\n3 held -\n4 done 3\n", "", 0, [])
    assert found["1"].state is JobState.FINISHED and found["1"].exit_code == 0
    assert found["2"].state is JobState.RUNNING and found["2"].exit_code is None
    assert found["3"].state is JobState.PENDING
    assert found["4"].exit_code == 3
    assert "5" not in found  # left out: unknown
