"""MaskablePPO with parameter sharing on the MPE group of paper 001, then a per-task table.

One policy network acts for every good agent of three mpe2 games with different observation
sizes (3, 11, 19, 10), action counts (3 and 5) and agent counts (2, 1, 2), padded into one env by
:func:`wrappers.groups.make_group_env` (masks in infos), with one-hot agent and task ids appended,
and handed to sb3-contrib's ``MaskablePPO`` through :func:`wrappers.sb3.to_sb3_vec_env`, which
passes the action masks (the speaker's padded actions 3 and 4 are never taken). Then the trained
policy, a random policy and the hand-written goal-seeking team of :mod:`mt_envs.mpe.scripted`
play every task.

Run (needs ``pip install "mt-envs[sb3,mpe]"``)::

    python examples/maskable_ppo_mpe_group.py              # 100k steps, about 2 minutes
    python examples/maskable_ppo_mpe_group.py --timesteps 2048 --eval-episodes 3   # seconds

Returns are per agent and per episode (25 steps), averaged over a task's good agents; the
adversaries of push and adversary are the scripted ones. One run with the defaults but 50
evaluation episodes per task (seed 0, 2-core machine, 98 s)::

    task                      random   trained  reference
    mpe-adversary              -3.63      5.19       5.49
    mpe-push                  -25.97    -13.83      -8.02
    mpe-speaker-listener      -37.56    -18.29      -7.27
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import numpy as np

from mt_envs.mpe import MPETask
from mt_envs.mpe.scripted import goal_seeking_actions
from wrappers.groups import make_group_env

Policy = Callable[[dict[str, np.ndarray], dict[str, dict[str, Any]]], dict[str, int]]


def random_policy(seed: int) -> Policy:
    """Uniform random legal actions (read from ``infos[agent]["action_mask"]``)."""
    rng = np.random.default_rng(seed)

    def act(obs: dict[str, np.ndarray], infos: dict[str, dict[str, Any]]) -> dict[str, int]:
        return {a: int(rng.choice(np.flatnonzero(infos[a]["action_mask"]))) for a in obs}

    return act


def reference_policy(env: Any) -> Policy:
    """The goal-seeking team, acting on the unpadded observations of each task's real agents."""
    group = env.unwrapped  # the MultiTaskEnv under the indicators

    def act(obs: dict[str, np.ndarray], infos: dict[str, dict[str, Any]]) -> dict[str, int]:
        task_id = group.task_id
        task: MPETask = group.task_set[task_id]
        slot_env = group.slot_envs[task_id]
        to_canonical = group.agent_maps[task_id]
        real = {
            name: obs[c][: slot_env.observation_space(name).shape[0]]
            for name, c in to_canonical.items()
            if c in obs
        }
        moves = goal_seeking_actions(task.game, real)
        return {to_canonical[name]: a for name, a in moves.items()}

    return act


def main(
    timesteps: int = 100_000,
    copies: int = 8,
    n_steps: int = 128,
    eval_episodes: int = 100,
    seed: int = 0,
    verbose: int = 0,
) -> dict[str, dict[str, float]]:
    """Train, evaluate and print the per-task table.

    Args:
        timesteps: Training budget in SB3 steps (one per agent slot and env step, padded agents
            included).
        copies: Copies of the group env (``num_envs = 2 * copies`` agent slots).
        n_steps: PPO rollout length per slot.
        eval_episodes: Evaluation episodes per task for each policy.
        seed: Seed of training and evaluation.
        verbose: SB3 verbosity (1 prints the training log, per-task returns included).

    Returns:
        ``{task name: {"random", "trained", "reference"}}``: mean return per agent and episode.
    """
    import torch
    from sb3_contrib import MaskablePPO

    from wrappers.sb3 import PerTaskLoggerCallback, evaluate_per_task, to_sb3_vec_env

    torch.set_num_threads(1)  # faster than 2 for a small MLP on a small machine

    def make(sampler: str = "uniform") -> Any:
        return make_group_env("mpe-mkt", sampler, agent_indicator=True, task_indicator=True)

    venv = to_sb3_vec_env(make, n_copies=copies, seed=seed)
    batch = n_steps * venv.num_envs
    model = MaskablePPO(
        "MlpPolicy",
        venv,
        n_steps=n_steps,
        batch_size=min(512, batch),
        ent_coef=0.01,
        seed=seed,
        verbose=verbose,
    )
    model.learn(timesteps, callback=PerTaskLoggerCallback())
    venv.close()

    table: dict[str, dict[str, float]] = {}
    n_tasks = 3
    episodes = eval_episodes * n_tasks  # round robin: eval_episodes of each task
    env = make("round_robin")
    policies: dict[str, Any] = {
        "random": random_policy(seed),
        "trained": model,
        "reference": reference_policy(env),
    }
    for column, policy in policies.items():
        stats = evaluate_per_task(policy, env, n_episodes=episodes, seed=seed + 1)
        for task, row in stats.items():
            table.setdefault(task, {})[column] = row["return_mean"]
    env.close()

    print(f"MaskablePPO, {model.num_timesteps} SB3 steps, {eval_episodes} episodes per task")
    print(f"{'task':<22}{'random':>10}{'trained':>10}{'reference':>11}")
    for task, row in table.items():
        print(f"{task:<22}{row['random']:>10.2f}{row['trained']:>10.2f}{row['reference']:>11.2f}")
    return table


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timesteps", type=int, default=100_000, help="training budget (SB3 steps)")
    p.add_argument("--copies", type=int, default=8, help="copies of the group env")
    p.add_argument("--n-steps", type=int, default=128, help="PPO rollout length per slot")
    p.add_argument("--eval-episodes", type=int, default=100, help="evaluation episodes per task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=0)
    return p.parse_args(argv)


if __name__ == "__main__":
    args = _parse()
    main(
        timesteps=args.timesteps,
        copies=args.copies,
        n_steps=args.n_steps,
        eval_episodes=args.eval_episodes,
        seed=args.seed,
        verbose=args.verbose,
    )
