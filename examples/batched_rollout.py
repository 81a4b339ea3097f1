"""Roll out 1024 MAMT environments at once with the batched API and report per-task statistics.

python examples/batched_rollout.py [--num-envs 1024] [--steps 500]
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

import mt_envs
from mt_envs.capture import GreedyPolicy


def main(num_envs: int = 1024, steps: int = 500) -> dict[str, dict[str, float]]:
    venv = mt_envs.make_vec("mamt_v0", num_envs=num_envs, tasks="mamt-2a-3to6", seed=0)
    policy = GreedyPolicy.for_env(venv)
    obs, info = venv.reset()
    start = np.ones(num_envs, dtype=bool)
    returns: dict[int, list[float]] = defaultdict(list)
    lengths: dict[int, list[int]] = defaultdict(list)
    for _ in range(steps):
        actions = policy.act(obs, info["task_id"], episode_start=start)
        obs, _, _, _, info = venv.step(actions)
        ep = info["episode"]
        for b in np.flatnonzero(ep["mask"]):
            returns[int(ep["task_id"][b])].append(float(ep["r"][b, 0]))
            lengths[int(ep["task_id"][b])].append(int(ep["l"][b]))
        start = info["_final"]
    assert venv.task_set is not None
    table = {}
    width = max(len(t.name) for t in venv.task_set)
    for task_id in sorted(returns):
        name = venv.task_set[task_id].name
        table[name] = {
            "episodes": len(returns[task_id]),
            "capture_rate": float(np.mean(returns[task_id])),
            "mean_length": float(np.mean(lengths[task_id])),
        }
        row = table[name]
        print(
            f"{name:<{width}}  episodes {row['episodes']:>6}"
            f"  capture rate {row['capture_rate']:.2f}  length {row['mean_length']:.1f}"
        )
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    main(args.num_envs, args.steps)
