"""MultiDistral V1 and V2 against independent Q-learning on the two-chamber corridor.

Two agents must cross a one-cell corridor to reach their goals, in five tasks (``corridor-5``).
MultiDistral (paper 002) alternates an E-step, in which every (task, agent) pair runs soft
Q-learning guided by a distilled prior ``pi0``, with an M-step that refits ``pi0`` to the
discounted visits of the task policies. Version 1 keeps one ``pi0`` per agent, version 2 one for
both agents. The baseline is Q-learning from scratch on each task, given the same number of
games. The table shows each player's mean return per iteration (150 games per task: 75 E-step
and 75 M-step games), averaged over the tasks.

python examples/multidistral_corridor.py [--iterations 3] [--seed 0] [--task-set corridor-5]

About 20 s with the defaults on two CPU cores; ``--iterations 1 --games 4`` is a smoke run.
"""

from __future__ import annotations

import argparse

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from mt_agents.tabular import MultiDistral, QLearning
from mt_envs import corridor_v0


class _StopAtGames(BaseCallback):
    def __init__(self, games: int) -> None:
        super().__init__()
        self.games = games

    def _on_step(self) -> bool:
        return bool(self.model.group_episodes.min() < self.games)  # type: ignore[attr-defined]


def _per_window(history: list[dict], width: int, n_tasks: int) -> np.ndarray:
    """Mean return per player over each window of ``width`` games per task."""
    seen = np.zeros(n_tasks, dtype=int)
    sums: dict[int, list[np.ndarray]] = {}
    for rec in history:
        t = rec["task_id"]
        sums.setdefault(seen[t] // width, []).append(np.array(rec["returns"]))
        seen[t] += 1
    full = min(seen) // width
    return np.array([np.mean(sums[k], axis=0) for k in range(full)])


def main(
    iterations: int = 3, games: int = 75, seed: int = 0, task_set: str = "corridor-5"
) -> dict[str, np.ndarray]:
    """Train both versions and the baseline; print and return the per-window returns.

    Args:
        iterations: MultiDistral iterations.
        games: Games per task in each E-step and each M-step.
        seed: Seed of every learner.
        task_set: ``corridor-5`` or ``corridor-symmetric``.

    Returns:
        ``{"q_learning" | "v1" | "v2": float [iterations, 2]}`` mean return per player.
    """
    width = 2 * games
    n_tasks = len(corridor_v0.parallel_env(tasks=task_set).task_set)
    out: dict[str, np.ndarray] = {}
    q = QLearning(
        corridor_v0.vector_env(n_tasks, tasks=task_set, sampler="round_robin"),
        per_task=True,
        seed=seed,
    )
    q.learn(10**9, callback=_StopAtGames(iterations * width), log_interval=None)
    out["q_learning"] = _per_window(q.episode_history, width, n_tasks)[:iterations]
    for version in (1, 2):
        model = MultiDistral(
            corridor_v0.parallel_env(tasks=task_set),
            version=version,
            games_per_e_step=games,
            games_per_m_step=games,
            n_iterations=iterations,
            seed=seed,
        )
        model.learn(10**10, log_interval=None)
        out[f"v{version}"] = _per_window(model.episode_history, width, n_tasks)
    print(f"Mean return per player on {task_set}, per window of {width} games per task")
    print("| games | Q-learning P1 / P2 | MultiDistral V1 P1 / P2 | MultiDistral V2 P1 / P2 |")
    print("|---|---|---|---|")
    for i in range(iterations):
        cells = [f"{out[k][i, 0]:6.1f} / {out[k][i, 1]:6.1f}" for k in ("q_learning", "v1", "v2")]
        print(f"| {i * width + 1}-{(i + 1) * width} | " + " | ".join(cells) + " |")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--games", type=int, default=75)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--task-set", default="corridor-5", choices=["corridor-5", "corridor-symmetric"]
    )
    a = parser.parse_args()
    main(a.iterations, a.games, a.seed, a.task_set)
