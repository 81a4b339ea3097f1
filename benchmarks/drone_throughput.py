"""Throughput of the drone navigation proxy (``drone_nav_v0``) against mpe2's ``simple_spread_v3``,
in one run, on one core.

What is measured (single-threaded, this machine, this process):

* the peer: mpe2 ``simple_spread_v3.parallel_env()`` (N = 3, default arguments, one instance),
  env-steps per second;
* the drone ParallelEnv with one drone, default 8 x 32 rays, over ``drone-4maps`` (a map sampled
  per episode): drone-steps per second;
* the native batched env ``mt_envs.drone_nav_v0.vector_env(B)`` on ``drone-4maps`` for
  ``B`` in 1, 64, 256, 1024 single-drone environments (drone-steps per second), and for
  information 64 environments of 4 drones sharing a map (256 drones), ``obs_type="image"`` at
  ``B = 256``, and ``B = 256`` in the corridor map alone;
* how many times faster than real time one core simulates a drone: drone-steps per second times
  the real duration of one step, assuming the drone cruises at ``SPEED`` m/s (a 0.4 m step then
  takes 0.2 s).

Method: actions are uniform random over the 25 discrete actions, drawn before timing (seed 0) and
cycled; episodes restart inside the timed loop (random flight crashes after about 20 steps, so
resets are part of the cost). Every case is warmed up, then timed ``--repeats`` times for
``--seconds`` each, the cases taking turns (round robin) so load from other processes spreads
over all of them; a figure is the median of its runs. Thread pools are set to one thread before
numpy is imported.

Targets (checked, printed as PASS / FAIL): single-drone ParallelEnv >= 2,000 steps/s; batched at
256 drones >= 20,000 drone-steps/s (stretch 100,000).

Results go to ``benchmarks/results/drone_throughput.json`` and ``.md``.

Usage::

    python benchmarks/drone_throughput.py            # 3 runs of 2 s per case (about a minute)
    python benchmarks/drone_throughput.py --quick    # 3 runs of 0.4 s
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from _common import dist_version, write_atomic  # noqa: E402

from mt_envs import drone_nav_v0  # noqa: E402
from mt_envs.drone import task_sets as drone_sets  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = "drone-4maps"
BATCH_SIZES = (1, 64, 256, 1024)
TARGET_PARALLEL = 2_000.0
TARGET_BATCHED = 20_000.0
STRETCH_BATCHED = 100_000.0
#: Assumed cruise speed (m/s): one 0.4 m step is 0.2 s of real flight.
SPEED = 2.0
STEP_LENGTH = 0.4
N_ACTION_SETS = 1024
N_BATCH_ACTION_SETS = 8


@dataclasses.dataclass
class Case:
    """A timed loop: ``build()`` returns ``run(k)`` doing ``k`` steps and returning drone-steps
    (or env-steps for the peer)."""

    key: str
    label: str
    build: Callable[[], Callable[[int], float]]
    drones: int = 1
    run: Callable[[int], float] | None = None
    rates: list[float] = dataclasses.field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)


def parallel_loop(env: Any, n_actions: int = 25, per_agent: bool = True) -> Callable[[int], float]:
    """``k`` ParallelEnv steps with prebuilt action dicts (live agents only); reset at the end.

    Returns agent-steps (drone-steps) with ``per_agent``, else env-steps (the peer's unit).
    """
    rng = np.random.default_rng(0)
    names = env.possible_agents
    acts = rng.integers(0, n_actions, (N_ACTION_SETS, len(names))).tolist()
    dicts = [dict(zip(names, a, strict=True)) for a in acts]
    env.reset(seed=0)
    state = {"i": 0}

    def run(k: int) -> float:
        i, done = state["i"], 0
        for _ in range(k):
            live = env.agents
            if len(live) == len(names):
                env.step(dicts[i])
            else:
                env.step({a: dicts[i][a] for a in live})
            done += len(live) if per_agent else 1
            i = (i + 1) % N_ACTION_SETS
            if not env.agents:
                env.reset()
        state["i"] = i
        return float(done)

    return run


def batched_loop(venv: Any) -> Callable[[int], float]:
    """``k`` batched steps with pre-generated actions; counts every drone slot as a step."""
    rng = np.random.default_rng(0)
    acts = rng.integers(0, 25, (N_BATCH_ACTION_SETS, venv.num_envs, venv.num_agents))
    venv.reset(seed=0)
    state: dict[str, Any] = {"i": 0, "out": None}

    def run(k: int) -> float:
        i, out = state["i"], state["out"]
        for _ in range(k):
            out = venv.step(acts[i])  # results kept alive until the next step, as in training
            i = (i + 1) % N_BATCH_ACTION_SETS
        state["i"], state["out"] = i, out
        return float(k * venv.num_envs * venv.num_agents)

    return run


def batched_vector(batch: int, **kwargs: Any) -> Callable[[int], float]:
    """The batched loop over ``vector_env(batch, tasks=TASKS, **kwargs)``."""
    return batched_loop(drone_nav_v0.vector_env(batch, tasks=TASKS, **kwargs))


def make_cases(with_peer: bool) -> list[Case]:
    cases: list[Case] = []
    if with_peer:
        from mpe2 import simple_spread_v3

        cases.append(
            Case(
                "peer",
                "mpe2 simple_spread_v3 N=3, parallel_env (peer), env-steps/s",
                lambda: parallel_loop(simple_spread_v3.parallel_env(), 5, per_agent=False),
            )
        )
    cases.append(
        Case(
            "parallel",
            f"drone_nav_v0 ParallelEnv, 1 drone, 8x32 rays, {TASKS}",
            lambda: parallel_loop(drone_nav_v0.parallel_env(tasks=TASKS)),
        )
    )
    for b in BATCH_SIZES:
        cases.append(
            Case(
                f"batched_{b}",
                f"drone_nav_v0 vector_env B={b}, 1 drone each, {TASKS}",
                functools.partial(batched_vector, b),
                drones=b,
            )
        )
    cases += [
        Case(
            "batched_64x4",
            f"vector_env B=64, 4 drones sharing a map (256 drones), {TASKS}",
            lambda: batched_loop(drone_nav_v0.vector_env(64, tasks=TASKS, n_drones=4)),
            drones=256,
        ),
        Case(
            "batched_256_image",
            f"vector_env B=256, obs_type='image', {TASKS}",
            lambda: batched_loop(drone_nav_v0.vector_env(256, tasks=TASKS, obs_type="image")),
            drones=256,
        ),
        Case(
            "batched_256_corridor",
            "vector_env B=256, corridor map only",
            lambda: batched_loop(drone_nav_v0.vector_env(256, tasks="drone-corridor")),
            drones=256,
        ),
    ]
    return cases


def time_case(case: Case, seconds: float) -> float:
    assert case.run is not None
    k, elapsed, work = 1, 0.0, 0.0
    while elapsed < seconds:
        t0 = time.perf_counter()
        work += case.run(k)
        elapsed += time.perf_counter() - t0
        k = min(k * 2, 4096)
    return work / elapsed


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "pettingzoo": dist_version("pettingzoo"),
        "mpe2": dist_version("mpe2"),
        "mt-envs": dist_version("mt-envs"),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case")
    parser.add_argument("--quick", action="store_true", help="0.4 s per run")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    seconds = 0.4 if args.quick else args.seconds
    drone_sets.register_all()
    try:
        import mpe2  # noqa: F401

        with_peer = True
    except ImportError:
        with_peer = False
        print('mpe2 is not installed: the peer is not measured (pip install "mt-envs[mpe]")')
    cases = make_cases(with_peer)
    for case in cases:
        case.run = case.build()
        time_case(case, min(seconds, 0.3))  # warm-up
    for _ in range(args.repeats):
        for case in cases:
            case.rates.append(time_case(case, seconds))
    by_key = {c.key: c for c in cases}
    peer = by_key["peer"].rate if with_peer else None
    step_seconds = STEP_LENGTH / SPEED
    rows = []
    for c in cases:
        row = {
            "key": c.key,
            "label": c.label,
            "drones": c.drones,
            "rate": c.rate,
            "runs": c.rates,
            "vs_peer": (c.rate / peer) if peer and c.key != "peer" else None,
            "real_time_factor": None if c.key == "peer" else c.rate * step_seconds,
        }
        rows.append(row)
        ratio = f"  {row['vs_peer']:.1f}x peer" if row["vs_peer"] else ""
        rt = f"  {row['real_time_factor']:,.0f}x real time" if row["real_time_factor"] else ""
        print(f"{c.rate:12,.0f} /s  {c.label}{ratio}{rt}")
    par = by_key["parallel"].rate
    bat = by_key["batched_256"].rate
    checks = {
        "parallel >= 2k steps/s": par >= TARGET_PARALLEL,
        "batched 256 >= 20k drone-steps/s": bat >= TARGET_BATCHED,
        "batched 256 >= 100k drone-steps/s (stretch)": bat >= STRETCH_BATCHED,
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "method": {
            "seconds": seconds,
            "repeats": args.repeats,
            "tasks": TASKS,
            "actions": "uniform random over Discrete(25), pre-generated (seed 0)",
            "real_time": f"one 0.4 m step = {step_seconds} s of flight at {SPEED} m/s",
        },
        "cases": rows,
        "checks": checks,
    }
    if not args.no_write:
        write_atomic(RESULTS / "drone_throughput.json", json.dumps(result, indent=2) + "\n")
        write_atomic(RESULTS / "drone_throughput.md", markdown(result))
    return result


def markdown(result: dict[str, Any]) -> str:
    m = result["method"]
    lines = [
        "| case | steps/s | vs mpe2 peer | x real time |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in result["cases"]:
        vs = f"{r['vs_peer']:.1f}x" if r["vs_peer"] else "—"
        rt = f"{r['real_time_factor']:,.0f}x" if r["real_time_factor"] else "—"
        lines.append(f"| {r['label']} | {r['rate']:,.0f} | {vs} | {rt} |")
    lines += [
        "",
        f"One core, {result['machine']['processor']}, numpy {result['machine']['numpy']}; "
        f"median of {m['repeats']} runs of {m['seconds']} s; {m['actions']}; drone figures are "
        f"drone-steps/s (the peer's env-steps/s); real time: {m['real_time']}. "
        f"Made by `benchmarks/drone_throughput.py` on {result['date'][:10]}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
