"""The named capture task sets of SPECS.md section 1 (paper 000)."""

from __future__ import annotations

from mt_envs import task_sets
from mt_envs.capture.task import TARGET_POLICIES, CaptureTask
from mt_envs.tasks import TaskSet


def mast_2a_4to8() -> TaskSet:
    return TaskSet(
        "mast-2a-4to8",
        tuple(CaptureTask.mast(m, n_agents=2, flicker=0.0) for m in range(4, 9)),
        "MAST, 2 agents, Pf=0, m=4..8: Dec-DRQN vs Dec-HDRQN failure point (supplement B)",
    )


def mamt_2a_3to6() -> TaskSet:
    policies = ["random-walk", "north-east", "lazy", "west"]
    tasks = tuple(
        CaptureTask.mamt(
            m,
            n_agents=2,
            flicker=0.3,
            assignment=(0, 1) if k % 2 == 0 else (1, 0),
            target_policy=TARGET_POLICIES[policies[k]],
        )
        for k, m in enumerate(range(3, 7))
    )
    return TaskSet(
        "mamt-2a-3to6",
        tasks,
        "MAMT, 2 agents, Pf=0.3, m=3..6, identity/swap assignments, differing target "
        "dynamics: the distillation benchmark (figure 5)",
    )


def mamt_2a_3to7() -> TaskSet:
    tasks = tuple(
        CaptureTask.mamt(m, n_agents=2, flicker=0.3, assignment=(0, 1) if m % 2 else (1, 0))
        for m in range(3, 8)
    )
    return TaskSet(
        "mamt-2a-3to7",
        tasks,
        "MAMT, 2 agents, Pf=0.3, m=3..7: the single-task specialisation sweep (figure 2)",
    )


def mamt_3a() -> TaskSet:
    return TaskSet(
        "mamt-3a",
        (
            CaptureTask.mamt(3, n_agents=3, flicker=0.6),
            CaptureTask.mamt(4, n_agents=3, flicker=0.1, assignment=(1, 2, 0)),
        ),
        "MAMT, 3 agents: 3x3 with Pf=0.6 and 4x4 with Pf=0.1 (figure 3)",
    )


def register_all() -> None:
    task_sets.register("mast-2a-4to8", mast_2a_4to8, "mast_v0")
    task_sets.register("mamt-2a-3to6", mamt_2a_3to6, "mamt_v0")
    task_sets.register("mamt-2a-3to7", mamt_2a_3to7, "mamt_v0")
    task_sets.register("mamt-3a", mamt_3a, "mamt_v0")
