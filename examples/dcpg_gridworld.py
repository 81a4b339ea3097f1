"""DCPG: four agents in four GridWorlds agree on one policy by exchanging parameters on a ring.

Agent ``i`` plays task ``i`` of ``gridworld-conflict-4`` (one task's obstacle is another's goal,
yet one route reaches every goal). Every iteration each agent averages its softmax parameters
with its two ring neighbours (lazy Metropolis weights: 1/2 its own, 1/4 each neighbour) and takes
a step along the exact gradient of its own task's value (paper 003, algorithm 1 and equation 8).
The script prints the objective of the agents' mean policy (the sum of the four task values)
against the best shared policy, the consensus error, and the path the shared policy mostly
follows, drawn on the grid of each task.

python examples/dcpg_gridworld.py [--iterations 600] [--graph ring] [--start uniform]

About 10 s with the defaults on two CPU cores; ``--iterations 5`` is a smoke run.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from mt_agents.dcpg import DCPG
from mt_envs import gridworld_v0
from mt_envs.gridworld.analysis import shared_optimum


def main(
    iterations: int = 600,
    graph: str = "ring",
    start: str = "uniform",
    tasks: str = "gridworld-conflict-4",
    seed: int = 0,
) -> DCPG:
    """Run DCPG with exact gradients and print what the agents agreed on.

    Args:
        iterations: Iterations of algorithm 1.
        graph: ``ring``, ``complete``, ``star`` or ``random``.
        start: Start distribution of the gradients: ``uniform`` (every cell) or ``env``.
        tasks: A GridWorld task set (one agent per task).
        seed: Seed.

    Returns:
        The trained model.
    """
    env = gridworld_v0.parallel_env(tasks=tasks)
    model = DCPG(env, graph=graph, learning_rate=300.0, start=start, seed=seed)  # type: ignore[arg-type]
    model.learn(iterations, log_interval=None)
    task_list: list[Any] = list(env.task_set)  # GridWorldTask
    start_cell = divmod(int(np.argmax(env.models[0].start)), task_list[0].cols)
    best, _ = shared_optimum(task_list, start_cell, gamma=model.gamma)
    total, per_task = model.objective()
    last = model.iteration_history[-1]
    print(f"{tasks}, {graph} graph, {iterations} iterations")
    print(f"objective of the mean policy {total:.3f} (best shared policy {best:.3f})")
    print("task values", np.round(per_task, 3), f"consensus error {last['consensus_error']:.2e}")
    policy = model.mean_policy()
    cell, path = start_cell, [start_cell]
    for _ in range(60):  # the most likely path, until it repeats a cell
        cell = task_list[0].move(cell, int(np.argmax(policy[task_list[0].index(cell)])))
        if cell in path:
            break
        path.append(cell)
    for i, task in enumerate(task_list):
        rows = []
        for r in range(task.rows):
            line = ""
            for c in range(task.cols):
                line += (
                    "G"
                    if (r, c) == task.goal
                    else "X"
                    if (r, c) in task.obstacles
                    else "*"
                    if (r, c) in path
                    else "."
                )
            rows.append(line)
        print(f"task {i}:\n" + "\n".join(rows))
    return model


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=600)
    parser.add_argument("--graph", default="ring", choices=["ring", "complete", "star", "random"])
    parser.add_argument("--start", default="uniform", choices=["uniform", "env"])
    parser.add_argument("--tasks", default="gridworld-conflict-4")
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    main(a.iterations, a.graph, a.start, a.tasks, a.seed)
