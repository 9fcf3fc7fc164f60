"""``jobspec transformers [--json]``: the installed transformers and the plugins that failed.

Prints, for each transformer: its name (what ``-t`` takes), version, the distribution and
plugin (entry point) providing it, and its description; then a feature x transformer table
of capabilities; then the other plugins (the ones that provide only steps); then every
plugin that failed to load, with its cause. ``--json`` prints the same as one object.

Exit code 0 when the listing could be made, even with broken plugins (they are named in a
section of their own and on stderr); 1 when plugins are broken and not one transformer is
left.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..transformer import Transformer

__all__ = ["add_parser", "run", "collect", "format_table"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "transformers",
        help="list installed transformers (versions, capabilities) and broken plugins",
        description="List the transformers installed through the 'jobspec' entry-point "
        "group: name, version, distribution, description and capabilities; then any plugin "
        "that failed to load, with its cause. JOBSPEC_DISABLE_PLUGINS blocks plugins by name.",
    )
    parser.add_argument("--json", action="store_true", help="print the listing as JSON")
    parser.set_defaults(handler=run)


def _version(cls: type[Transformer], plugin_version: str | None) -> str:
    """The transformer's own ``version()`` when it overrides it, else its distribution's."""
    from ..transformer import Transformer

    own = getattr(cls.version, "__func__", None) is not getattr(
        Transformer.version, "__func__", None
    )
    if own or not plugin_version:
        try:
            return str(cls.version())
        except Exception as exc:  # a plugin's bug must not hide the listing
            return f"unknown ({type(exc).__name__})"
    return plugin_version


def collect(registry) -> dict[str, Any]:
    """The listing as plain data (what ``--json`` prints)."""
    from ..features import FEATURES

    transformers = []
    for name in sorted(registry.transformers):
        cls = registry.transformers[name]
        plugin = registry.provided_by.get(name)
        info = registry.plugins.get(plugin) if plugin else None
        caps = set(getattr(cls, "capabilities", ()) or ())
        transformers.append(
            {
                "name": name,
                "version": _version(cls, info.version if info else None),
                "distribution": info.distribution if info else None,
                "plugin": plugin,
                "description": (getattr(cls, "description", "") or "").strip(),
                # known features in the documented order, then any the core does not know
                "capabilities": [f for f in FEATURES if f in caps] + sorted(caps - set(FEATURES)),
            }
        )
    plugins = []
    for name in sorted(registry.plugins):
        info = registry.plugins[name]
        plugins.append(
            {
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "transformers": sorted(t for t, p in registry.provided_by.items() if p == name),
                "steps": sorted(s for s, p in registry.step_provided_by.items() if p == name),
            }
        )
    broken = [{"plugin": name, "cause": cause} for name, cause in sorted(registry.broken.items())]
    return {
        "transformers": transformers,
        "plugins": plugins,
        "broken": broken,
        "features": list(FEATURES),
    }


def _table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def format_table(data: dict[str, Any]) -> str:
    """The human form of :func:`collect`'s result: aligned columns, one section each."""
    out: list[str] = []
    transformers = data["transformers"]
    if transformers:
        out.append(f"Transformers ({len(transformers)}):")
        out += _table(
            ["NAME", "VERSION", "DISTRIBUTION", "PLUGIN", "DESCRIPTION"],
            [
                [
                    t["name"],
                    t["version"] or "unknown",
                    t["distribution"] or "-",
                    t["plugin"] or "-",
                    t["description"],
                ]
                for t in transformers
            ],
        )
        out.append("")
        out.append("Capabilities (yes = supported, - = refused before anything is submitted):")
        features = list(data["features"])
        features += sorted({c for t in transformers for c in t["capabilities"]} - set(features))
        out += _table(
            ["FEATURE", *(t["name"] for t in transformers)],
            [
                [f, *("yes" if f in t["capabilities"] else "-" for t in transformers)]
                for f in features
            ],
        )
    else:
        out.append(
            "No transformers installed. Install a backend, e.g. "
            "`python3 -m pip install ./jobspec_local`."
        )
    others = [p for p in data["plugins"] if not p["transformers"]]
    if others:
        out.append("")
        out.append("Other plugins:")
        out += _table(
            ["PLUGIN", "DISTRIBUTION", "VERSION", "PROVIDES"],
            [
                [
                    p["name"],
                    p["distribution"] or "-",
                    p["version"] or "-",
                    ", ".join(f"step {s}" for s in p["steps"]) or "nothing",
                ]
                for p in others
            ],
        )
    if data["broken"]:
        out.append("")
        out.append(
            f"BROKEN plugins ({len(data['broken'])}): not loaded, "
            "whatever they provide is unavailable:"
        )
        out += _table(["PLUGIN", "CAUSE"], [[b["plugin"], b["cause"]] for b in data["broken"]])
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    from ..plugins import get_registry

    data = collect(get_registry())
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(data))
    if data["broken"]:
        names = ", ".join(b["plugin"] for b in data["broken"])
        print(
            f"jobspec: warning: {len(data['broken'])} plugin(s) failed to load: {names}",
            file=sys.stderr,
        )
        if not data["transformers"]:
            return 1
    return 0
