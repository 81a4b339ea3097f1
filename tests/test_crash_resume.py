"""Crash-safe training (issue 9, item 4): ``mt-agents train`` killed with SIGKILL at random moments.

A Dec-HDRQN run with a checkpoint every 64 env steps is killed (SIGKILL: no handler runs, no
file is closed) at a random moment, then resumed with ``--resume``, five times in a row, then
resumed to its end. After every kill: every checkpoint on disk loads (atomic writes: none is
ever half-written) and holds the step count of its name; the work lost (env steps the killed
session had logged beyond its newest checkpoint) is at most one checkpoint interval; the
resumed session starts from exactly the newest checkpoint's ``num_timesteps``. The first
session is a real ``python -m mt_agents.cli`` process; the later ones are forked from this
process, which has the libraries imported already (same command, no import cost; SIGKILL kills
a forked child the same way). Kill delays come from a seeded generator; figures are printed
(``pytest -s``).
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mt_agents import load_model
from mt_agents.cli import checkpoint_steps, latest_checkpoint, main

ROOT = Path(__file__).resolve().parents[1]
FREQ = 64  # env steps between checkpoints (16 vector steps of 4 envs)
ARGS = [
    "train",
    "dec-hdrqn",
    "--env",
    "mast_v0",
    "--task-set",
    "mast-2a-4to8",
    "--task",
    "0",
    "--num-envs",
    "4",
    "--checkpoint-freq",
    str(FREQ),
    "--keep-checkpoints",
    "3",
    "--log-every",
    "4",
    "--learning-starts",
    "16",
    "--batch-size",
    "4",
    "--lstm-hidden",
    "8",
    "--pre-lstm",
    "8",
    "--post-lstm",
    "8",
    "--verbose",
    "0",
    "--no-progress",
]
TRIALS = 5


def _child(argv: list[str], log: str) -> None:  # pragma: no cover (runs in the forked child)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    torch.set_num_threads(1)
    os._exit(main(argv))


def _started(log: Path) -> bool:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "Training DecHDRQN" in text or "Resuming DecHDRQN" in text


def _logged_steps(run: Path) -> int:
    """The last ``time/total_timesteps`` the newest session wrote (0 for none)."""
    files = sorted(
        run.glob("progress*.csv"),
        key=lambda p: int(p.stem.split("_")[1]) if "_" in p.stem else 1,
    )
    if not files:
        return 0
    with open(files[-1], encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    steps = [r.get("time/total_timesteps") or "" for r in rows]
    done = [int(float(s)) for s in steps if s.replace(".", "", 1).isdigit()]
    return max(done, default=0)


def _check_checkpoints(run: Path) -> int:
    """Every checkpoint loads and holds its name's step count; the newest one's steps."""
    found = sorted(
        (run / "checkpoints").glob("*_steps.zip"), key=lambda p: checkpoint_steps(p) or 0
    )
    assert found, "no checkpoint"
    for path in found:
        model = load_model(path, device="cpu")  # ModelFileError for a half-written file
        assert model.num_timesteps == checkpoint_steps(path), path
        assert model.num_timesteps % FREQ == 0  # taken on the interval
    return int(checkpoint_steps(found[-1]) or 0)


def _kill_after_start(
    start: Any, log: Path, delay: float, deadline_s: float = 90.0
) -> tuple[float, bool]:
    """Wait for the session to begin training, sleep ``delay``, SIGKILL it."""
    proc = start()
    t0 = time.monotonic()
    try:
        while not _started(log):
            assert proc_alive(proc), log.read_text(errors="replace")
            assert time.monotonic() - t0 < deadline_s, "the session never started"
            time.sleep(0.02)
        time.sleep(delay)
        was_running = proc_alive(proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        reap(proc)
    return time.monotonic() - t0, was_running


def proc_alive(proc: Any) -> bool:
    if isinstance(proc, subprocess.Popen):
        return proc.poll() is None
    return bool(proc.is_alive())


def reap(proc: Any) -> None:
    if isinstance(proc, subprocess.Popen):
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    else:
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=30)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and fork are POSIX")
def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    rng = np.random.default_rng(2026)
    delays = rng.uniform(0.1, 0.8, size=TRIALS)
    fork = multiprocessing.get_context("fork")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    starts: list[int] = []  # num_timesteps each session started from (run.json)
    expected_starts = [0]
    lost: list[int] = []
    resume = False
    for trial in range(TRIALS):
        log = tmp_path / f"session{trial}.log"
        argv = [*ARGS, "--out", str(run), "--timesteps", "100000000"]
        if resume:
            argv = ["train", "dec-hdrqn", "--out", str(run), "--resume", "--verbose", "0"]
            argv += ["--no-progress"]

        def start(argv: list[str] = argv, log: Path = log, trial: int = trial) -> Any:
            if trial == 0:  # the real command line
                with open(log, "w") as out:
                    cmd = [sys.executable, "-m", "mt_agents.cli", *argv]
                    return subprocess.Popen(cmd, stdout=out, stderr=out, cwd=ROOT, env=env)
            p = fork.Process(target=_child, args=(argv, str(log)))
            p.start()
            return p

        _, was_running = _kill_after_start(start, log, float(delays[trial]))
        assert was_running, log.read_text()  # killed while training, not after an exit
        newest = _check_checkpoint_or_none(run)
        logged = _logged_steps(run)
        if newest is None:  # killed before the run's first checkpoint: start it again
            assert logged < FREQ and not resume
            continue
        # work lost: steps this session logged beyond the checkpoint that survives it
        lost.append(max(0, logged - newest))
        assert logged - newest <= FREQ, (trial, logged, newest)
        # a session never loses the checkpoint it started from
        assert newest >= (expected_starts[-1] if resume else 0)
        if resume:
            expected_starts.append(newest)
        else:
            expected_starts = [0, newest]
        resume = True

    # A killed writer's leftover temporary file (an interrupted atomic write) is never taken
    # for a checkpoint and is removed when the run resumes.
    stale = run / "checkpoints" / ".dec_hdrqn_99999936_steps.zip.x1y2.tmp"
    stale.write_bytes(b"PK\x03\x04 half a checkpoint")
    newest = _check_checkpoints(run)
    assert latest_checkpoint(run) == run / "checkpoints" / f"dec_hdrqn_{newest}_steps.zip"
    final = newest + 2 * FREQ
    argv = ["train", "dec-hdrqn", "--out", str(run), "--resume", "--timesteps", str(final)]
    assert main([*argv, "--verbose", "0", "--no-progress"]) == 0
    assert not stale.exists()
    assert load_model(run / "model.zip", device="cpu").num_timesteps == final
    sessions = json.loads((run / "run.json").read_text())["sessions"]
    starts = [s["start_timesteps"] for s in sessions]
    # every resumed session started exactly where the newest checkpoint before it stood
    assert starts == expected_starts and starts[-1] == newest, (starts, expected_starts)
    assert starts == sorted(starts)
    print(
        f"\n[crash-resume] {TRIALS} SIGKILL trials (delays {np.round(delays, 2).tolist()} s after "
        f"training began), checkpoint every {FREQ} env steps: sessions started at {starts}; "
        f"work lost per kill {lost} env steps (max {max(lost, default=0)}, interval {FREQ})"
    )
    assert len(lost) >= TRIALS - 1


def _check_checkpoint_or_none(run: Path) -> int | None:
    if not list((run / "checkpoints").glob("*_steps.zip")):
        return None
    return _check_checkpoints(run)
