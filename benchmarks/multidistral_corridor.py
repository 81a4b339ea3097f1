"""Paper 002's corridor results: independent Q-learning against MultiDistral V1 and V2.

What it runs (SPECS.md sections 3-4):

* the Q-learning baseline (lr 0.2, gamma 0.9, epsilon 0.01 + 0.99 exp(-0.001 episode), one
  table per task and agent, "from scratch on each task") on ``corridor-5`` until every task has
  had ``--games`` games, ``--q-runs`` independent runs;
* MultiDistral V1 and V2 (alpha 0.7, beta 0.5, lr 0.1, gamma 0.99, 75 E-step + 75 M-step games
  per task and iteration, 10 iterations) on ``corridor-5`` and ``corridor-symmetric``,
  ``--md-runs`` runs each.

Every game's per-player return is recorded. The table compares, per window of 150 games per
task (one MultiDistral iteration), each player's mean return averaged over the tasks and runs;
the paper's claim is that both versions are above Q-learning after the first iteration.

Usage::

    python benchmarks/multidistral_corridor.py                 # full (about 15 min on 2 cores)
    python benchmarks/multidistral_corridor.py --q-runs 2 --md-runs 1 --iterations 2 --no-write

Results: ``benchmarks/results/multidistral_corridor.json`` and ``.md``, and the plot
``docs/_static/multidistral_corridor.png``.
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
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402

from mt_agents.tabular import MultiDistral, QLearning  # noqa: E402
from mt_envs import corridor_v0  # noqa: E402

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
PLOT = ROOT.parent / "docs" / "_static" / "multidistral_corridor.png"
SETS = ("corridor-5", "corridor-symmetric")
#: Result keys, in table order: Q-learning, MultiDistral from zero tables, from neutral tables.
VARIANTS = ("q_learning", "v1", "v2", "v1_neutral", "v2_neutral")


class StopAtGames(BaseCallback):
    """Stop Q-learning once every task's table has played ``games`` games."""

    def __init__(self, games: int) -> None:
        super().__init__()
        self.games = games

    def _on_step(self) -> bool:
        model: Any = self.model
        return bool(model.group_episodes.min() < self.games)


def per_game_returns(history: list[dict[str, Any]], n_tasks: int, games: int) -> np.ndarray:
    """``[T, games, 2]`` returns of each task's first ``games`` games, per player."""
    out = np.full((n_tasks, games, 2), np.nan)
    count = np.zeros(n_tasks, dtype=int)
    for rec in history:
        t = rec["task_id"]
        if count[t] < games:
            out[t, count[t]] = rec["returns"]
            count[t] += 1
    return out


def run_q(task_set: str, seed: int, games: int) -> np.ndarray:
    env = corridor_v0.vector_env(10, tasks=task_set, sampler="round_robin")
    model = QLearning(env, per_task=True, seed=seed)
    model.learn(10**9, callback=StopAtGames(games), log_interval=None)
    return per_game_returns(model.episode_history, len(env.task_set), games)


def run_md(
    task_set: str, version: int, seed: int, iterations: int, q_init: float | str = 0.0
) -> np.ndarray:
    env = corridor_v0.parallel_env(tasks=task_set)
    model = MultiDistral(env, version=version, n_iterations=iterations, seed=seed, q_init=q_init)
    model.learn(10**10, log_interval=None)
    games = iterations * (model.games_per_e_step + model.games_per_m_step)
    return per_game_returns(model.episode_history, len(env.task_set), games)


def windows(curves: np.ndarray, width: int) -> np.ndarray:
    """``[runs, T, G, 2]`` -> ``[G // width, 2]`` mean per window, over runs and tasks."""
    r, t, g, p = curves.shape
    k = g // width
    return np.nanmean(curves[:, :, : k * width].reshape(r, t, k, width, p), axis=(0, 1, 3))


