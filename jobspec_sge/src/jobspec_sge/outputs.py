"""Reading Grid Engine's outputs: ``qstat -xml``, ``qstat -j`` and ``qacct -j`` (8.1.9's formats).

Both give :class:`~jobspec_core.batch.NativeStatus` keyed by job id (``12``) and, for an
array job, also by element (``12.3``, :meth:`BaseScheduler.array_element_id`'s form).
The tests read outputs captured from a real cluster (``tests/data``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from jobspec_core.batch import JobState, NativeStatus, most_telling

__all__ = ["parse_qstat_xml", "parse_qacct", "task_ids", "error_reason"]

#: qacct "failed" code: 37 = "qmaster enforced h_rt, h_cpu, or h_vmem limit".
_LIMIT = 37


def task_ids(text: str) -> list[int]:
    """``4-6:1,9`` (qstat's pending task ranges) -> ``[4, 5, 6, 9]``."""
    out: list[int] = []
    for part in filter(None, text.split(",")):
        m = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part.strip())
        if m is None:
            raise ValueError(f"unexpected task range {text!r}")
        first, last, step = int(m[1]), int(m[2] or m[1]), int(m[3] or 1)
        out.extend(range(first, last + 1, step))
    return out


def parse_qstat_xml(
    text: str, state: Callable[[str], JobState], wanted: set[str]
) -> dict[str, NativeStatus]:
    """Every job of ``wanted`` that ``qstat -xml`` lists (running and pending alike).

    :raises ValueError: the output is not qstat's XML.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"qstat -xml printed no XML: {exc}") from exc
    if root.tag != "job_info":
        raise ValueError(f"qstat -xml printed <{root.tag}>, expected <job_info>")
    out: dict[str, NativeStatus] = {}
    per_job: dict[str, list[NativeStatus]] = {}
    for job in root.iter("job_list"):
        number = (job.findtext("JB_job_number") or "").strip()
        if number not in wanted:
            continue
        word = (job.findtext("state") or "").strip()
        native = NativeStatus(state(word), word)
        per_job.setdefault(number, []).append(native)
        for task in task_ids(job.findtext("tasks") or ""):
            out[f"{number}.{task}"] = native
    for number, natives in per_job.items():
        out[number] = most_telling(natives)
    return out


def error_reason(text: str) -> str | None:
    """The reason ``qstat -j ID`` gives for a job in an error state: its ``error reason``
    line without the date and process stamp (``error: can't chdir to /x: No such file or
    directory``); ``None`` when there is none."""
    for line in text.splitlines():
        if line.startswith("error reason"):
            reason = line.partition(":")[2].strip()  # after "error reason    1:"
            return re.sub(r"^\d\d/\d\d/\d{4} [\d:]+ \[[\d:]+\]: ", "", reason) or None
    return None


def _records(text: str) -> list[dict[str, str]]:
    """qacct -j's records (separated by ``====`` lines) as {field: rest of the line}."""
    records: list[dict[str, str]] = []
    for line in text.splitlines():
        if line.startswith("====="):
            records.append({})
        elif records and line.strip():
            key, _, value = line.partition(" ")
            records[-1][key] = value.strip()
    return records


def _status(record: dict[str, str]) -> NativeStatus:
    failed_text = record.get("failed", "0")
    failed = int(failed_text.split()[0]) if failed_text.split() else 0
    exit_text = record.get("exit_status", "")
    code = int(exit_text.split()[0]) if exit_text[:1].isdigit() else None
    if failed == 0:
        return NativeStatus(JobState.FINISHED, "failed 0", code)
    why = failed_text.partition(":")[2].strip() or "no reason given"
    reason = f"qacct: failed {failed} ({why}), exit status {exit_text or '?'}"
    kind = JobState.TIMEOUT if failed == _LIMIT else JobState.FAILED
    return NativeStatus(kind, f"failed {failed}", code, reason)


def parse_qacct(text: str, wanted: set[str]) -> dict[str, NativeStatus]:
    """What ``qacct -j ID`` says of the finished jobs of ``wanted``: per element
    (``12.3``) and per job (its most telling element: timed out, failed, else finished).
    A job run more than once (rescheduled) is judged by its last record."""
    last: dict[tuple[str, str], NativeStatus] = {}
    for record in _records(text):
        number = (record.get("jobnumber") or "?").split()[0]
        if number in wanted:
            last[(number, (record.get("taskid") or "undefined").split()[0])] = _status(record)
    out: dict[str, NativeStatus] = {}
    per_job: dict[str, list[NativeStatus]] = {}
    for (number, task), status in last.items():
        if task.isdigit():
            out[f"{number}.{task}"] = status
        per_job.setdefault(number, []).append(status)
    for number, statuses in per_job.items():
        out[number] = most_telling(statuses)
    return out
