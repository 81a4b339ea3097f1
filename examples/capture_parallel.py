"""Play MAMT with the greedy chaser and with random actions, one episode per task.

python examples/capture_parallel.py [--episodes 20]
"""

from __future__ import annotations

import argparse

import numpy as np

from mt_envs import mamt_v0
from mt_envs.capture import GreedyPolicy


def main(episodes: int = 20) -> dict[str, list[float]]:
    env = mamt_v0.parallel_env(tasks="mamt-2a-3to6")
    greedy = GreedyPolicy.for_env(env)
    rng = np.random.default_rng(0)
    captures: dict[str, list[float]] = {"greedy": [], "random": []}
    for name in captures:
        for task_id in range(len(env.task_set)):
            for ep in range(episodes):
                obs, infos = env.reset(seed=1000 * task_id + ep, options={"task": task_id})
                greedy.reset()
                captured = False
                while env.agents:
                    if name == "greedy":
                        actions = greedy(obs, infos)
                    else:
                        actions = {a: int(rng.integers(5)) for a in env.agents}
                    obs, _, terms, _, infos = env.step(actions)
                    captured = captured or any(terms.values())
                captures[name].append(float(captured))
    for name, caps in captures.items():
        print(f"{name:>6}: capture rate {np.mean(caps):.2f} over {len(caps)} episodes")
    return captures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20, help="episodes per task and policy")
    main(parser.parse_args().episodes)
