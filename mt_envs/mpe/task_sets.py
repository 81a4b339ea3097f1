"""The named MPE task set of paper 001 (``mpe-mkt``). Registering it never imports mpe2."""

from __future__ import annotations

from mt_envs import task_sets
from mt_envs.mpe.task import MPETask
from mt_envs.tasks import TaskSet

#: The env id the MPE task sets are registered for (one :class:`~mt_envs.mpe.GoodTeamEnv` per
#: task; the padded multi-task env is ``wrappers.groups.make_group_env``).
ENV_ID = "mpe_good_team_v0"


def mpe_mkt() -> TaskSet:
    """The MPE group of paper 001 (section V-A, table II), learner = good team."""
    return TaskSet(
        "mpe-mkt",
        (MPETask("speaker_listener"), MPETask("push"), MPETask("adversary")),
        "MPE group of paper 001: speaker_listener (2 learners), push (1 learner vs scripted "
        "adversary), adversary (2 learners vs scripted adversary); heterogeneous padding showcase",
    )


def register_all() -> None:
    """Register the MPE task sets with :mod:`mt_envs.task_sets` (imports no mpe2)."""
    task_sets.register("mpe-mkt", mpe_mkt, ENV_ID)
