"""Paper 003's tabular results: DCPG on the 2-task chain and the multi-task GridWorld sets.

What it runs (SPECS.md sections 5-6), all with tabular softmax policies on a ring graph with
lazy Metropolis weights unless said otherwise:

* **chain** (``chain-2``, gamma 0.9): exact-gradient DCPG from the uniform policy and from
  random parameters; the shared policy's value against ``2 gamma / (2 - gamma^2)`` and the
  deterministic ``gamma`` (and independent Q-learning's greedy policy, which ends there);
* **stochastic chain** (``chain-2-stochastic``, p = 0.75): from the uniform policy DCPG stays at
  the non-optimal stationary point ``pi(L|S3) = 0.5``; from random parameters it leaves it;
* **GridWorld** (gamma 0.99): ``gridworld-noconflict-4``, ``gridworld-conflict-4``,
  ``gridworld-unsolvable-4``, ``gridworld-6`` (top-left start, figure 2d) and
  ``gridworld-6-topright`` (figure 2e), with exact gradients (start distribution ``mu`` = the
  tasks' start, uniform over cells, or the mixture ``0.75 start + 0.25 uniform`` with
  ``lambda = 0.001``, the full-support ``mu`` and small regulariser of theorem 2) and with
  Monte-Carlo gradients (one episode per agent and
  env copy per iteration, as the paper). Reported: the objective (eq. 5) of the agents' mean
  policy against the best shared policy (exact, :func:`mt_envs.gridworld.analysis.shared_optimum`)
  and the sum of single-task optima, and which goals the most likely path reaches;
* **graphs**: consensus error and objective per iteration for the ring and the complete graph
  (``gridworld-6-topright``, random initial parameters), plotted to
  ``docs/_static/dcpg_gridworld.png``.

Usage::

    python benchmarks/dcpg_gridworld.py             # about 5 minutes on 2 cores
    python benchmarks/dcpg_gridworld.py --iterations 200 --mc-iterations 100 --no-write
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from _common import cpu_name, write_atomic  # noqa: E402

from mt_agents.dcpg import DCPG  # noqa: E402
from mt_agents.tabular import QLearning  # noqa: E402
from mt_envs import chain_v0, gridworld_v0  # noqa: E402
from mt_envs.gridworld.analysis import (  # noqa: E402
    route_cells,
    shared_optimum,
    single_task_optimum,
    walk_outcomes,
)
from mt_envs.tabular import multitask_objective  # noqa: E402

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
PLOT = ROOT.parent / "docs" / "_static" / "dcpg_gridworld.png"
#: A route of ``gridworld-unsolvable-4`` that reaches only 2 goals (tasks 0 and 3) and never
#: enters the cells where tasks 1 and 2 swap goal and obstacle: it ties with the documented
#: 3-goal route (entering (5, 3) pays task 1 +gamma^t and task 2 -gamma^t), so the objective
#: does not prefer 3 reached goals to 2.
TWO_GOAL_ROUTE = ("gridworld-unsolvable-4", "DDDR DDDDDD RRRRR")

GRID_SETS = (
    "gridworld-noconflict-4",
    "gridworld-conflict-4",
    "gridworld-unsolvable-4",
    "gridworld-6",
    "gridworld-6-topright",
)


def chain_runs(args: argparse.Namespace) -> dict[str, Any]:
    gamma = 0.9
    out: dict[str, Any] = {
        "gamma": gamma,
        "optimum": 2 * gamma / (2 - gamma**2),
        "deterministic": gamma,
    }
    for name in ("chain-2", "chain-2-stochastic"):
        env = chain_v0.parallel_env(tasks=name)
        coin = np.array([[0.5, 0.5], [1, 0], [0.5, 0.5], [1, 0], [0.5, 0.5]])
        left = coin.copy()
        left[2] = [1.0, 0.0]
        rows = []
        for seed, init in [(0, 0.0), (1, 1.0), (2, 1.0), (3, 1.0)]:
            model = DCPG(
                env,
                gamma=gamma,
                learning_rate=20.0,
                learning_rate_power=0.5,
                init_std=init,
                seed=seed,
            )
            model.learn(args.chain_iterations, log_interval=None)
            h = model.iteration_history
            rows.append(
                {
                    "seed": seed,
                    "init_std": init,
                    "pi_left_s3": [float(model.policy_table(i)[2, 0]) for i in range(2)],
                    "objective": h[-1]["objective"],
                    "consensus_error_first": h[0]["consensus_error"],
                    "consensus_error_last": h[-1]["consensus_error"],
                }
            )
        out[name] = {
            "runs": rows,
            "coin_at_s3_value": multitask_objective(env.models, coin, gamma)[0],
            "left_at_s3_value": multitask_objective(env.models, left, gamma)[0],
        }
    env = chain_v0.vector_env(8, tasks="chain-2", mode="sampled")
    q = QLearning(env, gamma=gamma, exploration_decay=0.01, seed=0).learn(8000)
    greedy = q.policy_table(0, greedy=True)
    out["q_learning_greedy_value"] = multitask_objective(q.models, greedy, gamma)[0]
    return out


def greedy_walk(tasks: list[Any], policy: np.ndarray, start: tuple[int, int]) -> list[Any]:
    """The most likely path of a shared policy from ``start`` (stops on a repeated cell)."""
    task = tasks[0]
    cell, walk, seen = tuple(start), [tuple(start)], {tuple(start)}
    for _ in range(100):
        a = int(np.argmax(policy[task.index(cell)]))
        cell = tuple(task.move(cell, a))
        walk.append(cell)
        if cell in seen:
            break
        seen.add(cell)
    return walk


def walk_value(tasks: list[Any], walk: list[Any], gamma: float) -> float:
    """Objective (eq. 5) of a deterministic walk: each task's reward discounted at its end."""
    total = 0.0
    for kind, step in walk_outcomes(tasks, walk):
        if kind != "running":
            total += (1.0 if kind == "goal" else -1.0) * gamma ** (step - 1)
    return total


