"""Overhead of the wrapper stack (MultiTaskEnv + padding + indicators), in one run.

What is measured (this machine, this process, single-threaded), as the time of one ParallelEnv
step including the episode resets that fall inside the timed loop:

* **capture**: the bare ``mamt_v0`` ParallelEnv over ``mamt-2a-3to6`` (2 agents, 4 tasks; the
  peer), then ``MultiTaskEnv.from_task_set`` without and with ``pad=True`` (one slot per task, one
  shared env), then the whole stack ``TaskIndicator(AgentIndicator(MultiTaskEnv(..., pad=True)))``
  (target: <= 1.5x the peer). For information, the same two through
  :class:`mt_envs.vector.SyncVectorEnv` with 8 copies (what a learner steps).
* **mpe**: the three mpe2 games of the MPE group (``simple_speaker_listener_v4``,
  ``simple_push_v3``, ``simple_adversary_v3``, ``max_cycles=25``) stepped raw, one game drawn per
  episode (the peer), then the same three games as slots of the stack with ``pad=True``
  (target: <= 1.3x). For information, the MPE group of :mod:`wrappers.groups`
  (``make_group_env("mpe-mkt")`` with both indicators) when it is importable: it controls the good
  teams only and runs the scripted adversaries inside, so it does other work than the raw games.

Method: actions are drawn before timing (numpy ``Generator``, seed 0) and cycled; each step
builds its action dict from the live agents the same way in every case. Every case is warmed up,
then timed ``--repeats`` times for ``--seconds`` each, the cases taking turns so that load from
other processes spreads over all of them. Time is the CPU time of this process
(``time.process_time``): other jobs on a shared 2-core machine inflate wall-clock time unevenly,
CPU time much less. A figure is the median of its runs; ratios are against the peer of the same
run. The results go to ``benchmarks/results/wrapper_overhead.json`` and ``.md``.

Usage::

    python benchmarks/wrapper_overhead.py            # 5 runs of 2 s per case (about 2 minutes)
    python benchmarks/wrapper_overhead.py --quick    # 3 runs of 0.3 s
"""

from __future__ import annotations

import os

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
for _var in THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import importlib.metadata  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from _common import cpu_name, dist_version, write_atomic  # noqa: E402

import mt_envs  # noqa: E402
from mt_envs.vector import SyncVectorEnv  # noqa: E402
from wrappers import AgentIndicator, MultiTaskEnv, TaskIndicator  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
N_ACTION_ROWS = 4096
TASKS = "mamt-2a-3to6"
MPE_GAMES = ("simple_speaker_listener_v4", "simple_push_v3", "simple_adversary_v3")
TARGETS = {"capture": 1.5, "mpe": 1.3}


@dataclass
class Case:
    """One timed loop: ``run(seconds) -> (steps, cpu seconds)``."""

    group: str
    name: str
    run: Callable[[float], tuple[int, float]]
    peer: bool = False
    target: float | None = None
    runs_us: list[float] = field(default_factory=list)

    @property
    def median_us(self) -> float:
        return statistics.median(self.runs_us)


def _action_rows(seed: int = 0, high: int = 3) -> list[list[int]]:
    # Values valid for every agent of every env measured (the smallest action space is 3).
    rng = np.random.default_rng(seed)
    return rng.integers(0, high, size=(N_ACTION_ROWS, 4)).tolist()


def parallel_loop(env: Any, rows: list[list[int]]) -> Callable[[float], tuple[int, float]]:
    """Step one ParallelEnv with cycled actions; reset when its episode ends."""
    env.reset(seed=0)

    def run(seconds: float) -> tuple[int, float]:
        steps, k, n_rows = 0, 0, len(rows)
        start = time.process_time()
        deadline = start + seconds
        while True:
            for _ in range(256):
                if not env.agents:
                    env.reset()
                env.step(dict(zip(env.agents, rows[k], strict=False)))
                k = k + 1 if k + 1 < n_rows else 0
            steps += 256
            now = time.process_time()
            if now >= deadline:
                return steps, now - start

    return run


