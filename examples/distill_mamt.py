"""Specialists per task, distilled into one team that never sees the task (paper 000, section 5.2).

Phase I trains a Dec-HDRQN specialist team on each of two MAMT tasks (3x3 and 4x4 of
``mamt-2a-3to6``); phase II distils them into one DRQN per agent with
:class:`mt_agents.PolicyDistillation`. Then every team is evaluated per task. This is what
``mt-agents demo`` runs, written out step by step (about 6 minutes of training on two CPU cores
with the defaults below; the pipeline call :func:`mt_agents.run_pipeline` does the same with a
run folder, resume and a report).

Run: ``python examples/distill_mamt.py``
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

import mt_envs
from mt_agents import DecHDRQN, PolicyDistillation, evaluate_multitask
from mt_envs.tasks import TaskSet, fixed


def main(
    specialist_timesteps: tuple[int, int] = (150_000, 300_000),
    distill_timesteps: int = 60_000,
    num_envs: int = 16,
    episodes: int = 50,
    out: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Train, distil, evaluate; print the per-task table.

    Args:
        specialist_timesteps: Env steps of the 3x3 and the 4x4 specialist.
        distill_timesteps: Env steps of the distillation.
        num_envs: Batch size.
        episodes: Evaluation episodes per task.
        out: Folder of the model files (default: a temporary folder).

    Returns:
        ``{"specialists": [EvaluationResult per task], "distilled": EvaluationResult}``.
    """
    torch.set_num_threads(1)
    full = mt_envs.task_sets.get("mamt-2a-3to6")
    tasks = TaskSet("mamt-3x3-4x4", (full[0], full[1]), "tasks 0 and 1 of mamt-2a-3to6")
    folder = Path(out or tempfile.mkdtemp(prefix="distill_mamt_"))

    # Phase I: a specialist team per task. Each trains on the two-task env with a fixed task
    # sampler, so its observations are padded and encoded as in the multi-task env.
    teachers: dict[int, Path] = {}
    for k, steps in enumerate(specialist_timesteps):
        venv = mt_envs.make_vec("mamt_v0", num_envs, tasks=tasks, sampler=fixed(k), seed=k)
        specialist = DecHDRQN(venv, seed=k)
        specialist.learn(steps)
        teachers[k] = specialist.save(folder / f"specialist_{k}.zip")

    # Phase II: the task-sampling env; each episode's specialist plays it, the students learn
    # from the observations alone.
    venv = mt_envs.make_vec("mamt_v0", num_envs, tasks=tasks, seed=10)
    student = PolicyDistillation(venv, teachers, temperature=0.01, seed=0)
    student.learn(distill_timesteps)
    student.save(folder / "distilled.zip")

    eval_env = mt_envs.make_vec("mamt_v0", num_envs, tasks=tasks, seed=99)
    results: dict[str, Any] = {"specialists": []}
    for k, path in teachers.items():
        specialist = DecHDRQN.load(path, env=eval_env)
        results["specialists"].append(
            evaluate_multitask(specialist, eval_env, n_episodes=episodes, tasks=[k])
        )
    results["distilled"] = evaluate_multitask(student, eval_env, n_episodes=episodes)
    print("task | specialist | distilled (discounted return, gamma 0.95)")
    for k, name in enumerate(tasks.names):
        spec = results["specialists"][k].rows[0]["disc_return"]
        dist = results["distilled"].row(k)["disc_return"]
        print(f"{name} | {spec:.3f} | {dist:.3f}")
    return results


if __name__ == "__main__":
    main()
