"""A real single-host Grid Engine (sge_qmaster + sge_execd, 8.1.9) for tests and CI, no systemd.

Contract:

* ``LocalSGECluster(state_dir)`` keeps everything it writes inside ``state_dir`` (default: a
  fresh temp dir): a private ``SGE_ROOT`` (``state_dir/root``, cell ``default``, whose
  ``bin``/``lib``/``utilbin``/``util`` are symlinks to the installed package), classic
  (flat-file) spooling under ``state_dir/spool``, the job ``tmpdir``, the configuration files it
  loads (``state_dir/conf``) and the ports (``state_dir/cluster.json``). Nothing under
  /var/lib/gridengine or /etc is read or changed: the Debian "default" cell the packages
  install is never used. Clients must run with ``env`` (SGE_ROOT, SGE_CELL, SGE_QMASTER_PORT,
  SGE_EXECD_PORT) merged into their environment.
* ``start()`` creates the cell and spool (spoolinit/spooldefaults of the package), starts the
  qmaster on a free port, configures it (below) and starts the execd on another free port;
  it returns once the queue instance ``all.q@HOST`` is up with no state flag (or raises
  ``ClusterError`` with the daemons' message tails). Every command is bounded by a timeout.
* The configuration: global ``min_uid 0``/``min_gid 0`` (jobs run as root here; without it
  the queue goes into error state and ``qsub -sync y`` hangs forever), accounting flushed every
  second (``qacct`` then knows a finished job within ~2 s instead of ~15 s), mail to
  /bin/true, ``login_shells none`` (job scripts never source root's profile); the scheduler runs every second and on every submit/finish, with no load
  adjustments; one exec host (``slots`` job slots); parallel environment ``smp`` with
  ``$pe_slots`` (all cores of a job on one host); queue ``all.q`` (BATCH, bash, no load
  thresholds, so a busy shared machine never puts it into alarm state).
* Host name: when this host's name and the reverse lookup of its address differ (typically
  ``vm`` and ``localhost``), both are declared one host in the cell's
  ``common/host_aliases`` (never by editing /etc/hosts).
* ``stop()`` deletes every job (``qdel -f``), then ends only the daemons this cluster started
  (found by their pid files in our spool, checked by their command line *and* by
  ``SGE_ROOT`` in their environment, so a recycled pid is never killed), then any
  ``sge_shepherd`` left of our execd with its job processes.
* ``stop_controller()`` / ``start_controller()`` stop and restart only the qmaster; jobs
  survive (spooled), so jobs submitted before are known afterwards.
* Must run as root: the daemons need it. ``is_available()`` says why not.

CLI: ``python -m jobspec_sge.testing.cluster start|stop|status|env [--dir DIR]``; the CLI's
default dir is ``$TMPDIR/jobspec-sge`` so separate invocations find the same cluster, and
``eval "$(python -m jobspec_sge.testing.cluster env)"`` sets the client variables in a shell.

What every test cluster does alike (finding and stopping our daemons by pid, free ports, log
tails in errors, the context manager, the command line) is :mod:`jobspec_core.testing.daemons`.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobspec_core.testing import daemons as shared
from jobspec_core.testing.daemons import ClusterError, LocalCluster

SGE_BIN = Path("/usr/lib/gridengine")  # Debian: real binaries; /usr/bin/q* are wrappers
SGE_SHARE = Path("/usr/share/gridengine")
REQUIRED = ("sge_qmaster", "sge_execd", "qsub", "qstat", "qconf", "qacct", "qdel", "spoolinit")
DEFAULT_CLI_DIR = Path(tempfile.gettempdir()) / "jobspec-sge"
CELL = "default"
QUEUE = "all.q"
PE = "smp"
DAEMONS = ("sge_qmaster", "sge_execd")


def is_available() -> tuple[bool, str]:
    """(True, "") if a local Grid Engine can be started here, else (False, reason)."""
    missing = [c for c in REQUIRED if not (SGE_BIN / c).exists()]
    if missing:
        return False, f"missing {', '.join(missing)} (run .ci/install-gridengine.sh as root)"
    if os.geteuid() != 0:
        return False, "must run as root to start sge_qmaster/sge_execd"
    return True, ""


class LocalSGECluster(LocalCluster):
    """One sge_qmaster + one sge_execd (queue ``all.q``, PE ``smp``) on this host.

    Use as a context manager (``with LocalSGECluster() as c: ...``) or call start()/stop().
    Several clusters may run at once: each has its own dir, SGE_ROOT and free ports.
    """

    label = "local Grid Engine"
    daemons = DAEMONS
    prog = "python -m jobspec_sge.testing.cluster"
    default_cli_dir = DEFAULT_CLI_DIR
    stop_grace = 10.0  # the qmaster takes up to ~10 s to shut down on SIGTERM

    def __init__(
        self,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        slots: int = 8,
        start_timeout: float = 60.0,
    ) -> None:
        super().__init__(state_dir, "jobspec-sge-")
        self.slots = slots
        self.start_timeout = start_timeout

    # ---- paths and environment -------------------------------------------------------------
    @property
    def sge_root(self) -> Path:
        return self.state_dir / "root"

    @property
    def common_dir(self) -> Path:
        return self.sge_root / CELL / "common"

    @property
    def spool_dir(self) -> Path:
        return self.state_dir / "spool"

    def _meta_path(self) -> Path:
        return self.state_dir / "cluster.json"

    def _meta(self) -> dict:
        try:
            return json.loads(self._meta_path().read_text())
        except (OSError, ValueError):
            return {}

    @property
    def host(self) -> str:
        """The exec host's Grid Engine name (as written by ``start()``)."""
        return self._meta().get("host", "")

    @property
    def env(self) -> dict[str, str]:
        """Variables clients need; merge into os.environ: ``{**os.environ, **cluster.env}``."""
        meta = self._meta()
        return {
            "SGE_ROOT": str(self.sge_root),
            "SGE_CELL": CELL,
            "SGE_QMASTER_PORT": str(meta.get("qmaster_port", "")),
            "SGE_EXECD_PORT": str(meta.get("execd_port", "")),
        }

    def log_path(self, daemon: str) -> Path:
        """The ``messages`` file of ``daemon`` (sge_qmaster or sge_execd)."""
        if daemon == "sge_qmaster":
            return self.spool_dir / "qmaster" / "messages"
        found = sorted((self.spool_dir / "execd").glob("*/messages"))
        return found[0] if found else self.spool_dir / "execd" / "messages"

    def stdout_path(self, daemon: str) -> Path:
        return self.state_dir / f"{daemon}.stdout"

    def _pid_file(self, daemon: str) -> Path | None:
        if daemon == "sge_qmaster":
            return self.spool_dir / "qmaster" / "qmaster.pid"
        # The execd names its spool subdirectory after the name it resolves itself to.
        found = sorted((self.spool_dir / "execd").glob("*/execd.pid"))
        return found[0] if found else None

    # ---- commands ----------------------------------------------------------------------------
    def executable(self, program: str) -> str:
        """/usr/lib/gridengine first (the real binaries; /usr/bin/q* are Debian's wrappers)."""
        exe = SGE_BIN / program
        return str(exe) if exe.exists() else program

    def _must(self, argv: list[str], timeout: float = 30) -> str:
        r = self.run(argv, timeout=timeout, cwd=self.state_dir)
        if r.returncode != 0:
            raise self._fail(f"{shlex.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
        return r.stdout

    # ---- configuration -----------------------------------------------------------------------
    def _host_names(self) -> tuple[str, str]:
        """(this host's Grid Engine name, the name its address reverse-resolves to)."""

        def tool(*args: str) -> str:
            r = self.run(list(args), timeout=15)
            return r.stdout.strip() if r.returncode == 0 else ""

        name = tool("gethostname", "-name") or socket.gethostname()
        try:
            addr = socket.gethostbyname(name)
        except OSError:
            return name, name
        return name, tool("gethostbyaddr", "-name", addr) or name

    def _write_cell(self, qmaster_port: int, execd_port: int) -> None:
        """A fresh private SGE_ROOT, cell and classic spool, initialised with the package tools."""
        for sub in ("root", "spool", "conf", "tmp"):
            shutil.rmtree(self.state_dir / sub, ignore_errors=True)
        self.common_dir.mkdir(parents=True)
        for sub in ("qmaster/job_scripts", "execd"):
            (self.spool_dir / sub).mkdir(parents=True)
        for sub in ("conf", "tmp"):
            (self.state_dir / sub).mkdir()
        (self.sge_root / "util").symlink_to(SGE_SHARE / "util")
        arch = subprocess.run(
            [str(SGE_SHARE / "util" / "arch")], capture_output=True, text=True, timeout=15
        ).stdout.strip()
        for sub in ("bin", "lib", "utilbin"):
            (self.sge_root / sub).mkdir()
            (self.sge_root / sub / arch).symlink_to(SGE_BIN)
        spool_params = f"{self.common_dir};{self.spool_dir / 'qmaster'}"
        bootstrap = {
            "admin_user": "none",  # daemons stay root: the state dir need not be sgeadmin's
            "default_domain": "none",
            "ignore_fqdn": "true",
            "spooling_method": "classic",
            "spooling_lib": "libspoolc",
            "spooling_params": spool_params,
            "binary_path": str(SGE_BIN),
            "qmaster_spool_dir": str(self.spool_dir / "qmaster"),
            "security_mode": "none",
            "listener_threads": "2",
            "worker_threads": "2",
            "scheduler_threads": "1",
        }
        (self.common_dir / "bootstrap").write_text(
            "".join(f"{k:<24}{v}\n" for k, v in bootstrap.items())
        )
        self._meta_path().write_text(
            json.dumps({"qmaster_port": qmaster_port, "execd_port": execd_port})
        )
        name, reverse = self._host_names()
        (self.common_dir / "act_qmaster").write_text(name + "\n")
        if reverse != name:
            (self.common_dir / "host_aliases").write_text(f"{name} {reverse}\n")
        self._meta_path().write_text(
            json.dumps({"qmaster_port": qmaster_port, "execd_port": execd_port, "host": name})
        )
        overrides = {
            "execd_spool_dir": str(self.spool_dir / "execd"),
            "mailer": "/bin/true",
            "min_uid": "0",
            "min_gid": "0",
            # Job scripts run as plain shells: a login shell would run root's profile, which
            # on a developer machine can block (pyenv's rehash lock) or print into the job log.
            "login_shells": "none",
            "load_report_time": "00:00:05",
            "reporting_params": "accounting=true reporting=false flush_time=00:00:01 "
            "joblog=false sharelog=00:00:00",
        }
        global_conf = self._edit(
            (SGE_SHARE / "default-configuration").read_text(), overrides, "global"
        )
        resources = SGE_SHARE / "util" / "resources"
        self._must(["spoolinit", "classic", "libspoolc", spool_params, "init"])
        self._must(["spooldefaults", "configuration", str(global_conf)])
        self._must(["spooldefaults", "complexes", str(resources / "centry")])
        self._must(["spooldefaults", "usersets", str(resources / "usersets")])
        self._must(["spooldefaults", "managers", "root"])
        self._must(["spooldefaults", "adminhosts", name])

    def _edit(self, text: str, overrides: dict[str, str], filename: str) -> Path:
        """``text`` (``key value`` lines) with ``overrides`` applied, written to conf/NAME."""
        out, seen = [], set()
        for line in text.splitlines():
            key = line.split(None, 1)[0] if line.strip() else ""
            if key in overrides:
                out.append(f"{key} {overrides[key]}")
                seen.add(key)
            elif key and not key.startswith("#"):
                out.append(line)
        out.extend(f"{k} {v}" for k, v in overrides.items() if k not in seen)
        path = self.state_dir / "conf" / filename
        path.write_text("\n".join(out) + "\n")
        return path

    def _configure(self) -> None:
        """Submit host, scheduler, exec host, PE ``smp`` and queue ``all.q`` (qmaster running)."""
        host = self.host
        self._must(["qconf", "-as", host])
        sched = {
            "schedule_interval": "0:0:1",
            "flush_submit_sec": "1",
            "flush_finish_sec": "1",
            "job_load_adjustments": "NONE",
            "load_adjustment_decay_time": "0:0:0",
        }
        self._must(
            ["qconf", "-Msconf", str(self._edit(self._must(["qconf", "-ssconf"]), sched, "sched"))]
        )
        exechost = {"hostname": host, "load_scaling": "NONE", "complex_values": "NONE"}
        exechost |= {k: "NONE" for k in ("user_lists", "xuser_lists", "projects", "xprojects")}
        exechost |= {"usage_scaling": "NONE", "report_variables": "NONE"}
        self._must(["qconf", "-Ae", str(self._edit("", exechost, host))])
        pe = {"pe_name": PE, "slots": "9999", "user_lists": "NONE", "xuser_lists": "NONE"}
        pe |= {"start_proc_args": "NONE", "stop_proc_args": "NONE"}
        pe |= {"allocation_rule": "$pe_slots", "control_slaves": "FALSE"}
        pe |= {"job_is_first_task": "TRUE", "urgency_slots": "min"}
        pe |= {"accounting_summary": "FALSE", "qsort_args": "NONE"}
        self._must(["qconf", "-Ap", str(self._edit("", pe, PE))])
        # `qconf -aq` with EDITOR=cat prints the full queue template (then "unchanged").
        template = self.run(["qconf", "-aq", QUEUE], timeout=30, env={"EDITOR": "cat"}).stdout
        queue = {
            "qname": QUEUE,
            "hostlist": host,
            "load_thresholds": "NONE",
            "pe_list": PE,
            "slots": str(self.slots),
            "tmpdir": str(self.state_dir / "tmp"),
            "shell": "/bin/bash",
            "qtype": "BATCH",
        }
        self._must(["qconf", "-Aq", str(self._edit(template, queue, QUEUE))])

    # ---- daemons -----------------------------------------------------------------------------
    def _our_pid(self, daemon: str) -> int | None:
        """Pid of ``daemon`` if it runs and is ours (its command and SGE_ROOT match)."""
        pid_file = self._pid_file(daemon)
        try:
            pid = int(pid_file.read_text().split()[0]) if pid_file else None
        except (OSError, ValueError, IndexError):
            return None
        return (
            pid if shared.process_is(pid, daemon, environ_has=f"SGE_ROOT={self.sge_root}") else None
        )

    def _spawn(self, daemon: str) -> None:
        """Start ``daemon``; it daemonizes itself and writes its pid file."""
        with open(self.stdout_path(daemon), "ab") as out:
            r = subprocess.run(
                [str(SGE_BIN / daemon)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._full_env(),
                cwd=self.state_dir,
                timeout=60,
                check=False,
            )
        if r.returncode != 0:
            raise self._fail(f"{daemon} exited with status {r.returncode}")
        deadline = time.monotonic() + 15  # the daemonized child writes its pid file soon after
        while self._our_pid(daemon) is None:
            if time.monotonic() > deadline:
                raise self._fail(f"{daemon} started but wrote no pid file of a live process")
            time.sleep(0.05)

    def _controller_answers(self) -> bool:
        return self.run(["qconf", "-sh"], timeout=15).returncode == 0

    def queue_state(self) -> str | None:
        """State flags of ``all.q@HOST`` ("" when ready, e.g. "u" or "E" otherwise)."""
        r = self.run(["qstat", "-f", "-q", QUEUE], timeout=15)
        for line in r.stdout.splitlines():
            fields = line.split()
            if fields and fields[0] == f"{QUEUE}@{self.host}":
                return fields[5] if len(fields) > 5 else ""
        return None

    def start(self) -> LocalSGECluster:
        """Create the cell (unless our daemons run), start both daemons, wait for the queue.

        Idempotent: if this dir's daemons already run, only waits for the queue. Otherwise
        the cluster starts fresh on new free ports: the earlier cell, spool and jobs of the
        dir are deleted (job ids restart at 1).
        """
        ok, reason = is_available()
        if not ok:
            raise ClusterError(reason)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self._our_pid("sge_qmaster") is None and self._our_pid("sge_execd") is None:
            self._write_cell(*shared.free_ports(2))
            self._spawn("sge_qmaster")
            self._wait(self._controller_answers, "qmaster not answering", 30, ("sge_qmaster",))
            self._configure()
        elif self._our_pid("sge_qmaster") is None:
            self.start_controller()
        if self._our_pid("sge_execd") is None:
            self._spawn("sge_execd")
        self._wait(
            lambda: self.queue_state() == "",
            lambda: f"queue {QUEUE} not ready (state {self.queue_state()!r})",
            self.start_timeout,
            DAEMONS,
        )
        return self

    def stop_controller(self) -> None:
        """Stop the qmaster only (the execd and running jobs keep going); clients then fail."""
        self._terminate("sge_qmaster")

    def start_controller(self, timeout: float = 30.0) -> None:
        """Restart the qmaster with the same cell and spooled jobs; wait until it answers."""
        if self._our_pid("sge_qmaster") is None:
            self._spawn("sge_qmaster")
        self._wait(self._controller_answers, "qmaster not answering", timeout, ("sge_qmaster",))

    def _delete_all_jobs(self, timeout: float = 15.0) -> None:
        self.run(["qdel", "-f", "-u", "*"], timeout=30)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.run(["qstat", "-u", "*"], timeout=15)
            if r.returncode != 0 or not r.stdout.strip():
                return
            time.sleep(0.2)

    def _after_stop(self) -> None:
        """SIGKILL sge_shepherds running in our execd spool, and their descendants.

        Only needed when jobs could not be deleted (qmaster down); normally a no-op.
        """
        spool = str(self.spool_dir / "execd")

        def ours(pid: int) -> bool:
            if not shared.proc_file(pid, "cmdline").split(b"\0")[0].endswith(b"sge_shepherd"):
                return False
            try:
                return os.readlink(f"/proc/{pid}/cwd").startswith(spool)
            except OSError:
                return False

        shared.kill_trees(ours)


#: The command line: :meth:`jobspec_core.testing.daemons.LocalCluster.main`.
main = LocalSGECluster.main


if __name__ == "__main__":
    sys.exit(main())
