"""MAMT: multi-agent multi-target capture (Omidshafiei et al., ICML 2017, section 6.1).

.. figure:: /_static/mamt_v0.gif
   :alt: Two agents (circles) chase their own targets (crosses of the same colour) on a torus.

   Greedy chasers on the four tasks of ``mamt-2a-3to6`` (made by ``docs/make_gifs.py``).

==========================  ==================================================================
Import                      ``from mt_envs import mamt_v0``
Actions                     ``Discrete(5)``: NORTH=0, SOUTH=1, EAST=2, WEST=3, STAY=4
Parallel API                yes (native); AEC through ``mamt_v0.env()``
Agents                      ``agent_0 .. agent_{n-1}`` (``n`` of the largest task)
Observation                 ``Box(0, 1, (2 + 3n,), float32)`` (``coords``) or one-hot grids
State                       ``Box(0, 1, (4n + 1,), float32)``
Batched                     ``mt_envs.make_vec("mamt_v0", num_envs=B)``
Default task set            ``mamt-2a-3to6``
==========================  ==================================================================

``n`` agents and ``n`` targets live on an ``m x m`` torus. Agent ``i`` must stand on target
``assignment[i]``; the assignment is a task parameter and is never observed. The team is rewarded
only when **every** agent stands on its own target at the same time.

Dynamics (one step)
    1. All agents move at once. A move succeeds with probability ``1 - slip`` and slips to each
       perpendicular direction with probability ``slip / 2`` (never backwards); ``STAY`` is exact.
       Moves wrap around the torus.
    2. Capture is checked against the targets' current cells.
    3. If there is no capture, every target moves independently: with probability ``evasive`` the
       move maximising its toroidal (Manhattan) distance to the nearest agent (ties broken at
       random), otherwise a move drawn from the task's ``target_policy``.

Rewards and ends
    +1 to every agent at the step of capture, and the episode **terminates**. Two agents on their
    own targets while a third is not get nothing. The episode is **truncated** (no reward) after
    ``horizon`` steps (default ``5 m + 10``). Agents and targets start in independent uniform
    cells (resampled if the team starts captured).

Observation of agent ``i`` (``obs_encoding="coords"``)
    own ``(x, y)``, then ``(x, y, visible)`` of every target, with ``x`` the column and ``y`` the
    row divided by ``m - 1`` so values mean the same across grid sizes. With probability
    ``flicker`` (``Pf``), independently per agent and step, all targets are hidden and read
    ``(0, 0, 0)``; the ``visible`` bit tells a hidden target from one at the origin. Agents of
    smaller tasks in a mixed set have zero observations and are absent from ``agents``.
    ``obs_encoding="onehot"`` gives ``(1 + n)`` one-hot grids of the set's largest side
    (own cell, then each target's cell or all zeros when hidden).

Infos
    ``task_id`` and ``task`` (training-time information, never in observations) and
    ``action_mask`` (``int8 [5]``, all ones).

Arguments
    ``tasks="mamt-2a-3to6"`` (task set, set name, task or list of tasks), ``sampler="uniform"``
    (``"round_robin"`` or a :class:`~mt_envs.tasks.TaskSampler`), ``seed_task=None`` (seed of the
    task stream; ``None`` derives it from ``reset(seed=...)``), ``obs_encoding="coords"``,
    ``render_mode=None`` (``"human"``, ``"rgb_array"``, ``"ansi"``). ``reset(options={"task": t})``
    plays task ``t`` (an id or a task of the set).

Task parameters (:class:`mt_envs.capture.CaptureTask`)
    ``grid_size`` 2..256, ``n_agents`` 1..32, ``n_targets = n_agents``, ``flicker`` in [0, 1],
    ``slip`` in [0, 1] (default 0.1), ``target_policy`` (5 probabilities, default uniform),
    ``evasive`` in [0, 1] (default 0), ``assignment`` (a permutation, default identity),
    ``horizon`` (default ``5 m + 10``).

Registered task sets
    ``mamt-2a-3to6`` (n=2, Pf=0.3, m=3..6, identity/swap assignments and four target policies:
    the distillation benchmark of figure 5), ``mamt-2a-3to7`` (n=2, Pf=0.3, m=3..7: figure 2),
    ``mamt-3a`` (n=3: 3x3 with Pf=0.6, 4x4 with Pf=0.1: figure 3).

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

from mt_envs.capture.env import MAMTEnv
from mt_envs.capture.vector import CaptureVectorEnv

ENV_ID = "mamt_v0"


def parallel_env(**kwargs: Any) -> MAMTEnv:
    """The MAMT ParallelEnv (see the module docstring for arguments)."""
    return MAMTEnv(**kwargs)


def raw_env(**kwargs: Any) -> AECEnv:
    """The MAMT env as AEC (``parallel_to_aec`` of the ParallelEnv)."""
    return parallel_to_aec(MAMTEnv(**kwargs))


env = raw_env


def vector_env(num_envs: int, **kwargs: Any) -> CaptureVectorEnv:
    """The native batched MAMT env (:class:`~mt_envs.capture.CaptureVectorEnv`)."""
    return CaptureVectorEnv(num_envs, variant="mamt", **kwargs)
