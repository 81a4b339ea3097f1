"""Timing of the exact tabular solvers (:mod:`mt_envs.tabular.solvers`).

What is measured (single-threaded: OMP / OpenBLAS / MKL pools are set to one thread before numpy
is imported, as in ``env_throughput.py``):

* ``corridor-5``: evaluating one policy on all five tasks (joint Markov models of ~7 * 10^3
  states and 25 joint actions each; ``multitask_objective``, i.e. ``evaluate_policy`` per task and
  the start value), for the uniform joint policy and for a random decentralised policy (one shared
  ``[n_obs, 5]`` agent policy read through each agent's observation index, the MultiDistral
  setting); "cold" is the first evaluation on fresh models (it builds the preconditioner's
  aggregates, cached per model), "warm" a later one. Also the discounted visitation of every task.
  The target (issue 4) is under one second for all five tasks.
* ``gridworld`` (the registered sets when the family is present) and ``chain-2``: the same
  objective, for reference.

Every figure is the median of ``--repeats`` runs, for each discount in ``--gammas``.

Usage::

    python benchmarks/tabular_solver.py              # 5 repeats, gamma 0.9 and 0.99
    python benchmarks/tabular_solver.py --repeats 3 --save   # also write benchmarks/results/
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from mt_envs.chain import ChainEnv  # noqa: E402
from mt_envs.chain.task_sets import chain_2  # noqa: E402
from mt_envs.tabular import (  # noqa: E402
    TabularEnv,
    TabularModel,
    decentralized_policy,
    multitask_objective,
    uniform_policy,
    visitation,
)

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_S = 1.0


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _corridor_env() -> TabularEnv | None:
    try:
        from mt_envs.corridor.env import CorridorEnv
        from mt_envs.corridor.task_sets import corridor_5
    except ImportError:
        return None
    return CorridorEnv(tasks=corridor_5())


def _fresh(models: tuple[TabularModel, ...]) -> list[TabularModel]:
    """Copies of the models (new objects: the solver's per-model cache starts empty)."""
    return [
        TabularModel(
            m.next_state,
            m.prob,
            m.reward,
            m.start,
            m.terminal,
            m.action_shape,
            m.state_names,
            m.transition_reward,
        )
        for m in models
    ]


def _decentralized(env: TabularEnv, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    agent_policy = rng.dirichlet(np.ones(env.n_actions), size=env.n_states)
    return [
        decentralized_policy(env.obs_indices[k], agent_policy, env.tables[k].alive)
        for k in range(len(env.models))
    ]


def bench_env(name: str, env: TabularEnv, gammas: list[float], repeats: int) -> list[dict]:
    rows = []
    models = env.models
    policies = {
        "uniform": [uniform_policy(m) for m in models],
        "decentralised": _decentralized(env, 0),
    }
    for gamma in gammas:
        for label, pols in policies.items():
            cold = _median_time(
                lambda p=pols, g=gamma: multitask_objective(_fresh(models), p, g), repeats
            )
            warm = _median_time(lambda p=pols, g=gamma: multitask_objective(models, p, g), repeats)
            visit = _median_time(
                lambda p=pols, g=gamma: [
                    visitation(m, pi, g) for m, pi in zip(models, p, strict=False)
                ],
                repeats,
            )
            value = multitask_objective(models, pols, gamma)[0]
            rows.append(
                {
                    "set": name,
                    "states": [m.n_states for m in models],
                    "gamma": gamma,
                    "policy": label,
                    "evaluate_cold_s": cold,
                    "evaluate_warm_s": warm,
                    "visitation_s": visit,
                    "objective": value,
                }
            )
            print(
                f"{name:18s} gamma={gamma:<5g} {label:13s} evaluate all tasks: cold {cold:7.3f} s"
                f"  warm {warm:7.3f} s   visitation {visit:7.3f} s   objective {value:10.4f}",
                flush=True,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gammas", type=float, nargs="+", default=[0.9, 0.99])
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/")
    args = parser.parse_args()
    rows: list[dict] = []
    corridor = _corridor_env()
    if corridor is not None:
        rows += bench_env("corridor-5", corridor, args.gammas, args.repeats)
    try:
        from mt_envs.gridworld.env import GridWorldEnv
        from mt_envs.gridworld.task_sets import FACTORIES

        for set_name, factory in FACTORIES.items():
            env = GridWorldEnv(tasks=factory())
            rows += bench_env(set_name, env, args.gammas, args.repeats)
    except ImportError:
        pass
    rows += bench_env("chain-2", ChainEnv(tasks=chain_2()), args.gammas, args.repeats)
    corridor_rows = [r for r in rows if r["set"] == "corridor-5"]
    if corridor_rows:
        worst = max(max(r["evaluate_cold_s"], r["evaluate_warm_s"]) for r in corridor_rows)
        verdict = "PASS" if worst < TARGET_S else "FAIL"
        print(f"corridor-5, all tasks, worst case {worst:.3f} s (target < {TARGET_S} s): {verdict}")
    if args.save:
        RESULTS.mkdir(exist_ok=True)
        meta = {"machine": platform.platform(), "python": platform.python_version()}
        (RESULTS / "tabular_solver.json").write_text(
            json.dumps({"meta": meta, "rows": rows}, indent=2)
        )
        lines = [
            "| task set | gamma | policy | evaluate (cold) | evaluate (warm) | visitation |",
            "|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['set']} | {r['gamma']:g} | {r['policy']} | {r['evaluate_cold_s']:.3f} s "
                f"| {r['evaluate_warm_s']:.3f} s | {r['visitation_s']:.3f} s |"
            )
        (RESULTS / "tabular_solver.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
