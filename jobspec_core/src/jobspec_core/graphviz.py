"""Graphviz's ``dot`` program: DOT text in, an SVG or a PNG out (``jobspec graph -f svg``).

``dot`` is an outside program (Graphviz), not a Python dependency: it is looked up on
``PATH`` when a picture is asked for, and its absence is a clear
:class:`~jobspec_core.errors.JobspecError` that says how to install it and that
``--format dot`` or ``--format mermaid`` work without it. The DOT text goes to ``dot`` on
its standard input (argv only, no shell).
"""

from __future__ import annotations

import shutil
import subprocess

from .errors import JobspecError

__all__ = ["IMAGE_FORMATS", "find_dot", "render_image"]

#: the picture formats ``dot -T`` is asked for
IMAGE_FORMATS = ("svg", "png")

_INSTALL = (
    "install Graphviz (Debian/Ubuntu: apt-get install graphviz; Fedora: dnf install "
    "graphviz; macOS: brew install graphviz), or print text with --format dot (render it "
    "elsewhere) or --format mermaid (GitHub renders it in Markdown)"
)


def find_dot() -> str:
    """The path of ``dot``; :class:`JobspecError` with install advice when it is missing."""
    path = shutil.which("dot")
    if path is None:
        raise JobspecError(f"Graphviz's `dot` program is not on PATH: {_INSTALL}")
    return path


def render_image(dot_text: str, fmt: str, timeout: float = 120.0) -> bytes:
    """``dot_text`` drawn by ``dot -T<fmt>`` (``fmt`` one of :data:`IMAGE_FORMATS`).

    :raises ValueError: for another format.
    :raises JobspecError: ``dot`` is missing, failed (its message is kept) or took longer
        than ``timeout`` seconds.
    """
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"unknown image format {fmt!r}; expected one of {IMAGE_FORMATS}")
    dot = find_dot()
    try:
        done = subprocess.run(
            [dot, f"-T{fmt}"],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise JobspecError(f"`dot -T{fmt}` did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise JobspecError(f"cannot run {dot}: {exc}") from exc
    if done.returncode != 0 or not done.stdout:
        message = done.stderr.decode("utf-8", "replace").strip() or "no output"
        raise JobspecError(f"`dot -T{fmt}` failed (exit {done.returncode}): {message}")
    return done.stdout
