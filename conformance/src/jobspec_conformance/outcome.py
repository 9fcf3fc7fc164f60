"""What a failed case reports: each expectation that did not hold, as expected against seen."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Mismatch", "CaseFailed"]


@dataclass(frozen=True)
class Mismatch:
    """One expectation that did not hold.

    :ivar subject: what was checked (``task b: state``, ``order a -> b``).
    :ivar expected: what the case expects, in words.
    :ivar seen: what the run or the rendering showed.
    """

    subject: str
    expected: str
    seen: str

    def format(self, indent: str = "  ") -> str:
        return (
            f"{indent}- {self.subject}\n"
            f"{indent}    expected: {self.expected}\n"
            f"{indent}    seen:     {self.seen}"
        )


class CaseFailed(Exception):
    """A case did not conform; ``mismatches`` is never empty. ``details`` are extra lines
    (task states, log file names) printed after the mismatches."""

    def __init__(self, mismatches: list[Mismatch], details: list[str] | None = None):
        if not mismatches:
            raise ValueError("CaseFailed needs at least one mismatch")
        self.mismatches = list(mismatches)
        self.details = list(details or [])
        super().__init__("; ".join(f"{m.subject}: {m.seen}" for m in self.mismatches))
