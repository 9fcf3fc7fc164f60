"""Shell completion for bash, zsh and fish, generated from the parser by argcomplete.

Why argcomplete: it completes from the very ``argparse`` parser the CLI runs (no second
description of the commands to keep in step), it supports bash, zsh and fish (shtab has no
fish), and its completers are Python functions, so run ids come from the run store and
transformer names from the loaded plugins at the moment Tab is pressed.

How it works: ``jobspec completion bash|zsh|fish`` prints the shell's script
(:func:`shellcode`). On Tab the shell runs ``jobspec`` with ``_ARGCOMPLETE`` set;
:func:`~jobspec_core.cli.main.main` then calls :func:`autocomplete` before anything else,
which builds the parser (only the subcommand already typed, when one is), attaches the
completers of :data:`COMPLETERS` by argument name and lets argcomplete answer and exit.
argcomplete is the ``completion`` extra (``pip install 'jobspec-core[completion]'``) and is
imported only here, so no other command pays for it.
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Callable, Sequence

__all__ = [
    "COMPLETE_ENV",
    "SHELLS",
    "COMPLETERS",
    "completing",
    "autocomplete",
    "shellcode",
    "run_ids",
    "transformer_names",
]

#: set by the shell scripts argcomplete generates while asking for completions
COMPLETE_ENV = "_ARGCOMPLETE"
SHELLS = ("bash", "zsh", "fish")
_MISSING = (
    "shell completion needs argcomplete: pip install 'jobspec-core[completion]' "
    "(or pip install argcomplete)"
)


def completing() -> bool:
    """Is this process a completion request from the shell?"""
    return bool(os.environ.get(COMPLETE_ENV))


def run_ids(prefix: str, parsed_args: argparse.Namespace, **_: object) -> dict[str, str]:
    """``latest`` and the ids of the 100 most recent runs of the store the command line
    names (``--store``, else ``$JOBSPEC_STORE``, else the default), described by name,
    transformer and state. A missing store completes nothing and is not created."""
    from ..statedir import resolve_store_path
    from ..store import recent_runs_readonly

    path = resolve_store_path(getattr(parsed_args, "store", None))
    if not path.is_file():
        return {}
    runs = recent_runs_readonly(path)
    out = {"latest": f"the most recent run ({runs[0].run_id})"} if runs else {}
    out.update({r.run_id: f"{r.name} [{r.transformer}] {r.state}" for r in runs})
    return {k: v for k, v in out.items() if k.startswith(prefix)}


def transformer_names(prefix: str, **_: object) -> dict[str, str]:
    """The transformers the installed plugins register, described by their plugin."""
    from ..plugins import get_registry

    registry = get_registry()
    return {
        name: f"from {registry.provided_by.get(name, 'a plugin')}"
        for name in sorted(registry.transformers)
        if name.startswith(prefix)
    }


def _graph_sources(prefix: str, parsed_args: argparse.Namespace, **kwargs: object):
    """``jobspec graph FILE|RUN``: files, and run ids."""
    from argcomplete.completers import FilesCompleter

    return [*FilesCompleter()(prefix, **kwargs), *run_ids(prefix, parsed_args)]


def _yaml_files(prefix: str, **kwargs: object):
    from argcomplete.completers import FilesCompleter

    return FilesCompleter(("yaml", "yml"))(prefix, **kwargs)


#: argument ``dest`` -> completer, for every subcommand (one place, not one per module)
COMPLETERS: dict[str, Callable[..., object]] = {
    "run_ref": run_ids,
    "transformer": transformer_names,
    "source": _graph_sources,
    "file": _yaml_files,
    "files": _yaml_files,
}


def _attach(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _attach(sub)
        elif action.dest in COMPLETERS:
            action.completer = COMPLETERS[action.dest]  # type: ignore[attr-defined]


def _typed_words(environ: dict[str, str]) -> list[str] | None:
    """The words before the one being completed (program name dropped), or ``None``."""
    line = environ.get("COMP_LINE", "")
    try:
        point = int(environ.get("COMP_POINT", len(line)))
        words = shlex.split(line[:point])
    except ValueError:
        return None  # an open quote: build every subcommand
    if words and not line[:point].endswith((" ", "\t")):
        words = words[:-1]  # the word under the cursor is being completed
    return words[1:]


def autocomplete(build_parser: Callable[[Sequence[str] | None], argparse.ArgumentParser]):
    """Answer the shell's completion request and exit (argcomplete writes to fd 8)."""
    try:
        import argcomplete
    except ImportError:
        raise SystemExit(1) from None  # nothing to offer; the shell shows no completions
    parser = build_parser(_typed_words(dict(os.environ)) or [])
    _attach(parser)
    # options are offered once a "-" is typed: `jobspec status <TAB>` lists runs only
    argcomplete.autocomplete(parser, always_complete_options=False)
    raise SystemExit(0)  # argcomplete exits itself; only without COMP_LINE do we get here


def shellcode(shell: str, executable: str = "jobspec") -> str:
    """The completion script for ``shell`` (one of :data:`SHELLS`)."""
    if shell not in SHELLS:
        raise ValueError(f"unknown shell {shell!r}; expected one of {', '.join(SHELLS)}")
    try:
        import argcomplete
    except ImportError:
        from ..errors import JobspecError

        raise JobspecError(_MISSING) from None
    return argcomplete.shellcode([executable], shell=shell)
