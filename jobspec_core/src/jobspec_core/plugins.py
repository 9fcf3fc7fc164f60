"""Finding and loading plugins: the ``jobspec`` entry-point group, through pluggy.

Every transformer and step type, built-in or private, arrives the same way: a module named
by an entry point of the ``jobspec`` group implements the hooks of
:mod:`jobspec_core.hookspecs`. Nothing is special-cased.

* A plugin that fails to load (its import raises, its hooks are misspelt, its registration
  is invalid) is recorded in :attr:`Registry.broken` with its cause; the others keep working.
* ``JOBSPEC_DISABLE_PLUGINS`` (comma-separated entry-point names) blocks plugins by name.
* :func:`get_registry` caches one registry per process; tests build their own with
  :func:`load_registry` or :meth:`Registry.from_modules`.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType

import pluggy

from . import hookspecs
from .errors import UnknownTransformer
from .steps import StepType
from .transformer import Transformer

__all__ = [
    "ENTRY_POINT_GROUP",
    "DISABLE_ENV",
    "Registry",
    "load_registry",
    "get_registry",
    "reset_registry",
]

ENTRY_POINT_GROUP = "jobspec"
DISABLE_ENV = "JOBSPEC_DISABLE_PLUGINS"


@dataclass
class PluginInfo:
    """A loaded plugin: entry-point name, the distribution and version providing it."""

    name: str
    distribution: str | None = None
    version: str | None = None


@dataclass
class Registry:
    """What the loaded plugins provide.

    :ivar transformers: name -> transformer class.
    :ivar steps: name -> step type class.
    :ivar plugins: entry-point name -> :class:`PluginInfo` of plugins that loaded.
    :ivar broken: entry-point name -> one-line cause, for plugins that failed to load.
    :ivar provided_by: transformer name -> entry-point name of the plugin that registered it.
    :ivar step_provided_by: step name -> entry-point name of the plugin that registered it.
    """

    transformers: dict[str, type[Transformer]] = field(default_factory=dict)
    steps: dict[str, type[StepType]] = field(default_factory=dict)
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    provided_by: dict[str, str] = field(default_factory=dict)
    step_provided_by: dict[str, str] = field(default_factory=dict)
    manager: pluggy.PluginManager | None = None

    def transformer(self, name: str) -> Transformer:
        """A new instance of the transformer called ``name``.

        Raises :class:`~jobspec_core.errors.UnknownTransformer` listing the available names
        (and the load failure, when a broken plugin bears that name).
        """
        try:
            cls = self.transformers[name]
        except KeyError:
            raise UnknownTransformer(name, list(self.transformers), self.broken) from None
        return cls()

    @classmethod
    def from_modules(cls, modules: Iterable[tuple[str, ModuleType | object]]) -> Registry:
        """A registry from ``(name, plugin object)`` pairs instead of entry points (tests)."""
        registry = cls()
        manager = _new_manager()
        for name, module in modules:
            _add_plugin(registry, manager, name, module, PluginInfo(name))
        registry.manager = manager
        return registry


def _new_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    return manager


def _one_line(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def _add_plugin(
    registry: Registry,
    manager: pluggy.PluginManager,
    name: str,
    plugin: object,
    info: PluginInfo,
) -> None:
    """Register one plugin and collect what it provides; failures go to ``registry.broken``."""
    try:
        manager.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:  # a hookimpl whose signature does not fit
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = "; ".join(lines[1:]) or _one_line(exc)
        registry.broken[name] = f"invalid hook implementation: {detail}"
        return
    except Exception as exc:  # the same plugin object registered twice, ...
        registry.broken[name] = _one_line(exc)
        return
    # A misspelt hook name (jobspec_register_transformer) must fail loudly, per plugin.
    # pluggy accepts an implementation of an unknown hook (it creates a caller without a
    # spec), so look at the callers this plugin joined: any without a spec is misspelt.
    # Only real hook implementations count (a module attribute such as ``jobspec_core``
    # from ``import jobspec_core`` is not one).
    unknown = sorted(
        caller.name for caller in manager.get_hookcallers(plugin) or [] if not caller.has_spec()
    )
    if unknown:
        known = ", ".join(sorted(n for n in dir(hookspecs) if n.startswith("jobspec_")))
        registry.broken[name] = (
            f"unknown hook {', '.join(repr(u) for u in unknown)} (misspelt? known hooks: {known})"
        )
        manager.unregister(plugin)
        return

    # What plugins hand in is checked below; the hook promises these types.
    transformers: list[type[Transformer]] = []
    steps: list[type[StepType]] = []
    try:
        impl = manager.hook.jobspec_register_transformers
        for hookimpl in impl.get_hookimpls():
            if hookimpl.plugin is plugin:
                hookimpl.function(transformers.append)
        impl = manager.hook.jobspec_register_steps
        for hookimpl in impl.get_hookimpls():
            if hookimpl.plugin is plugin:
                hookimpl.function(steps.append)
    except Exception as exc:
        registry.broken[name] = f"registration failed: {_one_line(exc)}"
        manager.unregister(plugin)
        return

    problems = []
    for cls in transformers:
        if not (isinstance(cls, type) and issubclass(cls, Transformer)):
            problems.append(f"{cls!r} is not a Transformer subclass")
        elif not getattr(cls, "name", None):
            problems.append(f"{cls.__name__} has no name")
        elif cls.name in registry.transformers:
            problems.append(
                f"transformer {cls.name!r} is already provided by plugin "
                f"{registry.provided_by[cls.name]!r}"
            )
        elif sum(1 for other in transformers if getattr(other, "name", None) == cls.name) > 1:
            problems.append(f"transformer {cls.name!r} is registered twice by this plugin")
    for step in steps:
        if not (isinstance(step, type) and issubclass(step, StepType)):
            problems.append(f"{step!r} is not a StepType subclass")
        elif not getattr(step, "name", None):
            problems.append(f"{step.__name__} has no name")
        elif step.name in registry.steps:
            problems.append(
                f"step {step.name!r} is already provided by plugin "
                f"{registry.step_provided_by[step.name]!r}"
            )
    if problems:
        registry.broken[name] = "; ".join(problems)
        manager.unregister(plugin)
        return
    for cls in transformers:
        registry.transformers[cls.name] = cls
        registry.provided_by[cls.name] = name
    for step in steps:
        registry.steps[step.name] = step
        registry.step_provided_by[step.name] = name
    registry.plugins[name] = info


def disabled_names(environ: dict[str, str] | None = None) -> set[str]:
    """Entry-point names blocked by ``JOBSPEC_DISABLE_PLUGINS``."""
    raw = (environ if environ is not None else os.environ).get(DISABLE_ENV, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def load_registry(environ: dict[str, str] | None = None) -> Registry:
    """Load every plugin of the ``jobspec`` entry-point group into a new registry.

    Each entry point is loaded on its own: one that raises is recorded in
    :attr:`Registry.broken` and the others still load.
    """
    registry = Registry()
    manager = _new_manager()
    blocked = disabled_names(environ)
    seen: dict[str, str | None] = {}
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in blocked:
            continue
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            ep.name,
            distribution=dist.metadata["Name"] if dist else None,
            version=dist.version if dist else None,
        )
        if ep.name in seen:
            # Two distributions claim one plugin name: the first (in sys.path order) wins.
            if seen[ep.name] != info.distribution:
                registry.broken[f"{ep.name} ({info.distribution})"] = (
                    f"plugin name {ep.name!r} is already provided by distribution "
                    f"{seen[ep.name]!r}; ignored"
                )
            continue
        seen[ep.name] = info.distribution
        try:
            plugin = ep.load()
        except BaseException as exc:  # an import may raise anything, SystemExit included
            if isinstance(exc, KeyboardInterrupt):
                raise
            registry.broken[ep.name] = f"failed to load {ep.value}: {_one_line(exc)}"
            continue
        _add_plugin(registry, manager, ep.name, plugin, info)
    registry.manager = manager
    return registry


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry()
    return _REGISTRY


def reset_registry(registry: Registry | None = None) -> None:
    """Replace (or forget) the process-wide registry; for tests and long-lived services."""
    global _REGISTRY
    _REGISTRY = registry
