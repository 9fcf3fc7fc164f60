"""Reading what task instances recorded with the probe (``probe.sh``) in the results directory.

The layout is documented at the top of ``probe.sh``; this module is its only reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

__all__ = ["Probe", "install_probe", "read_probes", "probe_key", "unescape"]


@dataclass
class Probe:
    """What one task instance recorded.

    :ivar task: the ``JOBSPEC_TASK_NAME`` it saw; :ivar index: its ``JOBSPEC_TASK_INDEX``.
    :ivar ended_before_start: keys (``task@index``) of instances that had ended when it started.
    :ivar finished: it reached the end of its actions (not killed).
    """

    task: str
    index: str
    ended_before_start: set[str] = field(default_factory=set)
    finished: bool = False
    duplicate: bool = False
    cwd: str | None = None
    env: dict[str, str | None] = field(default_factory=dict)
    files: dict[str, str | None] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)
    awaited: dict[str, bool] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.task}@{self.index}"


def escape(text: str) -> str:
    """The probe's file-name escape: ``%`` -> ``%25``, ``/`` -> ``%2F``."""
    return text.replace("%", "%25").replace("/", "%2F")


def unescape(text: str) -> str:
    return text.replace("%2F", "/").replace("%25", "%")


def probe_key(task: str, index: int | str) -> str:
    """The unescaped key of an instance, as :attr:`Probe.key`."""
    return f"{task}@{index}"


def install_probe(results: Path) -> Path:
    """Write ``probe.sh`` into ``results`` (created); returns its path."""
    results.mkdir(parents=True, exist_ok=True)
    target = results / "probe.sh"
    target.write_text(
        resources.files(__package__).joinpath("probe.sh").read_text("utf-8"), encoding="utf-8"
    )
    target.chmod(0o755)
    return target


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def read_probes(results: Path) -> dict[str, Probe]:
    """Every instance's record, keyed by :attr:`Probe.key` (unescaped)."""
    probes: dict[str, Probe] = {}
    if not results.is_dir():
        return probes
    for entry in sorted(results.iterdir()):
        if not entry.is_dir() or "@" not in entry.name:
            continue
        raw_task, _, raw_index = entry.name.rpartition("@")
        probe = Probe(unescape(raw_task), unescape(raw_index))
        if (entry / "start").is_file():
            probe.ended_before_start = {
                unescape(line.strip())
                for line in _read(entry / "start").splitlines()
                if line.strip()
            }
        probe.finished = (entry / "end").exists()
        probe.duplicate = (entry / "duplicate").exists()
        if (entry / "cwd").is_file():
            probe.cwd = _read(entry / "cwd").rstrip("\n")
        for name in _names(entry / "env"):
            probe.env[name] = _read(entry / "env" / name)
        for name in _names(entry / "unset"):
            probe.env[name] = None
        for name in _names(entry / "file"):
            probe.files[unescape(name)] = _read(entry / "file" / name)
        for name in _names(entry / "missing"):
            probe.files[unescape(name)] = None
        argv_dir = entry / "argv"
        count = len(_names(argv_dir))
        probe.argv = [
            _read(argv_dir / str(i)) for i in range(count) if (argv_dir / str(i)).exists()
        ]
        for name in _names(entry / "awaited"):
            probe.awaited[unescape(name)] = _read(entry / "awaited" / name).strip() == "yes"
        probes[probe.key] = probe
    return probes
