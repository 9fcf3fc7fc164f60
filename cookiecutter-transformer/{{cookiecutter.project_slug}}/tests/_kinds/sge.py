"""scheduler.py (Grid Engine): what is sent and how answers are read.

When you change scheduler.py for your site's Grid Engine, change these samples to real
output of its commands: they are the cheapest check that the parsing still holds.
"""

from jobspec_core.batch import CommandResult, DependencyKind, JobRequest, JobState

from {{ cookiecutter.package_name }}.scheduler import SiteScheduler

words = SiteScheduler()
QSTAT = """<?xml version='1.0'?>
<job_info xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd">
  <queue_info>
    <job_list state="running">
      <JB_job_number>12</JB_job_number><JB_name>many</JB_name><state>r</state>
      <slots>1</slots><tasks>1</tasks>
    </job_list>
  </queue_info>
  <job_info>
    <job_list state="pending">
      <JB_job_number>12</JB_job_number><state>qw</state><tasks>2-4:1</tasks>
    </job_list>
    <job_list state="pending"><JB_job_number>13</JB_job_number><state>hqw</state></job_list>
    <job_list state="pending"><JB_job_number>14</JB_job_number><state>Eqw</state></job_list>
  </job_info>
</job_info>
"""


def result(stdout, stderr="", code=0):
    return CommandResult(("qstat", "-xml"), code, stdout, stderr)


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
    assert words.resource_options(request()) == [["-pe", "smp", "8"]]
    assert words.duration_options(150) == [["-l", "h_rt=0:02:30"]]
    assert words.array_options(1, 100, "many") == [["-N", "many"], ["-t", "1-100"]]
    assert words.dependency_options(["1", "2"]) == ["-hold_jid", "1,2"]
    assert words.dependency_kind is DependencyKind.AFTER_ANY
    assert (words.array_variable, words.array_base) == ("SGE_TASK_ID", 1)


def test_parse_submit_reads_plain_and_array_ids():
    assert words.parse_submit(result("12\n")) == "12"
    assert words.parse_submit(result("13.1-100:1\n")) == "13"


def test_parse_status_reads_qstat_xml():
    found = words.parse_status(result(QSTAT), [])
    assert found["12"].state is JobState.RUNNING  # one array task runs, the rest wait
    assert found["13"].state is JobState.HELD
    assert found["14"].state is JobState.ERROR and found["14"].native == "Eqw"
    assert "15" not in found


def test_parse_accounting_reads_qacct():
    sep = "=" * 62
    limit = "37  : qmaster enforced h_rt limit"
    timeout = f"{sep}\njobnumber    20\nfailed       {limit}\nexit_status  137\n"
    deleted = f"{sep}\njobnumber    21\nfailed       100 : assumedly after job\nexit_status  137\n"
    ok = f"{sep}\njobnumber    22\nfailed       0\nexit_status  0\n"
    missing = CommandResult(("qacct",), 1, "", "error: job id 23 not found\n")
    found = words.parse_accounting(
        [result(timeout), result(deleted), result(ok), missing], ["20", "21", "22", "23"]
    )
    assert found["20"].state is JobState.TIMEOUT
    assert found["21"].state is JobState.CANCELLED
    assert found["22"].state is JobState.FINISHED and found["22"].exit_code == 0
    assert "23" not in found
