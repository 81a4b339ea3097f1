"""The named chain task sets of SPECS.md section 5 (paper 003, section 2.2)."""

from __future__ import annotations

from mt_envs import task_sets
from mt_envs.chain.task import DEFAULT_P, ChainTask
from mt_envs.tasks import TaskSet


def chain_2() -> TaskSet:
    return TaskSet(
        "chain-2",
        (ChainTask(1), ChainTask(2)),
        "The 2-task chain: the best shared policy is stochastic at S3 (2g/(2-g^2) against g)",
    )


def chain_2_stochastic(p: float = DEFAULT_P) -> TaskSet:
    return TaskSet(
        "chain-2-stochastic",
        (ChainTask(1, p=p), ChainTask(2, p=p)),
        f"The 2-task chain with action-independent S2/S4 (p={p:g}): uniform at S3 is a "
        "stationary point that is not the global optimum",
    )


def register_all() -> None:
    """Register the chain sets (a no-op for those already registered)."""
    have = set(task_sets.names())
    for name, factory in (("chain-2", chain_2), ("chain-2-stochastic", chain_2_stochastic)):
        if name not in have:
            task_sets.register(name, factory, "chain_v0")
