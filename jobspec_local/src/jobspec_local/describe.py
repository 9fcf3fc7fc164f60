"""This machine as a site: the ``system`` subsystem the local backend reports.

One node of type ``node`` with:

* ``cpu.target``: every CPU target this machine runs code for, its own first. With the
  optional ``archspec`` library (``pip install jobspec-local[archspec]``, imported only
  here) that is the host's microarchitecture and its ancestors (``zen2``, ``zen``,
  ``x86_64_v3``... ``x86_64``); without it, only the machine's family
  (``platform.machine()``), and a more specific target cannot be evaluated. The family's
  other names (``amd64`` for ``x86_64``, ``arm64`` for ``aarch64``) are listed too.
* ``cpu.vendor``, ``cpu.family`` (with archspec);
* ``cores`` and ``gpus``: the budget the backend schedules with (the ``cores``/``gpus``
  options, ``$JOBSPEC_LOCAL_CORES``/``$JOBSPEC_LOCAL_GPUS``, else what the machine has;
  GPUs are the visible ``/dev/nvidiaN`` devices);
* ``memory``: MiB of physical memory.
"""

from __future__ import annotations

import os
import platform

from jobspec_core.site import Subsystem

from .layout import machine_capacity

__all__ = ["FAMILY_ALIASES", "describe_machine"]

#: other names of a CPU family, as package managers and container platforms write them
FAMILY_ALIASES = {
    "x86_64": ["amd64", "x86-64"],
    "aarch64": ["arm64"],
    "ppc64le": ["ppc64el"],
}


def _targets() -> tuple[list[str], dict[str, str], dict[str, str]]:
    """(targets, extra fields, unknown fields)."""
    family = platform.machine() or "unknown"
    try:
        import archspec.cpu  # optional: the extra ``archspec``
    except ImportError:
        targets = [family, *FAMILY_ALIASES.get(family, [])]
        why = (
            f"only the CPU family ({family}) is known: install archspec "
            "(pip install 'jobspec-local[archspec]') to tell microarchitectures"
        )
        return targets, {}, {"cpu.target": why, "cpu.vendor": why}
    host = archspec.cpu.host()
    names = [host.name, *(a.name for a in host.ancestors)]
    fam = str(host.family.name if hasattr(host.family, "name") else host.family)
    names.extend(a for a in FAMILY_ALIASES.get(fam, []) if a not in names)
    return names, {"cpu.vendor": host.vendor, "cpu.family": fam}, {}


def _memory_mib() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        return None


class _Machine(dict):
    """The machine's node. Its CPU fields are found (with archspec, which takes tens of
    milliseconds to detect the host) only when a requirement first looks at one, so a plan
    that requires none of them does not pay for it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cpu_known = False

    def _cpu(self) -> None:
        if not self._cpu_known:
            self._cpu_known = True
            targets, extra, _ = _targets()
            super().__setitem__("cpu.target", targets)
            self.update(extra)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str) and key.startswith("cpu."):
            self._cpu()
        return super().__contains__(key)

    def __getitem__(self, key: str):
        if key.startswith("cpu."):
            self._cpu()
        return super().__getitem__(key)

    def get(self, key: str, default=None):
        return self[key] if key in self else default


def _archspec_missing() -> str | None:
    """Why microarchitectures cannot be told, without importing archspec (``None`` when
    it is installed)."""
    import importlib.util

    if importlib.util.find_spec("archspec") is not None:
        return None
    family = platform.machine() or "unknown"
    return (
        f"only the CPU family ({family}) is known: install archspec "
        "(pip install 'jobspec-local[archspec]') to tell microarchitectures"
    )


def describe_machine(options: dict[str, str] | None = None) -> Subsystem:
    """The ``system`` subsystem of this machine (see the module docstring)."""
    budget = machine_capacity(options or {})
    node = _Machine(type="node", name=platform.node() or "localhost")
    node["cores"] = budget.cores
    node["gpus"] = budget.gpus
    unknown: dict[str, str] = {}
    why = _archspec_missing()
    if why:
        unknown["cpu.target"] = unknown["cpu.vendor"] = why
    memory = _memory_mib()
    if memory is not None:
        node["memory"] = memory
    else:
        unknown["memory"] = "this system does not report its physical memory"
    return Subsystem("system", [node], "transformer local (this machine)", unknown)
