"""The four things jobspec asks of Flux, behind one small interface with two implementations:
:class:`~jobspec_flux.cli_backend.CliDriver` (the ``flux`` command) and
:class:`~jobspec_flux.api_backend.ApiDriver` (flux-python). The submission logic in
:mod:`jobspec_flux.runs` is written once against this interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from jobspec_core.alternatives import Capacity

from .jobs import JobRequest

__all__ = ["Driver", "Refused"]


class Refused(Exception):
    """Flux refused a submission; the message is Flux's own."""


class Driver(ABC):
    """One way of talking to a Flux instance."""

    #: ``cli`` or ``python``; recorded in each handle.
    name: str

    @abstractmethod
    def submit(self, request: JobRequest, dependencies: Sequence[int]) -> list[int]:
        """Submit ``request`` with ``afterok`` on every id of ``dependencies``.

        Returns the job ids, one per replica in replica order. Raises :class:`Refused` when
        Flux refuses the job (after cancelling any replica already accepted), and
        :class:`~jobspec_core.errors.BackendError` when Flux cannot be reached.
        """

    @abstractmethod
    def query(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The ``flux jobs --json`` record of each id Flux knows, in one request."""

    @abstractmethod
    def cancel(self, ids: Sequence[int]) -> None:
        """Cancel every id that is still active (one request where possible)."""

    @abstractmethod
    def capacity(self) -> Capacity:
        """The instance's resources that are up (for choosing among ``a|b`` alternatives)."""

    @abstractmethod
    def create_archive(self, argv: list[str]) -> None:
        """Run one ``flux archive create`` (argv from
        :func:`jobspec_flux.scripts.stage_archive_argv`)."""
