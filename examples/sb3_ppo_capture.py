"""Train SB3 PPO with parameter sharing on a capture task set, then evaluate it per task.

The bridge (``wrappers.sb3.to_sb3_vec_env``) makes every agent of every env copy one SB3 env
index, so one PPO policy acts for all agents. Episode statistics per task reach SB3's logger
(``rollout/task/<task>/ep_rew_mean``) through ``PerTaskLoggerCallback``. After training, each task
is played ``--episodes`` times by the PPO policy (greedy actions), the scripted greedy chaser
(which reads the task from infos: privileged) and uniform random actions.

python examples/sb3_ppo_capture.py [--timesteps 300000] [--copies 8] [--episodes 100]
    [--tasks mast-2a-4to8] [--seed 0] [--verbose]

Needs the ``agents`` extra (torch, stable-baselines3). Takes under a minute on two CPU cores with
the defaults; ``--timesteps 4096 --episodes 3`` is a smoke run of a few seconds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.logger import configure

from mt_envs import mast_v0
from mt_envs.capture import GreedyPolicy
from wrappers.sb3 import PerTaskLoggerCallback, evaluate_per_task, to_sb3_vec_env


def main(
    timesteps: int = 300_000,
    copies: int = 8,
    episodes: int = 100,
    tasks: str = "mast-2a-4to8",
    seed: int = 0,
    verbose: bool = False,
) -> dict[str, dict[str, float]]:
    """Train, evaluate and print the per-task table.

    Returns:
        ``{task: {"ppo", "greedy", "random", "ppo_length", "greedy_length", "random_length"}}``:
        capture rates (mean undiscounted return) and mean episode lengths.
    """
    torch.set_num_threads(1)  # tiny MLPs: one thread is faster on a small machine

    def make() -> mast_v0.MASTEnv:
        return mast_v0.parallel_env(tasks=tasks)

    venv = to_sb3_vec_env(make, n_copies=copies, seed=seed)
    model = PPO(
        "MlpPolicy",
        venv,
        n_steps=128,
        batch_size=512,
        n_epochs=10,
        learning_rate=3e-3,
        gamma=0.95,
        ent_coef=0.0,
        policy_kwargs={"net_arch": [64, 64]},
        seed=seed,
    )
    model.set_logger(configure(None, ["stdout"] if verbose else []))
    start = time.perf_counter()
    model.learn(timesteps, callback=PerTaskLoggerCallback(), log_interval=10)
    seconds = time.perf_counter() - start
    print(
        f"PPO: {model.num_timesteps} agent-steps ({venv.env_steps} env-steps) in {seconds:.1f} s "
        f"on {len(make().task_set)} tasks of {tasks!r}, {copies} copies x {venv.n_agents} agents"
    )

    env = make()
    greedy = GreedyPolicy.for_env(env)
    rng = np.random.default_rng(seed)

    def random_policy(obs: dict, infos: dict) -> dict[str, int]:
        return {a: int(rng.integers(5)) for a in obs}

    table: dict[str, dict[str, float]] = {}
    for task_id, task in enumerate(env.task_set):
        row: dict[str, float] = {}
        for label, policy in (("ppo", model), ("greedy", greedy), ("random", random_policy)):
            stats = evaluate_per_task(
                policy, env, episodes, seed=1000 + task_id, options={"task": task_id}
            )[task.name]
            row[label] = stats["return_mean"]
            row[f"{label}_length"] = stats["length_mean"]
        table[task.name] = row
    width = max(len(name) for name in table)
    print(f"\ncapture rate (mean episode length) over {episodes} episodes per task")
    print(f"{'task':<{width}}  {'PPO':>13}  {'greedy':>13}  {'random':>13}")
    for name, row in table.items():
        cells = "  ".join(
            f"{row[k]:>5.2f} ({row[f'{k}_length']:>5.1f})" for k in ("ppo", "greedy", "random")
        )
        print(f"{name:<{width}}  {cells}")
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=300_000, help="PPO agent-steps")
    parser.add_argument("--copies", type=int, default=8, help="env copies (x agents = SB3 envs)")
    parser.add_argument("--episodes", type=int, default=100, help="evaluation episodes per task")
    parser.add_argument("--tasks", default="mast-2a-4to8", help="a registered MAST task set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="print SB3's training log")
    args = parser.parse_args()
    main(args.timesteps, args.copies, args.episodes, args.tasks, args.seed, args.verbose)