def plot(results: dict[str, Any], width: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SETS), figsize=(11, 4), sharey=True)
    for ax, name in zip(axes, SETS, strict=True):
        res = results[name]
        for label, style in (
            ("q_learning", "-"),
            ("v1", "--"),
            ("v2", ":"),
            ("v1_neutral", "-."),
            ("v2_neutral", (0, (1, 3))),
        ):
            if label not in res:
                continue
            w = np.array(res[label]["windows"])
            x = (np.arange(len(w)) + 1) * width
            for p, color in ((0, "tab:green"), (1, "tab:red")):
                ax.plot(
                    x,
                    w[:, p],
                    linestyle=style,
                    color=color,
                    marker="o",
                    ms=3,
                    label=f"{label} P{p + 1}",
                )
        ax.set_title(name)
        ax.set_xlabel(f"games per task (mean of each window of {width})")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("return per player (mean over tasks and runs)")
    axes[-1].legend(fontsize=7, ncol=3)
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    tmp = PLOT.with_name(f".{PLOT.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, PLOT)
    plt.close(fig)


def markdown(results: dict[str, Any], args: argparse.Namespace, width: int) -> str:
    lines = [
        "# MultiDistral vs Q-learning on the corridor (paper 002)",
        "",
        f"Per player (P1 = agent_0, P2 = agent_1) mean undiscounted return over the games of each "
        f"window of {width} games per task (one MultiDistral iteration: 75 E-step + 75 M-step "
        f"games), averaged over the tasks and over runs (Q-learning {args.q_runs} runs, "
        f"MultiDistral {args.md_runs} runs per version). V1 / V2: soft Q-tables start at 0 "
        f"(the paper's reference code); V1n / V2n: they start at the neutral soft value "
        f"`q_init='neutral'` = ((1 - alpha) / beta) log 5 / (1 - gamma) = 96.6 "
        f"({args.neutral_runs} runs per version).",
        "",
    ]
    for name in SETS:
        res = results[name]
        lines += [
            f"## {name}",
            "",
            "| games per task | Q P1 | Q P2 | V1 P1 | V1 P2 | V2 P1 | V2 P2 "
            "| V1n P1 | V1n P2 | V2n P1 | V2n P2 |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        n = max(len(res[k]["windows"]) for k in VARIANTS if k in res)
        for i in range(n):
            cells = [f"{i * width + 1}-{(i + 1) * width}"]
            for key in VARIANTS:
                w = res.get(key, {}).get("windows", [])
                cells += [f"{w[i][p]:.1f}" if i < len(w) else "" for p in (0, 1)]
            lines.append("| " + " | ".join(cells) + " |")
        first = res.get("first_window_vs_q")
        if first:
            lines += ["", f"First window, MultiDistral minus Q-learning per player: {first}"]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--q-runs", type=int, default=20, help="Q-learning runs (default 20)")
    parser.add_argument("--md-runs", type=int, default=5, help="runs per MultiDistral version")
    parser.add_argument("--iterations", type=int, default=10, help="MultiDistral iterations")
    parser.add_argument(
        "--neutral-runs", type=int, default=3, help="runs per version with q_init='neutral'"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="take the Q-learning, V1 and V2 curves from the last results file (same settings) "
        "and run only the q_init='neutral' variants",
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not write results")
    args = parser.parse_args(argv)
    width = 150
    previous: dict[str, Any] = {}
    if args.reuse:
        old = json.loads((RESULTS / "multidistral_corridor.json").read_text())
        same = ("q_runs", "md_runs", "iterations")
        if any(old["settings"][k] != getattr(args, k) for k in same):
            raise SystemExit(
                f"--reuse needs the same {same} as the results file ({old['settings']})"
            )
        previous = old["results"]
    games = args.iterations * width
    started = time.perf_counter()
    results: dict[str, Any] = {}
    for name in SETS:
        res: dict[str, Any] = {k: previous[name][k] for k in VARIANTS[:3] if previous}
        if "q_learning" not in res:
            q = np.stack([run_q(name, seed, games) for seed in range(args.q_runs)])
            res["q_learning"] = {"windows": windows(q, width).tolist(), "runs": args.q_runs}
            print(f"{name} Q-learning done ({time.perf_counter() - started:.0f} s)", flush=True)
        for version in (1, 2):
            for key, q_init, runs in (
                (f"v{version}", 0.0, args.md_runs),
                (f"v{version}_neutral", "neutral", args.neutral_runs),
            ):
                if key in res:
                    continue
                md = np.stack(
                    [run_md(name, version, seed, args.iterations, q_init) for seed in range(runs)]
                )
                res[key] = {"windows": windows(md, width).tolist(), "runs": runs}
                print(f"{name} {key} done ({time.perf_counter() - started:.0f} s)", flush=True)
        qw = np.array(res["q_learning"]["windows"])
        res["first_window_vs_q"] = {
            key: [round(float(x), 2) for x in np.array(res[key]["windows"])[0] - qw[0]]
            for key in VARIANTS[1:]
        }
        results[name] = res
    elapsed = time.perf_counter() - started
    payload = {
        "benchmark": "multidistral_corridor",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_name(), "python": platform.python_version()},
        "settings": vars(args),
        "elapsed_s": round(elapsed, 1),
        "results": results,
    }
    text = markdown(results, args, width)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        write_atomic(RESULTS / "multidistral_corridor.json", json.dumps(payload, indent=1) + "\n")
        write_atomic(RESULTS / "multidistral_corridor.md", text + "\n")
        plot(results, width)
    print(f"elapsed {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
