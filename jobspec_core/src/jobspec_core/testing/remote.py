"""Running the ``jobspec`` command line against a loopback sshd, as from a laptop.

:class:`RemoteBench` holds what a remote test needs besides the scheduler's own cluster:

* a :class:`~jobspec_core.testing.sshd.LoopbackSshd` whose sessions get the scheduler's
  client variables and a HOME of their own (the "remote home", a folder of the test), so
  the remote run directory is never the local one;
* a local ``PATH`` holding only ``ssh``, ``tar``, a POSIX shell and the Python of this
  interpreter: the scheduler's commands are NOT on it, so anything that is not sent over
  SSH fails instead of passing unnoticed;
* :meth:`RemoteBench.jobspec`, a ``jobspec`` process in a fresh environment (a new shell:
  only the store, the ssh configuration and the control directory carry over).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .sshd import LoopbackSshd

__all__ = ["RemoteBench", "local_tools"]

#: the programs the local side of a remote run needs (and nothing of a scheduler)
_TOOLS = ("ssh", "tar", "sh", "env")


def local_tools(directory: Path) -> Path:
    """A folder of links to :data:`_TOOLS` (and this Python), to be the whole local PATH."""
    directory.mkdir(parents=True, exist_ok=True)
    for tool in _TOOLS:
        found = shutil.which(tool)
        if found is None:
            raise RuntimeError(f"{tool} is not installed")
        link = directory / tool
        if not link.exists():
            link.symlink_to(found)
    python = directory / "python3"
    if not python.exists():
        python.symlink_to(sys.executable)
    return directory


class RemoteBench:
    """A loopback "cluster login node" for the tests (see the module docstring).

    :param root: a folder of the test.
    :param scheduler_env: the scheduler's client variables (``SLURM_CONF``, ``SGE_ROOT``...),
        set in every SSH session.
    """

    def __init__(self, root: Path, scheduler_env: dict[str, str]):
        self.root = Path(root)
        self.remote_home = self.root / "remote-home"
        self.remote_home.mkdir(parents=True, exist_ok=True)
        env = {"HOME": str(self.remote_home), **scheduler_env}
        self.sshd = LoopbackSshd(self.root / "sshd", env=env)
        self.tools = local_tools(self.root / "local-bin")
        # socket paths are limited to ~104 bytes: a short folder of our own
        self.control = Path(tempfile.mkdtemp(prefix="jsr-", dir="/tmp"))
        self.store = self.root / "store.sqlite"
        self.workdir = self.root / "work"
        self.workdir.mkdir(exist_ok=True)

    @property
    def target(self) -> str:
        return self.sshd.alias

    def start(self) -> RemoteBench:
        self.sshd.start()
        return self

    def stop(self) -> None:
        for sock in self.control.glob("*"):
            subprocess.run(
                ["ssh", "-F", str(self.sshd.client_config), "-S", str(sock), "-O", "exit"]
                + [self.target],
                capture_output=True,
                timeout=30,
                check=False,
            )
        self.sshd.stop()
        shutil.rmtree(self.control, ignore_errors=True)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a new local shell of the user (no scheduler variables)."""
        env = {
            "PATH": f"{Path(sys.executable).parent}:{self.tools}",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "JOBSPEC_STORE": str(self.store),
            "JOBSPEC_SSH_CONFIG": str(self.sshd.client_config),
            "JOBSPEC_SSH_CONTROL_DIR": str(self.control),
        }
        env.update(extra)
        return {k: v for k, v in env.items() if v != ""}

    def jobspec(
        self, *args: str, timeout: float = 300, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """``jobspec ARGS`` in a new shell on the local side."""
        return subprocess.run(
            [sys.executable, "-m", "jobspec_core", *args],
            cwd=self.workdir,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
