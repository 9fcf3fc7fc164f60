"""The few exception classes of jobspec, and the :class:`Problem` record.

Every error a user can cause is a :class:`JobspecError` (or a subclass); the CLI turns
those into a message and an exit code, never a traceback. A :class:`Problem` is one
finding about a document: where it is (file, line, column, path inside the document),
what was found and what was expected. Validation collects every problem in a document
before raising, so a user fixes them all in one go.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = [
    "Problem",
    "JobspecError",
    "InvalidJobspec",
    "UsageError",
    "PluginError",
    "UnknownTransformer",
    "UnsupportedFeature",
    "SubmitError",
    "StepError",
    "BackendError",
    "StoreError",
    "UnsafeValue",
    "EXIT_OK",
    "EXIT_FAILURE",
    "EXIT_USAGE",
]

#: Exit codes of the CLI: 0 ok, 1 runtime failure, 2 invalid input or usage.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class Problem:
    """One finding about a document.

    :param message: what was found and what was expected, in one sentence.
    :param path: where inside the document, as a dotted/indexed path (``tasks[1].command``);
        empty for the document as a whole.
    :param file: the file name as the user gave it, or ``None`` for in-memory documents.
    :param line: 1-based line, or ``None`` when unknown.
    :param column: 1-based column, or ``None`` when unknown.
    :param hint: an optional suggestion (``did you mean 'command'?``).
    :param code: a short stable identifier of the kind of problem (``unknown-key``).
    """

    message: str
    path: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None
    code: str = "invalid"

    def location(self) -> str:
        """``file:line:column`` as far as known (``<string>`` for in-memory documents)."""
        where = self.file or "<string>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def format(self) -> str:
        """The one-line human form: ``file:line:col: path: message (hint)``. Characters
        that are not printable (a newline or an escape sequence from the document, shown
        in a message) are written escaped (``\\n``, ``\\x1b``): one problem, one line, and
        nothing from a document reaches the terminal raw."""
        text = f"{self.location()}: "
        if self.path:
            text += f"{self.path}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        return text if text.isprintable() else _escaped(text)

    def to_dict(self) -> dict:
        return asdict(self)


def _escaped(text: str) -> str:
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


class JobspecError(Exception):
    """Base of every error a user can cause or meet; the CLI prints it without a traceback.

    ``exit_code`` is what the CLI exits with for it.
    """

    exit_code: int = EXIT_FAILURE


class InvalidJobspec(JobspecError):
    """A document failed loading or validation; ``problems`` lists every finding (never empty)."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem]):
        if not problems:
            raise ValueError("InvalidJobspec needs at least one problem")
        self.problems = list(problems)
        super().__init__(self.format())

    def format(self) -> str:
        return "\n".join(p.format() for p in self.problems)


class UsageError(JobspecError):
    """A command-line value is wrong (a malformed ``--remote`` target, say); nothing was done."""

    exit_code = EXIT_USAGE


class PluginError(JobspecError):
    """A plugin could not be loaded or misbehaved."""


class UnknownTransformer(JobspecError):
    """No transformer of that name is installed; the message lists those that are."""

    exit_code = EXIT_USAGE

    def __init__(self, name: str, available: list[str], broken: dict[str, str] | None = None):
        self.name = name
        self.available = sorted(available)
        self.broken = dict(broken or {})
        msg = f'no such transformer "{name}". Available transformers: ' + (
            ", ".join(self.available) or "(none)"
        )
        if name in self.broken:
            msg += f". The plugin providing it failed to load: {self.broken[name]}"
        super().__init__(msg)


class UnsupportedFeature(JobspecError):
    """The plan uses a feature the chosen transformer does not declare; nothing was submitted."""

    exit_code = EXIT_USAGE


class RequirementsNotMet(JobspecError):
    """The target cannot meet the plan's requirements; nothing was submitted.

    ``report`` is the :class:`jobspec_core.satisfy.Report` (its lines are in the message).
    """

    def __init__(self, message: str, report=None):
        self.report = report
        super().__init__(message)


class SubmitError(JobspecError):
    """A submission failed part-way.

    The transformer has already cancelled what it submitted before raising; ``submitted``
    holds the handles that were submitted (and cancelled) so the run store can record them.
    """

    def __init__(self, message: str, submitted: list | None = None):
        self.submitted = list(submitted or [])
        super().__init__(message)


class StepError(SubmitError):
    """A step (a ``write``) could not be carried out at submission: a path that would
    leave its staging directory, a symbolic link on the way, a file that cannot be
    written. Raised before anything is submitted (``submitted`` is empty)."""


class BackendError(JobspecError):
    """The scheduler could not be reached or answered with an error (names the scheduler part)."""


class StoreError(JobspecError):
    """The run store could not be opened or is damaged, or a run id is unknown."""


class UnsafeValue(JobspecError):
    """A path or name that a backend cannot write safely where it must go (a scheduler
    directive, a file-name pattern): refused at render time, before anything is submitted."""

    exit_code = EXIT_USAGE
