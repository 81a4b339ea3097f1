"""MAST: multi-agent single-target capture (Omidshafiei et al., ICML 2017, section 6.1).

.. figure:: /_static/mast_v0.gif
   :alt: Two agents (circles) chase one target (cross) on a torus.

   Greedy chasers on the tasks of ``mast-2a-4to8`` (made by ``docs/make_gifs.py``).

==========================  ==================================================================
Import                      ``from mt_envs import mast_v0``
Actions                     ``Discrete(5)``: NORTH=0, SOUTH=1, EAST=2, WEST=3, STAY=4
Parallel API                yes (native); AEC through ``mast_v0.env()``
Agents                      ``agent_0 .. agent_{n-1}`` (``n`` of the largest task)
Observation                 ``Box(0, 1, (5,), float32)`` (``coords``) or one-hot grids
State                       ``Box(0, 1, (2n + 3,), float32)``
Batched                     ``mt_envs.make_vec("mast_v0", num_envs=B)``
Default task set            ``mast-2a-4to8``
==========================  ==================================================================

``n`` agents and one target live on an ``m x m`` torus. The team is rewarded only when **every**
agent stands on the target at the same time.

Dynamics (one step)
    1. All agents move at once. A move succeeds with probability ``1 - slip`` and slips to each
       perpendicular direction with probability ``slip / 2`` (never backwards); ``STAY`` is exact.
       Moves wrap around the torus.
    2. Capture is checked against the target's current cell.
    3. If there is no capture, the target moves: with probability ``evasive`` the move maximising
       its toroidal (Manhattan) distance to the nearest agent (ties broken at random), otherwise a
       move drawn from the task's ``target_policy``.

Rewards and ends
    +1 to every agent at the step of capture, and the episode **terminates**. The episode is
    **truncated** (no reward) after ``horizon`` steps (default ``5 m + 10``). Agents and the target
    start in independent uniform cells (resampled if the team starts captured).

Observation of agent ``i`` (``obs_encoding="coords"``)
    own ``(x, y)``, then the target's ``(x, y, visible)``, with ``x`` the column and ``y`` the row
    divided by ``m - 1``. With probability ``flicker`` (``Pf``), independently per agent and step,
    the target is hidden and reads ``(0, 0, 0)``. ``obs_encoding="onehot"`` gives two one-hot
    grids of the set's largest side (own cell, target cell or zeros when hidden).

Infos
    ``task_id`` and ``task`` (training-time information, never in observations) and
    ``action_mask`` (``int8 [5]``, all ones).

Arguments
    ``tasks="mast-2a-4to8"`` (task set, set name, task or list of tasks), ``sampler="uniform"``
    (``"round_robin"`` or a :class:`~mt_envs.tasks.TaskSampler`), ``seed_task=None``,
    ``obs_encoding="coords"``, ``render_mode=None`` (``"human"``, ``"rgb_array"``, ``"ansi"``).
    ``reset(options={"task": t})`` plays task ``t`` (an id or a task of the set).

Task parameters (:class:`mt_envs.capture.CaptureTask` with ``n_targets=1``)
    ``grid_size`` 2..256, ``n_agents`` 1..32, ``flicker`` in [0, 1], ``slip`` in [0, 1]
    (default 0.1), ``target_policy`` (5 probabilities, default uniform), ``evasive`` in [0, 1]
    (default 0), ``horizon`` (default ``5 m + 10``).

Registered task sets
    ``mast-2a-4to8`` (n=2, Pf=0, m=4..8: the Dec-DRQN failure point of supplement B).

Paper figures
    Dec-HDRQN 0.76 +- 0.11 vs Dec-DRQN 0.05 +- 0.16 discounted return (gamma 0.95) on 8x8. On
    these dynamics the greedy chaser scores about 0.69 there: compare learners with the greedy
    baseline measured beside them (``mt-envs play mast_v0 --policy greedy``).

Differences from the paper
    The paper leaves target dynamics, the order within a step, the reset distribution, the horizon
    and the observation encoding open; the choices above are those of SPECS.md section 1, each a
    parameter. The explicit ``visible`` bit is ours.

Version history
    v0: first release.
"""

from __future__ import annotations

from typing import Any

from pettingzoo import AECEnv
from pettingzoo.utils.conversions import parallel_to_aec

from mt_envs.capture.env import MASTEnv
from mt_envs.capture.vector import CaptureVectorEnv

ENV_ID = "mast_v0"


def parallel_env(**kwargs: Any) -> MASTEnv:
    """The MAST ParallelEnv (see the module docstring for arguments)."""
    return MASTEnv(**kwargs)


def raw_env(**kwargs: Any) -> AECEnv:
    """The MAST env as AEC (``parallel_to_aec`` of the ParallelEnv)."""
    return parallel_to_aec(MASTEnv(**kwargs))


env = raw_env


def vector_env(num_envs: int, **kwargs: Any) -> CaptureVectorEnv:
    """The native batched MAST env (:class:`~mt_envs.capture.CaptureVectorEnv`)."""
    return CaptureVectorEnv(num_envs, variant="mast", **kwargs)
