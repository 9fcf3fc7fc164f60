"""A real single-host Slurm cluster (slurmctld + slurmd + munge) for tests and CI, no systemd.

Contract:

* ``LocalSlurmCluster(state_dir)`` keeps everything it writes (slurm.conf, state, spool, logs,
  job-completion file, pids) inside ``state_dir`` (default: a fresh temp dir). Clients must run
  with ``SLURM_CONF`` set to ``conf_path``; ``env`` gives exactly that as a dict.
* ``start()`` ensures munged runs, writes slurm.conf with free ports, starts slurmctld and slurmd
  and returns once its one node (``node_name``, host ``localhost``) is ``idle`` (or raises
  ``ClusterError`` with log tails).
* Process tracking: ``proctrack/cgroup`` (cgroup v1 freezer) where this machine allows it,
  so that nothing a job starts (``setsid``, a double fork) outlives the job's cancel or time
  limit; else ``proctrack/linuxproc`` (parent ids: a daemonized child escapes), with the
  reason in ``proctrack_note``. ``JOBSPEC_SLURM_TEST_PROCTRACK=linuxproc`` forces the
  fallback. Each cluster's node has its own name (``js-<hash of state_dir>``): Slurm keeps
  its cgroups under ``slurm_<node name>``, and clusters running side by side on one host
  (each with job ids from 1) must never share one.
* ``stop()`` cancels every job, then ends only the daemons this cluster started (checked by pid
  *and* by their command line naming our slurm.conf). munged is left running on purpose: it is
  shared by every cluster on the host and is harmless.
* ``stop_controller()`` / ``start_controller()`` stop and restart only slurmctld; job state
  survives (StateSaveLocation), so jobs submitted before are still known afterwards.
* Must run as root: the daemons need it (SlurmUser=root). ``is_available()`` says why not.

CLI: ``python -m jobspec_slurm.testing.cluster start|stop|status|env [--dir DIR]``; the CLI's
default dir is ``$TMPDIR/jobspec-slurm`` so separate invocations find the same cluster, and
``eval "$(python -m jobspec_slurm.testing.cluster env)"`` sets SLURM_CONF for a shell.

What every test cluster does alike (finding and stopping our daemons by pid, free ports, log
tails in errors, the context manager, the command line) is :mod:`jobspec_core.testing.daemons`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jobspec_core.testing.daemons import (
    ClusterError,
    LocalCluster,
    free_ports,
    kill_trees,
    proc_file,
    process_is,
    tail,
)

REQUIRED_COMMANDS = tuple(
    "slurmctld slurmd sbatch squeue scontrol sinfo scancel munged munge unmunge".split()
)
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_RUN = Path("/run/munge")
DEFAULT_CLI_DIR = Path(tempfile.gettempdir()) / "jobspec-slurm"
NODE_NAME = "localhost"  #: the host every node runs on (NodeHostname)
PARTITION = "debug"
PROCTRACK_ENV = "JOBSPEC_SLURM_TEST_PROCTRACK"


def cgroup_v1_freezer() -> tuple[Path | None, str]:
    """The cgroup v1 mount root (``/sys/fs/cgroup``) when its freezer hierarchy is mounted
    there and we may create cgroups in it (root), else ``None``; with the reason."""
    if os.environ.get(PROCTRACK_ENV) == "linuxproc":
        return None, f"{PROCTRACK_ENV}=linuxproc"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError as exc:
        return None, f"cannot read /proc/mounts: {exc}"
    freezer = Path("/sys/fs/cgroup/freezer")
    found = any(
        len(f) >= 4 and f[1] == str(freezer) and f[2] == "cgroup" and "freezer" in f[3].split(",")
        for f in (line.split() for line in mounts)
    )
    if not found:
        return None, f"no cgroup v1 freezer hierarchy at {freezer}"
    probe = freezer / f"jobspec-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        return None, f"cannot create a cgroup in {freezer}: {exc.strerror}"
    return freezer.parent, "cgroup v1 freezer"


def which(cmd: str) -> str | None:
    """Path of ``cmd`` on PATH or in /usr/sbin, /sbin (daemons live there; PATH may lack it)."""
    found = shutil.which(cmd)
    if found:
        return found
    for d in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        p = Path(d) / cmd
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def is_available() -> tuple[bool, str]:
    """(True, "") if a local cluster can be started here, else (False, reason)."""
    missing = [c for c in REQUIRED_COMMANDS if which(c) is None]
    if missing:
        return False, f"missing {', '.join(missing)} (run .ci/install-slurm.sh as root)"
    if os.geteuid() != 0:
        return False, "must run as root to start slurmctld/slurmd"
    return True, ""


def munge_works() -> bool:
    """True if ``munge -n | unmunge`` succeeds (munged is up and the key is readable)."""
    munge, unmunge = which("munge"), which("unmunge")
    if not munge or not unmunge:
        return False
    cred = subprocess.run([munge, "-n"], capture_output=True, timeout=10)
    if cred.returncode != 0:
        return False
    dec = subprocess.run([unmunge], input=cred.stdout, capture_output=True, timeout=10)
    return dec.returncode == 0


def ensure_munge(timeout: float = 10.0) -> None:
    """Start munged as the munge user unless it already works; create the key if missing."""
    if munge_works():
        return
    import pwd  # noqa: PLC0415 - Unix-only, keep import-time portable

    pw = pwd.getpwnam("munge")
    for d in (MUNGE_RUN, Path("/var/lib/munge"), Path("/var/log/munge")):
        d.mkdir(parents=True, exist_ok=True)
        os.chown(d, pw.pw_uid, pw.pw_gid)
    MUNGE_RUN.chmod(0o755)
    if not MUNGE_KEY.exists():
        MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
        mungekey = which("mungekey")
        if mungekey:
            subprocess.run([mungekey, "--create", "--keyfile", str(MUNGE_KEY)], check=True)
        else:
            MUNGE_KEY.write_bytes(os.urandom(1024))
        os.chown(MUNGE_KEY, pw.pw_uid, pw.pw_gid)
        MUNGE_KEY.chmod(0o400)
    munged = which("munged")
    runuser = which("runuser")
    if runuser:
        argv = [runuser, "-u", "munge", "--", munged]
    else:
        argv = ["su", "-s", "/bin/sh", "munge", "-c", shlex.quote(str(munged))]
    subprocess.run(argv, check=True, timeout=30)  # munged daemonizes itself
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if munge_works():
            return
        time.sleep(0.1)
    raise ClusterError("munged did not come up:\n" + tail(Path("/var/log/munge/munged.log")))


class LocalSlurmCluster(LocalCluster):
    """One slurmctld + one slurmd (node ``localhost``, partition ``debug``) on this host.

    Use as a context manager (``with LocalSlurmCluster() as c: ...``) or call start()/stop().
    Several clusters may run at once: each has its own dir and its own free ports.
    """

    label = "local Slurm cluster"
    daemons = ("slurmctld", "slurmd")
    prog = "python -m jobspec_slurm.testing.cluster"
    default_cli_dir = DEFAULT_CLI_DIR
    stop_grace = 5.0

    def __init__(
        self,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        cluster_name: str = "jobspec",
        cpus: int = 8,
        real_memory: int = 4000,
        min_job_age: int = 300,
        start_timeout: float = 30.0,
    ) -> None:
        super().__init__(state_dir, "jobspec-slurm-")
        self.cluster_name = cluster_name
        self.cpus = cpus
        self.real_memory = real_memory
        self.min_job_age = min_job_age
        self.start_timeout = start_timeout
        digest = hashlib.sha1(str(self.state_dir).encode()).hexdigest()[:8]
        self.node_name = f"js-{digest}"
        self.proctrack_note = "not configured yet"

    # ---- paths and environment -------------------------------------------------------------
    @property
    def conf_path(self) -> Path:
        """The slurm.conf every client and daemon of this cluster uses."""
        return self.state_dir / "slurm.conf"

    @property
    def jobcomp_path(self) -> Path:
        """jobcomp/filetxt file: one line per finished job (JobId=... JobState=... ExitCode=...)."""
        return self.state_dir / "jobcomp.txt"

    @property
    def env(self) -> dict[str, str]:
        """Variables clients need; merge into os.environ: ``{**os.environ, **cluster.env}``."""
        return {"SLURM_CONF": str(self.conf_path)}

    @property
    def proctrack(self) -> str:
        """``cgroup`` or ``linuxproc``: the process tracking slurm.conf configures."""
        try:
            text = self.conf_path.read_text()
        except OSError:
            return "linuxproc"
        return "cgroup" if "ProctrackType=proctrack/cgroup" in text else "linuxproc"

    def log_path(self, daemon: str) -> Path:
        return self.state_dir / "log" / f"{daemon}.log"

    def stdout_path(self, daemon: str) -> Path:
        return self.state_dir / "log" / f"{daemon}.stdout"

    def executable(self, program: str) -> str:
        return which(program) or program

    # ---- configuration ---------------------------------------------------------------------
    def write_conf(self) -> Path:
        """Write slurm.conf with fresh free ports; returns its path."""
        d = self.state_dir
        for sub in ("state", "spool", "log", "run"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        cgroup_root, self.proctrack_note = cgroup_v1_freezer()
        proctrack = "cgroup" if cgroup_root else "linuxproc"
        cgroup_conf = d / "cgroup.conf"  # read from slurm.conf's directory
        if cgroup_root:
            cgroup_conf.write_text(
                "# Written by jobspec_slurm.testing.cluster: cgroups for process tracking only.\n"
                "CgroupPlugin=cgroup/v1\n"
                f"CgroupMountpoint={cgroup_root}\n"
                "CgroupAutomount=no\n"
            )
        else:
            cgroup_conf.unlink(missing_ok=True)
        ctld_port, slurmd_port = free_ports(2)
        lines = [
            "# Written by jobspec_slurm.testing.cluster; a single-host test cluster.",
            f"ClusterName={self.cluster_name}",
            "SlurmctldHost=localhost",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"SlurmctldPort={ctld_port}",
            f"SlurmdPort={slurmd_port}",
            f"StateSaveLocation={d / 'state'}",
            f"SlurmdSpoolDir={d / 'spool'}",
            f"SlurmctldPidFile={d / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={d / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.log_path('slurmctld')}",
            f"SlurmdLogFile={self.log_path('slurmd')}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            # Lets slurmd accept CPUs/RealMemory larger than the hardware (2-core CI boxes).
            "SlurmdParameters=config_overrides",
            "SchedulerType=sched/backfill",
            # Without batch_sched_delay=0 jobs start in ~3 s waves; bf_interval=1 for arrays.
            "SchedulerParameters=batch_sched_delay=0,bf_interval=1",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            # cgroups where the machine allows it (see cgroup_v1_freezer), else parent ids
            f"ProctrackType=proctrack/{proctrack}",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "MpiDefault=none",
            "SwitchType=switch/none",
            "MailProg=/bin/true",
            "JobCompType=jobcomp/filetxt",
            f"JobCompLoc={self.jobcomp_path}",
            # Finished jobs stay visible to squeue/scontrol for MinJobAge seconds. 300 s gives
            # pollers time to see final states; much smaller makes jobs vanish between polls
            # (then only jobcomp.txt knows them); much larger keeps squeue output growing.
            f"MinJobAge={self.min_job_age}",
            "MaxJobCount=100000",
            "MaxArraySize=10001",
            "ReturnToService=2",
            "InactiveLimit=0",
            "KillWait=1",
            "OverTimeLimit=0",  # enforce --time promptly
            "SlurmctldTimeout=30",
            "SlurmdTimeout=60",
            f"NodeName={self.node_name} NodeHostname={NODE_NAME} NodeAddr=127.0.0.1 "
            f"CPUs={self.cpus} RealMemory={self.real_memory} State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes={self.node_name} Default=YES MaxTime=INFINITE "
            "State=UP",
        ]
        self.conf_path.write_text("\n".join(lines) + "\n")
        return self.conf_path

    # ---- daemons ---------------------------------------------------------------------------
    def _pids_file(self) -> Path:
        return self.state_dir / "run" / "daemons.json"

    def _load_pids(self) -> dict[str, int]:
        try:
            return {k: int(v) for k, v in json.loads(self._pids_file().read_text()).items()}
        except (OSError, ValueError):
            return {}

    def _save_pids(self, pids: dict[str, int]) -> None:
        self._pids_file().parent.mkdir(parents=True, exist_ok=True)
        self._pids_file().write_text(json.dumps(pids))

    def _our_pid(self, daemon: str) -> int | None:
        """Pid of ``daemon`` if it runs, was started by us, and uses our slurm.conf.

        A child of this process is trusted as is; otherwise the recorded pid must still be
        ``daemon`` with our slurm.conf in its command line (so a recycled pid is never killed).
        """
        pid = self._load_pids().get(daemon)
        proc = self._procs.get(daemon)
        if proc is not None and proc.pid == pid:
            return pid if proc.poll() is None else None
        return pid if process_is(pid, daemon, argv_has=str(self.conf_path)) else None

    def _spawn(self, daemon: str, extra: list[str]) -> None:
        exe = which(daemon)
        if exe is None:
            raise ClusterError(f"{daemon} not installed (run .ci/install-slurm.sh)")
        out = open(self.stdout_path(daemon), "ab")  # noqa: SIM115
        try:
            proc = subprocess.Popen(
                [exe, "-D", "-f", str(self.conf_path), *extra],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self._full_env(),
                cwd=self.state_dir,
                start_new_session=True,
            )
        finally:
            out.close()
        self._procs[daemon] = proc
        self._save_pids({**self._load_pids(), daemon: proc.pid})

    def _forget(self, daemon: str) -> None:
        pids = self._load_pids()
        pids.pop(daemon, None)
        self._save_pids(pids)

    def _wait_for(self, ok_states: tuple[str, ...], timeout: float, daemons: tuple[str, ...]):
        """Poll ``sinfo -h -o %T`` until the node state is one of ``ok_states``."""
        seen = {"state": ""}

        def ready() -> bool:
            # `scontrol ping` fails at once while slurmctld is not listening yet; other clients
            # would spend ~9 s in connect retries.
            if not self._controller_answers():
                return False
            r = self.run(["sinfo", "-h", "-o", "%T"], timeout=15)
            seen["state"] = r.stdout.strip()
            return r.returncode == 0 and seen["state"] in ok_states

        def what() -> str:
            return f"node not {'/'.join(ok_states)} (sinfo: {seen['state']!r})"

        self._wait(ready, what, timeout, daemons, interval=0.1)

    def start(self) -> LocalSlurmCluster:
        """Start munged (if needed), slurmctld and slurmd; return once the node is idle.

        Idempotent: if this dir's daemons already run, only waits for the node. Otherwise the
        cluster starts fresh: earlier jobs, saved state and jobcomp.txt of the dir are deleted
        (logs are kept and appended to) and slurm.conf is rewritten with new free ports.
        """
        ok, reason = is_available()
        if not ok:
            raise ClusterError(reason)
        ensure_munge()
        running = [d for d in ("slurmctld", "slurmd") if self._our_pid(d) is not None]
        if not running:  # fresh cluster: job ids restart at 1, so drop all old records
            for sub in ("state", "spool"):
                shutil.rmtree(self.state_dir / sub, ignore_errors=True)
            self.jobcomp_path.unlink(missing_ok=True)
            self.write_conf()
        if "slurmctld" not in running:
            self._spawn("slurmctld", [])
        if "slurmd" not in running:
            self._spawn("slurmd", ["-N", self.node_name])
        self._wait_for(("idle",), self.start_timeout, ("slurmctld", "slurmd"))
        return self

    def stop_controller(self) -> None:
        """Stop slurmctld only (slurmd and running jobs keep going). Clients then fail."""
        self._terminate("slurmctld")

    def start_controller(self, timeout: float | None = None) -> None:
        """Restart slurmctld with the same conf and saved state; wait until it answers."""
        if self._our_pid("slurmctld") is None:
            self._spawn("slurmctld", [])
        ok = ("idle", "mixed", "allocated", "completing", "mixed+", "idle+")
        self._wait_for(ok, timeout or self.start_timeout, ("slurmctld",))

    def _controller_answers(self) -> bool:
        return self.run(["scontrol", "ping"], timeout=15).returncode == 0

    def _delete_all_jobs(self, timeout: float = 10.0) -> None:
        r = self.run(["squeue", "-h", "-o", "%A"], timeout=15)
        ids = sorted(set(r.stdout.split())) if r.returncode == 0 else []
        if not ids:
            return
        self.run(["scancel", *ids], timeout=15)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.run(["squeue", "-h", "-t", "PD,R,CG,CF,S", "-o", "%A"], timeout=15)
            if r.returncode != 0 or not r.stdout.strip():
                return
            time.sleep(0.2)

    def _kill_our_stepds(self) -> None:
        """SIGKILL slurmstepds of our slurmd (environ has our SLURM_CONF) and their children.

        Only needed when jobs could not be cancelled (controller down); normally a no-op.
        """
        marker = f"SLURM_CONF={self.conf_path}".encode()
        kill_trees(
            lambda pid: (
                proc_file(pid, "cmdline").startswith(b"slurmstepd")
                and marker in proc_file(pid, "environ").split(b"\0")
            )
        )

    def _after_stop(self) -> None:
        self._kill_our_stepds()
        self._remove_cgroups()

    def _remove_cgroups(self) -> None:
        """Remove the (empty) cgroups Slurm left for our node, deepest first; best effort."""
        base = Path("/sys/fs/cgroup/freezer") / f"slurm_{self.node_name}"
        deadline = time.monotonic() + 5.0  # a slurmstepd may still be leaving its cgroup
        while base.is_dir():
            for path in sorted(base.rglob("*"), key=lambda p: -len(p.parts)):
                if path.is_dir():
                    try:
                        path.rmdir()
                    except OSError:
                        pass
            try:
                base.rmdir()
            except OSError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.1)


#: The command line: :meth:`jobspec_core.testing.daemons.LocalCluster.main`.
main = LocalSlurmCluster.main


if __name__ == "__main__":
    sys.exit(main())