def raw_games_loop(envs: list[Any], rows: list[list[int]]) -> Callable[[float], tuple[int, float]]:
    """Step raw envs, one drawn uniformly per episode (the peer of a MultiTaskEnv)."""
    rng = np.random.default_rng(0)
    state = {"env": envs[0]}
    for e in envs:
        e.reset(seed=0)

    def run(seconds: float) -> tuple[int, float]:
        steps, k, n_rows = 0, 0, len(rows)
        env = state["env"]
        start = time.process_time()
        deadline = start + seconds
        while True:
            for _ in range(256):
                if not env.agents:
                    env = envs[int(rng.integers(len(envs)))]
                    env.reset()
                env.step(dict(zip(env.agents, rows[k], strict=False)))
                k = k + 1 if k + 1 < n_rows else 0
            steps += 256
            now = time.process_time()
            if now >= deadline:
                state["env"] = env
                return steps, now - start

    return run


def vector_loop(venv: SyncVectorEnv) -> Callable[[float], tuple[int, float]]:
    """Step a SyncVectorEnv with cycled legal actions (last action: legal for every agent)."""
    venv.reset(seed=0)
    acts = np.full((venv.num_envs, venv.num_agents), 2, dtype=np.int64)

    def run(seconds: float) -> tuple[int, float]:
        steps = 0
        start = time.process_time()
        deadline = start + seconds
        while True:
            for _ in range(32):
                venv.step(acts)
            steps += 32 * venv.num_envs
            now = time.process_time()
            if now >= deadline:
                return steps, now - start

    return run


def capture_stack(pad: bool = True, indicators: bool = True) -> Any:
    env: Any = MultiTaskEnv.from_task_set("mamt_v0", TASKS, pad=pad)
    if indicators:
        env = TaskIndicator(AgentIndicator(env))
    return env


def mpe_games() -> list[Any]:
    import importlib

    return [importlib.import_module(f"mpe2.{g}").parallel_env(max_cycles=25) for g in MPE_GAMES]


def cases() -> list[Case]:
    rows = _action_rows()
    out = [
        Case(
            "capture",
            f"mamt_v0 ParallelEnv, {TASKS} (peer)",
            parallel_loop(mt_envs.make("mamt_v0", tasks=TASKS), rows),
            peer=True,
        ),
        Case(
            "capture",
            "MultiTaskEnv.from_task_set",
            parallel_loop(capture_stack(pad=False, indicators=False), rows),
        ),
        Case(
            "capture",
            "MultiTaskEnv.from_task_set(pad=True)",
            parallel_loop(capture_stack(indicators=False), rows),
        ),
        Case(
            "capture",
            "stack: TaskIndicator(AgentIndicator(MultiTaskEnv(pad=True)))",
            parallel_loop(capture_stack(), rows),
            target=TARGETS["capture"],
        ),
        Case(
            "capture-vector",
            "SyncVectorEnv(mamt_v0, 8) (peer)",
            vector_loop(SyncVectorEnv(lambda: mt_envs.make("mamt_v0", tasks=TASKS), 8)),
            peer=True,
        ),
        Case(
            "capture-vector",
            "SyncVectorEnv(stack, 8)",
            vector_loop(SyncVectorEnv(capture_stack, 8)),
        ),
    ]
    if importlib.util.find_spec("mpe2") is None:
        return out
    out += [
        Case(
            "mpe",
            "raw mpe2 games, one per episode (peer)",
            raw_games_loop(mpe_games(), rows),
            peer=True,
        ),
        Case(
            "mpe",
            "stack over the raw games: TaskIndicator(AgentIndicator(MultiTaskEnv(pad=True)))",
            parallel_loop(TaskIndicator(AgentIndicator(MultiTaskEnv(mpe_games(), pad=True))), rows),
            target=TARGETS["mpe"],
        ),
    ]
    try:
        from wrappers.groups import make_group_env
    except ImportError:
        return out
    group = make_group_env("mpe-mkt", agent_indicator=True, task_indicator=True)
    out.append(
        Case(
            "mpe",
            "MPE group make_group_env('mpe-mkt') + indicators (info: scripted adversaries inside)",
            parallel_loop(group, rows),
        )
    )
    return out