def grid_case(name: str, config: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    if config["gradient"] == "exact":
        env: Any = gridworld_v0.parallel_env(tasks=name)
    else:
        env = gridworld_v0.vector_env(args.mc_copies, tasks=name)
    model = DCPG(env, seed=0, **config)
    started = time.perf_counter()
    model.learn(10**9, log_interval=None)
    elapsed = time.perf_counter() - started
    tasks = list(model.task_set)
    policy = model.mean_policy()
    start_cell = divmod(int(np.argmax(model.models[0].start)), tasks[0].cols)
    walk = greedy_walk(tasks, policy, start_cell)
    outcomes = walk_outcomes(tasks, walk)
    total, per_task = model.objective()
    return {
        "config": {k: v for k, v in config.items() if k != "n_iterations"},
        "iterations": model.iteration,
        "seconds": round(elapsed, 1),
        "objective": total,
        "task_values": per_task.tolist(),
        "consensus_error": model.iteration_history[-1]["consensus_error"],
        "greedy_outcomes": [o[0] for o in outcomes],
        "goals_reached": sum(o[0] == "goal" for o in outcomes),
    }


def grid_runs(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    configs = {
        "exact, mu = start": {
            "gradient": "exact",
            "learning_rate": 300.0,
            "start": "env",
            "n_iterations": args.iterations,
        },
        "exact, mu = uniform": {
            "gradient": "exact",
            "learning_rate": 300.0,
            "start": "uniform",
            "n_iterations": args.iterations,
        },
        "exact, mu = 0.75 rho + 0.25 uniform, lambda 0.001": {
            "gradient": "exact",
            "learning_rate": 300.0,
            "start": 0.25,
            "lam": 0.001,
            "n_iterations": args.iterations,
        },
        "Monte-Carlo": {
            "gradient": "monte_carlo",
            "learning_rate": args.mc_learning_rate,
            "n_iterations": args.mc_iterations,
        },
    }
    for name in GRID_SETS:
        env = gridworld_v0.parallel_env(tasks=name)
        tasks = list(env.task_set)
        start_cell = divmod(int(np.argmax(env.models[0].start)), tasks[0].cols)
        best, _ = shared_optimum(tasks, start_cell, gamma=0.99)
        single = sum(single_task_optimum(t, start_cell, 0.99) for t in tasks)
        res: dict[str, Any] = {"shared_optimum": best, "sum_single_optima": single, "runs": {}}
        if name == TWO_GOAL_ROUTE[0]:
            walk = route_cells(start_cell, TWO_GOAL_ROUTE[1].replace(" ", ""))
            res["two_goal_route"] = {
                "moves": TWO_GOAL_ROUTE[1],
                "value": walk_value(tasks, walk, 0.99),
                "outcomes": [o[0] for o in walk_outcomes(tasks, walk)],
            }
        for label, config in configs.items():
            res["runs"][label] = grid_case(name, config, args)
            print(f"{name} / {label}: {res['runs'][label]['objective']:.3f}", flush=True)
        out[name] = res
    return out


def graph_runs(args: argparse.Namespace) -> dict[str, Any]:
    env = gridworld_v0.parallel_env(tasks="gridworld-6-topright")
    out: dict[str, Any] = {}
    for graph in ("ring", "complete"):
        model = DCPG(env, graph=graph, learning_rate=5.0, init_std=1.0, seed=0)
        model.learn(args.graph_iterations, log_interval=None)
        out[graph] = {
            "spectral_gap": float(1 - np.linalg.svd(model.weights, compute_uv=False)[1]),
            "consensus_error": [h["consensus_error"] for h in model.iteration_history],
            "objective": [h["objective"] for h in model.iteration_history],
        }
    return out


def plot(graphs: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for graph, style in (("ring", "-"), ("complete", "--")):
        g = graphs[graph]
        x = np.arange(1, len(g["objective"]) + 1)
        ax1.semilogy(x, g["consensus_error"], style, label=f"{graph} (gap {g['spectral_gap']:.2f})")
        ax2.plot(x, g["objective"], style, label=graph)
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("consensus error")
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("objective (eq. 5) of the mean policy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("DCPG on gridworld-6-topright (6 agents, exact gradients)")
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    tmp = PLOT.with_name(f".{PLOT.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, PLOT)
    plt.close(fig)


def markdown(chain: dict[str, Any], grid: dict[str, Any], graphs: dict[str, Any]) -> str:
    g = chain["gamma"]
    lines = [
        "# DCPG on the chain and the multi-task GridWorld (paper 003)",
        "",
        f"## Chain (gamma {g}, exact gradients, ring of 2 agents)",
        "",
        f"Best shared policy `2g/(2-g^2)` = {chain['optimum']:.4f}; any deterministic one <= "
        f"g = {g}; independent Q-learning's greedy policy: "
        f"{chain['q_learning_greedy_value']:.4f}.",
        "",
        "| set | init | pi(L|S3) per agent | objective | consensus error first -> last |",
        "|---|---|---|--:|---|",
    ]
    for name in ("chain-2", "chain-2-stochastic"):
        for r in chain[name]["runs"]:
            init = "uniform" if r["init_std"] == 0 else f"random (seed {r['seed']})"
            pis = ", ".join(f"{p:.3f}" for p in r["pi_left_s3"])
            lines.append(
                f"| {name} | {init} | {pis} | {r['objective']:.4f} | "
                f"{r['consensus_error_first']:.3f} -> {r['consensus_error_last']:.4f} |"
            )
        lines.append(
            f"| {name} | reference | coin at S3: {chain[name]['coin_at_s3_value']:.4f}, "
            f"LEFT at S3: {chain[name]['left_at_s3_value']:.4f} | | |"
        )
    lines += [
        "",
        "## GridWorld (gamma 0.99, ring graph)",
        "",
        "Objective of the agents' mean policy (eq. 5) against the best shared policy and the sum "
        "of single-task optima; goals reached by the most likely path of the learned policy.",
        "",
        "| set | best shared | sum single | run | objective | goals reached | outcomes |",
        "|---|--:|--:|---|--:|--:|---|",
    ]
    for name, res in grid.items():
        for label, run in res["runs"].items():
            lines.append(
                f"| {name} | {res['shared_optimum']:.3f} | {res['sum_single_optima']:.3f} | "
                f"{label} ({run['iterations']} it.) | {run['objective']:.3f} | "
                f"{run['goals_reached']}/{len(run['greedy_outcomes'])} | "
                f"{' '.join(run['greedy_outcomes'])} |"
            )
    for name, res in grid.items():
        tie = res.get("two_goal_route")
        if tie:
            lines += [
                "",
                f"{name}: the route `{tie['moves']}` reaches only 2 goals "
                f"({' '.join(tie['outcomes'])}) and is worth {tie['value']:.3f}, the best shared "
                f"value {res['shared_optimum']:.3f}: the objective ties 2 and 3 reached goals.",
            ]
    lines += ["", "## Ring vs complete graph (gridworld-6-topright, random init)", ""]
    lines += ["| graph | spectral gap | consensus error at it. 1 / 10 / 100 / last | objective |"]
    lines += ["|---|--:|---|--:|"]
    for graph, gr in graphs.items():
        ce = gr["consensus_error"]
        picks = " / ".join(f"{ce[min(k, len(ce)) - 1]:.2e}" for k in (1, 10, 100, len(ce)))
        lines.append(
            f"| {graph} | {gr['spectral_gap']:.3f} | {picks} | {gr['objective'][-1]:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain-iterations", type=int, default=5000)
    parser.add_argument("--iterations", type=int, default=2000, help="exact GridWorld runs")
    parser.add_argument("--mc-iterations", type=int, default=1000, help="Monte-Carlo runs")
    parser.add_argument("--mc-copies", type=int, default=8, help="episodes per agent per it.")
    parser.add_argument("--mc-learning-rate", type=float, default=0.5)
    parser.add_argument("--graph-iterations", type=int, default=1000)
    parser.add_argument("--no-write", action="store_true", help="print, do not write results")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    chain = chain_runs(args)
    print(f"chain done ({time.perf_counter() - started:.0f} s)", flush=True)
    grid = grid_runs(args)
    graphs = graph_runs(args)
    elapsed = time.perf_counter() - started
    payload = {
        "benchmark": "dcpg_gridworld",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_name(), "python": platform.python_version()},
        "settings": vars(args),
        "elapsed_s": round(elapsed, 1),
        "chain": chain,
        "gridworld": grid,
        "graphs": graphs,
    }
    text = markdown(chain, grid, graphs)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        write_atomic(RESULTS / "dcpg_gridworld.json", json.dumps(payload, indent=1) + "\n")
        write_atomic(RESULTS / "dcpg_gridworld.md", text + "\n")
        plot(graphs)
    print(f"elapsed {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
