"""Output of any size in bounded memory (issue 11, item 7's runtime side): ``watch``
output without newlines, and ``jobspec logs`` of a large log. benchmarks/bench_memory.py
measures the peak RSS of the real commands against ``cat`` of the same file."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from jobspec_core.cli import follow
from local_helpers import cli_env, jobspec_cmd


def test_watch_holds_at_most_one_bounded_piece_of_a_line_without_newlines(tmp_path):
    log = tmp_path / "t.0.log"
    size = 8 * follow.WATCH_LINE_LIMIT + 123
    log.write_bytes(b"x" * size)
    watch = follow.WatchedOutput({("t", 0): str(log)})
    written = watch.read()
    assert len(watch.files[("t", 0)][2]) <= follow.WATCH_LINE_LIMIT  # waiting for a newline
    assert all(
        line.endswith(b"\n") and len(line) <= len(b"[t.0] ") + follow.WATCH_LINE_LIMIT + 1
        for line in written
    )
    written += watch.read(final=True)
    total = b"".join(written).replace(b"[t.0] ", b"").replace(b"\n", b"")
    assert total == b"x" * size  # nothing lost, in pieces


def test_watched_output_is_handed_on_one_chunk_at_a_time(tmp_path):
    """A task that writes far more than one chunk between two refreshes: each batch holds
    at most one chunk of the log (it used to be every byte written since the last refresh:
    362 MiB of `jobspec run` for 300 MiB of output)."""
    log = tmp_path / "t.0.log"
    size = 6 * follow.READ_CHUNK + 17
    log.write_bytes((b"y" * 1000 + b"\n") * (size // 1001) + b"z" * (size % 1001))
    watch = follow.WatchedOutput({("t", 0): str(log)})
    overhead = len(b"[t.0] ") + 1
    total, batches = b"", 0
    for batch in watch.batches(final=True):
        batches += 1
        assert sum(len(line) - overhead for line in batch) <= follow.READ_CHUNK
        total += b"".join(line[len(b"[t.0] ") :] for line in batch)
    assert batches >= 6
    assert total.replace(b"\n", b"") == log.read_bytes().replace(b"\n", b"")


def _peak_rss_mib(argv, env, cwd) -> tuple[float, subprocess.CompletedProcess]:
    probe = textwrap.dedent(
        """
        import resource, subprocess, sys
        p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        sys.stderr.buffer.write(p.stderr[-2000:])
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
        sys.exit(p.returncode)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, *argv], env=env, cwd=cwd, capture_output=True, text=True
    )
    return float(proc.stdout.strip() or "nan"), proc


def test_logs_of_a_large_log_streams_it(tmp_path):
    store = tmp_path / "runs.sqlite"
    job = tmp_path / "job.yaml"
    # 150 MiB of output, no newline: `jobspec logs` must not read it whole
    job.write_text(
        "version: 1\ntasks:\n- name: big\n"
        '  command: ["sh", "-c", "head -c 157286400 /dev/zero | tr \\"\\\\0\\" x"]\n'
    )
    ran = subprocess.run(
        jobspec_cmd("run", str(job)), cwd=tmp_path, env=cli_env(store), capture_output=True
    )
    assert ran.returncode == 0, ran.stderr
    peak, proc = _peak_rss_mib(jobspec_cmd("logs", "latest"), cli_env(store), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert peak < 100, f"jobspec logs of a 150 MiB log peaked at {peak:.0f} MiB"