def measure(all_cases: list[Case], repeats: int, seconds: float) -> None:
    for case in all_cases:  # warm-up
        case.run(min(0.2, seconds))
    for _ in range(repeats):
        for case in all_cases:
            steps, cpu = case.run(seconds)
            case.runs_us.append(cpu / steps * 1e6)


def machine() -> dict[str, Any]:
    cpu = cpu_name()
    dists = ("numpy", "pettingzoo", "gymnasium", "supersuit", "mpe2")
    versions = {dist: dist_version(dist) for dist in dists}
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "date": datetime.date.today().isoformat(),
    }


def results(all_cases: list[Case], args: argparse.Namespace) -> dict[str, Any]:
    peers = {c.group: c for c in all_cases if c.peer}
    rows = []
    for c in all_cases:
        ratio = c.median_us / peers[c.group].median_us
        rows.append(
            {
                "group": c.group,
                "case": c.name,
                "median_us_per_step": round(c.median_us, 3),
                "runs_us_per_step": [round(r, 3) for r in c.runs_us],
                "ratio_vs_peer": round(ratio, 3),
                "target": c.target,
                "pass": None if c.target is None else bool(ratio <= c.target),
            }
        )
    return {
        "benchmark": "wrapper_overhead",
        "machine": machine(),
        "method": {
            "repeats": args.repeats,
            "seconds_per_run": args.seconds,
            "clock": "time.process_time (CPU time of this process)",
            "figure": "median of runs; ratios against the peer of the same group and run",
            "vector_units": "per env-step (one copy stepping once)",
        },
        "cases": rows,
    }


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        "## Wrapper overhead",
        "",
        f"{m['cpu']}, {m['cores']} cores, one thread; Python {m['python']}, numpy "
        f"{m['versions']['numpy']}, pettingzoo {m['versions']['pettingzoo']}, mpe2 "
        f"{m['versions']['mpe2']}; {m['date']}. Median of {res['method']['repeats']} runs of "
        f"{res['method']['seconds_per_run']} s of CPU time per case, cases taking turns; resets "
        "inside the timed loop; ratios against the peer measured in the same run "
        "(`python benchmarks/wrapper_overhead.py`).",
        "",
        "| group | case | us / step | vs peer | target |",
        "|---|---|--:|--:|---|",
    ]
    for row in res["cases"]:
        target = ""
        if row["target"] is not None:
            target = f"<= {row['target']}x: {'PASS' if row['pass'] else 'FAIL'}"
        lines.append(
            f"| {row['group']} | {row['case']} | {row['median_us_per_step']:.2f} | "
            f"{row['ratio_vs_peer']:.2f}x | {target} |"
        )
    lines += [
        "",
        "`capture-vector` times are per env-step (8 copies stepping once count 8).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case")
    parser.add_argument("--seconds", type=float, default=2.0, help="CPU seconds per run")
    parser.add_argument("--quick", action="store_true", help="3 runs of 0.3 s")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.seconds = 3, 0.3
    warnings.filterwarnings("ignore", category=UserWarning)
    all_cases = cases()
    measure(all_cases, args.repeats, args.seconds)
    res = results(all_cases, args)
    text = markdown(res)
    print(text)
    if not args.no_write:
        write_atomic(RESULTS / "wrapper_overhead.json", json.dumps(res, indent=2) + "\n")
        write_atomic(RESULTS / "wrapper_overhead.md", text)
    failed = [r["case"] for r in res["cases"] if r["pass"] is False]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
