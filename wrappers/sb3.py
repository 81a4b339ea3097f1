"""A Stable-Baselines3 bridge for any PettingZoo ParallelEnv, with parameter sharing.

:func:`to_sb3_vec_env` turns ``n_copies`` copies of a ParallelEnv into one SB3
:class:`~stable_baselines3.common.vec_env.VecEnv` (:class:`SB3VecEnv`) in which every agent of
every copy is one SB3 env index, so a single SB3 policy (``PPO``, sb3-contrib ``MaskablePPO``, ...)
acts for all agents: independent learners with shared parameters.

Why not SuperSuit's route (``pettingzoo_env_to_vec_env_v1`` + ``concat_vec_envs_v1(...,
base_class="stable_baselines3")``)? In SuperSuit 3.11 its VecEnv has no ``seed`` (``PPO(seed=0)``
crashes), never sets ``TimeLimit.truncated`` (SB3 then treats time-limit ends as terminal and does
not bootstrap them), fails on ``get_attr`` / ``has_attr`` / ``env_method`` (so ``MaskablePPO``
cannot read action masks), starts its copies (cloudpickled from one env) in the same state,
since SB3 resets them without seeds, and refuses agents that leave before their teammates unless
``black_death`` is used, which reports a time-limit end one step late (``benchmarks/sb3_bridge.py``
checks the first four). This module is written from scratch for those reasons; it imports
``stable_baselines3`` at import time, so ``wrappers/__init__.py`` imports it lazily.

Slot layout
    ``N = len(env.possible_agents)``. Index ``k = c * N + i`` is agent ``possible_agents[i]`` of
    copy ``c``; ``num_envs = n_copies * N`` and never changes.

Live slots and filler slots
    A slot is **live** when its agent is in the copy's ``agents`` and is not marked as padding
    (``infos[agent]["agent_mask"]`` is not ``False``). A live slot gets the agent's observation,
    its reward, and ``done=True`` in the very step its episode ends (terminated, truncated, or it
    left ``agents``), with ``infos[k]["TimeLimit.truncated"] = truncated and not terminated``,
    ``infos[k]["terminal_observation"]`` (the agent's last observation) and
    ``infos[k]["episode"] = {"r", "l", "t", "task", "task_id"}`` (Monitor-style: undiscounted
    return, length, seconds since the VecEnv was built, and the task of the episode when the env
    puts ``task`` / ``task_id`` in its infos). An agent that leaves ``agents`` with neither flag set
    (a PettingZoo API violation) counts as terminated. So every live trajectory is exactly what a
    Gymnasium env per agent would give under SB3's ``DummyVecEnv``: no step is added, dropped or
    delayed.

    A slot whose agent is not live is a **filler** until its agent is live again (at the copy's
    next episode at the latest). That covers agents that died before their teammates, padding in
    the current task (such as the dummies of :class:`~wrappers.padding.PadAgents`, which
    ``MultiTaskEnv(..., pad=True)`` adds) and agents that have not joined yet. A filler reports
    observation :attr:`SB3VecEnv.filler_obs` (zeros, clipped into the observation space), reward
    ``0.0``, ``done=True`` in every step, ``infos[k] = {"filler": True, "TimeLimit.truncated":
    False}`` with no ``terminal_observation`` and no ``episode``, and an action mask that allows
    only the no-op action (:attr:`SB3VecEnv.noop_action`, by default the last action, the padding
    convention of :mod:`mt_envs.vector`). The action SB3 picks for a filler is never sent to the
    env (if the env still lists the agent, it is sent the no-op).
    Because a filler is done in every step, its return is exactly 0, nothing is bootstrapped
    from it, and no GAE sum crosses from a filler into a live trajectory or back.

Consequences for the learners
    * ``PPO`` (no masks): filler samples stay in the rollout buffer with advantage
      ``-V(filler_obs)``. The value loss pulls ``V(filler_obs)`` towards 0; the policy-gradient
      term of a filler has expectation zero over the sampled action (score-function identity) but
      adds variance, and the entropy bonus raises the policy's entropy at ``filler_obs``. Batch
      means (losses, advantage normalisation) include the fillers, so the effective step size on
      live samples scales with the live fraction of the batch. If real agents can observe exactly
      ``filler_obs`` (capture agents in the corner with a hidden target read all zeros), that value
      target leaks into theirs: add an agent or task indicator to tell them apart.
    * ``MaskablePPO``: a filler's mask has one legal action, so its log-probability is exactly 0,
      its probability ratio exactly 1 and its entropy exactly 0: filler samples contribute exactly
      zero policy-gradient and entropy gradient. The value-loss and batch-mean effects above
      remain (advantage normalisation statistics include fillers, whose advantage tends to 0 as
      ``V(filler_obs)`` tends to 0).
    * ``model.num_timesteps`` counts slot steps, fillers included (SB3 adds ``num_envs`` per
      step); :attr:`SB3VecEnv.agent_steps` counts live agent steps and
      :attr:`SB3VecEnv.env_steps` copy steps.
    * SB3's ``ep_info_buffer`` (``rollout/ep_rew_mean``) and :class:`PerTaskLoggerCallback` see
      only real agent episodes. ``VecMonitor`` and ``evaluate_policy`` count ``done`` flags, so they
      would count filler steps as episodes: do not wrap this VecEnv in ``VecMonitor``, and evaluate
      with :func:`evaluate_per_task`.

Copies
    ``env`` may be a zero-argument factory (called ``n_copies`` times; each call must return a new
    env) or a ParallelEnv instance, which is a template: every copy is ``copy.deepcopy(env)`` and
    the given object itself is never stepped. A deep copy carries the template's RNG state, which
    is why the first reset always seeds every copy (below).

Seeding
    Copy ``c`` is reset with seed ``s + c`` at the first reset after ``seed(s)`` (SB3 calls
    ``seed`` from ``PPO(seed=s)``) or after construction with ``seed=s``; later automatic resets
    are not re-seeded, as in SB3. Without any seed, the first reset draws one fresh seed per copy
    from the operating system, so deep copies never replay one another. The same seed gives
    bit-identical rollouts, and ``PPO(seed=0)`` twice gives bit-identical parameters.
"""

from __future__ import annotations

import copy
import inspect
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, TypeAlias

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

__all__ = ["PerTaskLoggerCallback", "SB3VecEnv", "evaluate_per_task", "to_sb3_vec_env"]

EnvSource: TypeAlias = ParallelEnv | Callable[[], ParallelEnv]
_EMPTY: frozenset[str] = frozenset()

_OBS_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
_ACT_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
_PAD_HINT = (
    "parameter sharing needs one observation space and one action space for all agents: pad them "
    "first (wrappers.PadObservations / wrappers.PadActions, or MultiTaskEnv(..., pad=True))"
)


def _is_parallel_env(obj: Any) -> bool:
    if isinstance(obj, ParallelEnv):
        return True
    # Duck typing for ParallelEnv-shaped objects that do not subclass it.
    return all(hasattr(obj, a) for a in ("possible_agents", "reset", "step", "action_space"))


def _task_of(info: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """The task name and id an agent's info dict carries (``None`` where absent)."""
    tid = info.get("task_id")
    task = info.get("task")
    name: str | None
    if task is None:
        name = None
    elif isinstance(task, str):
        name = task
    else:
        name = getattr(task, "name", None)
        name = None if name is None else str(name)
    task_id = None if tid is None else int(tid)
    if name is None and task_id is not None:
        name = f"task_{task_id}"
    return name, task_id


class SB3VecEnv(VecEnv):
    """``n_copies`` copies of a ParallelEnv as one SB3 VecEnv; one index per agent and copy.

    Build it with :func:`to_sb3_vec_env`, which documents the arguments. The module docstring
    states the slot layout, what a filler slot reports and what that means for PPO and
    MaskablePPO.

    Attributes:
        envs: The copies (ParallelEnvs), in copy order.
        possible_agents: Agent names of one copy; index ``k`` is agent
            ``possible_agents[k % N]`` of copy ``k // N``.
        n_copies: Number of copies.
        n_agents: ``N``, agents per copy.
        filler_obs: The observation of filler slots.
        noop_action: The only action allowed in filler slots (sent to the env when it still lists
            a non-live agent).
        agent_steps: Live agent steps taken so far.
        env_steps: Copy steps taken so far.

    Args:
        envs: The copies, distinct objects with the same agents and spaces.
        seed: Seed of the first reset (see :meth:`seed`).
        noop_action: The filler action (default: see :func:`to_sb3_vec_env`).

    Raises:
        ValueError: For copies that differ, agents with different spaces or a bad
            ``noop_action``.
        TypeError: For spaces of an unsupported kind.
    """

    def __init__(
        self,
        envs: list[ParallelEnv],
        seed: int | None = None,
        noop_action: Any = None,
    ) -> None:
        self.envs = envs
        first = envs[0]
        self.possible_agents: list[str] = list(first.possible_agents)
        if not self.possible_agents:
            raise ValueError("the env has no possible_agents: nothing for SB3 to control")
        self.n_copies = len(envs)
        self.n_agents = len(self.possible_agents)
        obs_space, act_space, self._dict_obs = _shared_spaces(first, self.possible_agents)
        for c, env in enumerate(envs[1:], start=1):
            if list(env.possible_agents) != self.possible_agents:
                raise ValueError(
                    f"copy {c} has possible_agents {list(env.possible_agents)}, copy 0 has "
                    f"{self.possible_agents}: every copy must have the same agents"
                )
            o, a, _ = _shared_spaces(env, self.possible_agents)
            if o != obs_space or a != act_space:
                raise ValueError(
                    f"copy {c} has spaces {o} / {a}, copy 0 has {obs_space} / {act_space}: "
                    "every copy must have the same spaces"
                )
        self._discrete = isinstance(act_space, spaces.Discrete)
        self.noop_action = _noop(act_space) if noop_action is None else noop_action
        if not act_space.contains(
            np.asarray(self.noop_action, dtype=act_space.dtype)
            if not self._discrete
            else self.noop_action
        ):
            raise ValueError(f"noop_action={noop_action!r} is not in the action space {act_space}")
        self.filler_obs = _filler(obs_space)
        super().__init__(self.n_copies * self.n_agents, obs_space, act_space)

        k = self.num_envs
        self._slot = {a: i for i, a in enumerate(self.possible_agents)}
        self._buf = np.zeros((k, *(obs_space.shape or ())), dtype=obs_space.dtype)
        self._buf[:] = self.filler_obs
        self._n_actions = int(act_space.n) if isinstance(act_space, spaces.Discrete) else 0
        self._masks = np.zeros((k, max(self._n_actions, 1)), dtype=bool)
        self._noop_mask = np.zeros(max(self._n_actions, 1), dtype=bool)
        if self._discrete:
            self._noop_mask[int(self.noop_action)] = True
        self._masks[:] = self._noop_mask
        self._live_mask = np.zeros(k, dtype=bool)
        # Per copy: the (agent, index) pairs that act in the next step, and the agents the env
        # lists that are not live (padding it keeps in ``agents``): they are sent the no-op.
        self._live: list[list[tuple[str, int]]] = [[] for _ in range(self.n_copies)]
        self._idle: list[list[str]] = [[] for _ in range(self.n_copies)]
        self._task: list[tuple[str | None, int | None]] = [(None, None)] * self.n_copies
        self._ep_ret = [0.0] * k
        self._ep_len = [0] * k
        # Per copy: env.agents when its slots were last bound; per index: the last mask array
        # read (a read-only array seen again needs no copy).
        self._listed: list[list[str]] = [[] for _ in range(self.n_copies)]
        self._mask_src: list[Any] = [None] * k
        self._copy_seeds: list[int | None] | None = None
        self._copy_options: list[dict[str, Any]] = [{} for _ in range(self.n_copies)]
        self._ever_reset = False
        self._actions: np.ndarray | None = None
        self._t0 = time.perf_counter()
        self.agent_steps = 0
        self.env_steps = 0
        if seed is not None:
            self.seed(seed)

    # -- reset / step ------------------------------------------------------------------------
    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Seed the next reset: copy ``c`` gets ``seed + c``.

        Args:
            seed: Base seed; ``None`` draws one from the operating system's entropy.

        Returns:
            The seed of each index (the seed of its copy).
        """
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
        self._copy_seeds = [int(seed) + c for c in range(self.n_copies)]
        return [self._copy_seeds[k // self.n_agents] for k in range(self.num_envs)]

    def set_options(self, options: list[dict] | dict | None = None) -> None:
        """Reset options for the next reset (not for automatic resets).

        Args:
            options: One dict for every copy, or a list with one dict per copy.

        Raises:
            ValueError: If a list does not have one entry per copy.
            TypeError: If ``options`` is not ``None``, a dict or a list of dicts.
        """
        if options is None:
            options = {}
        if not isinstance(options, (dict, list, tuple)) or (
            not isinstance(options, dict) and not all(isinstance(o, dict) for o in options)
        ):
            raise TypeError(
                f"set_options got {options!r}: give None, one dict for all copies or a list of "
                f"n_copies={self.n_copies} dicts"
            )
        if isinstance(options, dict):
            self._copy_options = [copy.deepcopy(options) for _ in range(self.n_copies)]
        else:
            if len(options) != self.n_copies:
                raise ValueError(
                    f"set_options got {len(options)} dicts: give one dict for all copies or a "
                    f"list of n_copies={self.n_copies} dicts (options are per copy, not per agent)"
                )
            self._copy_options = copy.deepcopy(list(options))

    def reset(self) -> VecEnvObs:
        """Reset every copy (seeded and with options when ``seed`` / ``set_options`` asked).

        Returns:
            Observations ``[num_envs, *obs_shape]``; reset infos are in :attr:`reset_infos`.
        """
        seeds = self._copy_seeds
        if seeds is None and not self._ever_reset:
            fresh = np.random.SeedSequence().generate_state(self.n_copies, dtype=np.uint32)
            seeds = [int(s) for s in fresh]
        for c, env in enumerate(self.envs):
            opts = self._copy_options[c] or None
            obs, infos = env.reset(seed=None if seeds is None else seeds[c], options=opts)
            self._start_copy(c, obs, infos)
        self._copy_seeds = None
        self._copy_options = [{} for _ in range(self.n_copies)]
        self._ever_reset = True
        self._ep_ret = [0.0] * self.num_envs
        self._ep_len = [0] * self.num_envs
        return self._buf.copy()

    def _start_copy(
        self, c: int, obs: Mapping[str, Any], infos: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """Bind copy ``c``'s slots to the agents of its new episode."""
        env = self.envs[c]
        base = c * self.n_agents
        task: tuple[str | None, int | None] = (None, None)
        for agent in env.agents:
            if agent in infos:
                task = _task_of(infos[agent])
                if task != (None, None):
                    break
        self._task[c] = task
        for i in range(self.n_agents):
            self.reset_infos[base + i] = {"filler": True}
        self._rebind(c, obs, infos)
        for agent, k in self._live[c]:
            self.reset_infos[k] = dict(infos.get(agent, {}))

    @staticmethod
    def _any_live(
        still: Iterable[str], infos: Mapping[str, Mapping[str, Any]], gone: AbstractSet[str]
    ) -> bool:
        """Whether any listed agent is live after a step (not ended, not padding)."""
        for agent in still:
            if agent in gone:
                continue
            info = infos.get(agent)
            if info is None or info.get("agent_mask", True) is not False:
                return True
        return False

    def _rebind(
        self,
        c: int,
        obs: Mapping[str, Any],
        infos: Mapping[str, Mapping[str, Any]],
        gone: AbstractSet[str] = frozenset(),
    ) -> None:
        """Recompute copy ``c``'s live slots and write their observations and masks.

        Live: listed in ``env.agents``, not in ``gone`` (ended this step), not padding. Listed
        agents that are not live are sent the no-op while the env keeps listing them.
        """
        env = self.envs[c]
        base = c * self.n_agents
        live: list[tuple[str, int]] = []
        idle: list[str] = []
        slot = self._slot
        for agent in env.agents:
            info = infos.get(agent)
            if agent in gone or (info is not None and info.get("agent_mask", True) is False):
                idle.append(agent)
                continue
            if agent not in slot:
                raise ValueError(
                    f"copy {c} lists agent {agent!r}, which is not in possible_agents "
                    f"{self.possible_agents}"
                )
            live.append((agent, base + slot[agent]))
        self._live[c] = live
        self._idle[c] = idle
        self._listed[c] = list(env.agents)
        rows = slice(base, base + self.n_agents)
        was_live = self._live_mask[rows].copy()
        self._live_mask[rows] = False
        for agent, k in live:
            self._live_mask[k] = True
            self._write(k, agent, obs, infos)
        for i in np.flatnonzero(was_live & ~self._live_mask[rows]):
            self._buf[base + i] = self.filler_obs
            self._masks[base + i] = self._noop_mask
            self._mask_src[base + i] = None

    def _write(
        self, k: int, agent: str, obs: Mapping[str, Any], infos: Mapping[str, Mapping[str, Any]]
    ) -> None:
        o = obs.get(agent)
        mask = None
        if self._dict_obs and o is not None:
            mask = o["action_mask"]
            o = o["observation"]
        self._buf[k] = self.filler_obs if o is None else o
        if self._discrete:
            info = infos.get(agent)
            if info is not None:
                mask = info.get("action_mask", mask)
            if mask is None:
                self._masks[k] = True
                self._mask_src[k] = None
            elif mask is not self._mask_src[k]:
                self._masks[k] = np.asarray(mask, dtype=bool)
                # A read-only array owning its data (capture envs hand out one per env) cannot
                # change, so seeing the same object again needs no copy.
                fixed = (
                    isinstance(mask, np.ndarray) and not mask.flags.writeable and mask.base is None
                )
                self._mask_src[k] = mask if fixed else None

    def step_async(self, actions: np.ndarray) -> None:
        try:
            self._actions = np.asarray(actions)
        except (TypeError, ValueError):  # ragged nested lists
            raise ValueError(
                f"actions {actions!r} do not form an array: expected one action per index, "
                f"shape ({self.num_envs}, ...)"
            ) from None

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async(actions)")
        if not self._ever_reset:
            raise RuntimeError("step() called before reset(): call reset() first")
        actions = self._actions
        self._actions = None
        n_slots = self.num_envs
        if actions.shape[:1] != (n_slots,):
            raise ValueError(
                f"actions have shape {actions.shape}: expected one action per index, shape "
                f"({n_slots}, ...) (num_envs = n_copies * n_agents = {self.n_copies} * "
                f"{self.n_agents})"
            )
        if self._discrete and actions.dtype.kind not in "iu":
            raise ValueError(
                f"actions have dtype {actions.dtype}: expected integer Discrete actions (floats, "
                "bools, strings and objects are refused, never rounded)"
            )
        if self._discrete and actions.shape not in ((n_slots,), (n_slots, 1)):
            raise ValueError(
                f"actions have shape {actions.shape}: expected one Discrete action per index, "
                f"shape ({n_slots},) (num_envs = n_copies * n_agents = {self.n_copies} * "
                f"{self.n_agents})"
            )
        if self._discrete:
            flat = actions.reshape(n_slots)
            bad = self._live_mask & ((flat < 0) | (flat >= self._n_actions))
            if bad.any():
                # Refused before any copy steps, so a bad action leaves every copy as it was.
                k = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"action {flat[k]} at index {k} (copy {k // self.n_agents}, agent "
                    f"{self.possible_agents[k % self.n_agents]!r}) is outside "
                    f"Discrete({self._n_actions}): expected ints in [0, {self._n_actions - 1}]"
                )
        acts: Sequence[Any] = (
            actions.reshape(n_slots).tolist() if self._discrete else list(actions.copy())
        )
        rews = [0.0] * n_slots
        dones = ~self._live_mask
        infos: list[dict[str, Any]] = [
            {"filler": True, "TimeLimit.truncated": False} if d else {} for d in dones
        ]
        ep_ret, ep_len = self._ep_ret, self._ep_len
        noop = self.noop_action
        n_live = 0
        for c, env in enumerate(self.envs):
            live = self._live[c]
            idle = self._idle[c]
            act = {agent: acts[k] for agent, k in live}
            for agent in idle:
                act[agent] = noop
            obs, rew, term, trunc, info = env.step(act)
            n_live += len(live)
            still = env.agents
            # Which live agents end here: an end flag, gone from agents, or turned into padding.
            ended: list[tuple[str, int]] = []
            for agent, k in live:
                r = float(rew.get(agent, 0.0))
                rews[k] = r
                ep_ret[k] += r
                ep_len[k] += 1
                a_info = info.get(agent)
                infos[k] = {} if a_info is None else dict(a_info)
                if (
                    term.get(agent, False)
                    or trunc.get(agent, False)
                    or agent not in still
                    or (a_info is not None and a_info.get("agent_mask", True) is False)
                ):
                    ended.append((agent, k))
            if not ended and not idle and still == self._listed[c]:
                # Fast path: the same agents go on; refresh their observations and masks.
                for agent, k in live:
                    self._write(k, agent, obs, info)
                continue
            for agent, k in ended:
                self._end(c, k, agent, obs, term, trunc, infos[k])
                dones[k] = True
            gone = {a for a, _ in ended} if ended else _EMPTY
            if self._any_live(still, info, gone):
                self._rebind(c, obs, info, gone)
            else:
                # No live agent left: the copy's episode is over; restart it in this step.
                obs, reset_infos = env.reset()
                self._start_copy(c, obs, reset_infos)
        self.agent_steps += n_live
        self.env_steps += self.n_copies
        return self._buf.copy(), np.array(rews, dtype=np.float32), dones, infos

    def _end(
        self,
        c: int,
        k: int,
        agent: str,
        obs: Mapping[str, Any],
        term: Mapping[str, bool],
        trunc: Mapping[str, bool],
        info: dict[str, Any],
    ) -> None:
        """Write the end of slot ``k``'s episode into its step info and clear its statistics."""
        t = bool(term.get(agent, False))
        o = obs.get(agent)
        if o is None:
            final = self.filler_obs.copy()
        else:
            final = np.array(o["observation"] if self._dict_obs else o, copy=True)
        name, tid = self._task[c]
        info["TimeLimit.truncated"] = bool(trunc.get(agent, False)) and not t
        info["terminal_observation"] = final
        info["episode"] = {
            "r": round(self._ep_ret[k], 6),
            "l": self._ep_len[k],
            "t": round(time.perf_counter() - self._t0, 6),
            "task": name,
            "task_id": tid,
        }
        self._ep_ret[k] = 0.0
        self._ep_len[k] = 0

    # -- SB3 VecEnv plumbing -----------------------------------------------------------------
    def action_masks(self) -> np.ndarray:
        """Action masks of every index for the current observations.

        Returns:
            ``bool [num_envs, n_actions]``: the env's ``infos[agent]["action_mask"]`` (or
            ``obs["action_mask"]``, or all ones) for live slots, the no-op alone for fillers.

        Raises:
            TypeError: If the action space is not ``Discrete``.
        """
        if not self._discrete:
            raise TypeError(
                f"action masks need a Discrete action space, this env has {self.action_space}"
            )
        return self._masks.copy()

    @property
    def live_mask(self) -> np.ndarray:
        """``bool [num_envs]``: True where the current observation belongs to a live agent."""
        return self._live_mask.copy()

    def _copies(self, indices: VecEnvIndices) -> list[int]:
        return [int(k) // self.n_agents for k in self._get_indices(indices)]

    def has_attr(self, attr_name: str) -> bool:
        """Whether every copy has ``attr_name`` (``action_masks``: whether actions are Discrete)."""
        if attr_name == "action_masks":
            return self._discrete
        return all(hasattr(env, attr_name) for env in self.envs)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The attribute of each index's copy (``action_masks``: a per-index mask function).

        Args:
            attr_name: Attribute name.
            indices: Indices (default: all).

        Returns:
            One value per index; indices of one copy get the same object.
        """
        if attr_name == "action_masks" and self._discrete:
            return [self._slot_mask_fn(int(k)) for k in self._get_indices(indices)]
        return [getattr(self.envs[c], attr_name) for c in self._copies(indices)]

    def _slot_mask_fn(self, k: int) -> Callable[[], np.ndarray]:
        def action_masks() -> np.ndarray:
            return self._masks[k].copy()

        return action_masks

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set ``attr_name`` on the copies of ``indices`` (once per copy)."""
        for c in dict.fromkeys(self._copies(indices)):
            setattr(self.envs[c], attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Call a method of the copies; ``"action_masks"`` gives each index's mask.

        A copy method is called once per copy named by ``indices`` and its result is repeated
        for each of those indices.

        Returns:
            One result per index.
        """
        idx = [int(k) for k in self._get_indices(indices)]
        if method_name == "action_masks" and self._discrete:
            return [self._masks[k].copy() for k in idx]
        results: dict[int, Any] = {}
        for k in idx:
            c = k // self.n_agents
            if c not in results:
                results[c] = getattr(self.envs[c], method_name)(*method_args, **method_kwargs)
        return [results[k // self.n_agents] for k in idx]

    def env_is_wrapped(
        self, wrapper_class: type[gymnasium.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        """Whether each index's copy has ``wrapper_class`` in its ``.env`` chain.

        Gymnasium wrappers such as SB3's ``Monitor`` are never found (the copies are
        ParallelEnvs); episode statistics are in ``infos[k]["episode"]`` all the same.
        """
        out = []
        for c in self._copies(indices):
            env: Any = self.envs[c]
            found = False
            seen = 0
            while env is not None and seen < 64:
                if isinstance(env, wrapper_class):
                    found = True
                    break
                env = env.__dict__.get("env") if hasattr(env, "__dict__") else None
                seen += 1
            out.append(found)
        return out

    def get_images(self) -> Sequence[np.ndarray | None]:
        """One ``rgb_array`` frame per copy (not per index)."""
        return [env.render() for env in self.envs]

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def __repr__(self) -> str:
        name = self.envs[0].metadata.get("name", type(self.envs[0]).__name__)
        return (
            f"SB3VecEnv({name}, n_copies={self.n_copies}, n_agents={self.n_agents}, "
            f"num_envs={self.num_envs})"
        )


def _shared_spaces(env: ParallelEnv, agents: list[str]) -> tuple[spaces.Space, spaces.Space, bool]:
    """The one observation and action space every agent shares (checked), and whether
    observations are PettingZoo's ``{"observation", "action_mask"}`` dicts."""
    obs0 = env.observation_space(agents[0])
    act0 = env.action_space(agents[0])
    diff = [
        f"{a}: {env.observation_space(a)} / {env.action_space(a)}"
        for a in agents[1:]
        if env.observation_space(a) != obs0 or env.action_space(a) != act0
    ]
    if diff:
        raise ValueError(
            f"agents have different spaces ({agents[0]}: {obs0} / {act0}; "
            + "; ".join(diff)
            + f"): {_PAD_HINT}"
        )
    dict_obs = False
    obs_space = obs0
    if isinstance(obs0, spaces.Dict):
        if set(obs0.spaces) != {"observation", "action_mask"}:
            raise TypeError(
                f"observation space {obs0} is a Dict: the bridge takes Box, Discrete, "
                "MultiDiscrete or MultiBinary observations, or PettingZoo's "
                "{'observation', 'action_mask'} dict; flatten other dicts first "
                "(supersuit.flatten_v0 or gymnasium.spaces.flatten)"
            )
        dict_obs = True
        obs_space = obs0["observation"]
    if not isinstance(obs_space, _OBS_SPACES):
        raise TypeError(
            f"observation space {obs_space} is not supported: the bridge takes Box, Discrete, "
            "MultiDiscrete or MultiBinary observations (flatten Tuple/Dict/Graph spaces first, "
            "e.g. with supersuit.flatten_v0)"
        )
    if not isinstance(act0, _ACT_SPACES):
        raise TypeError(
            f"action space {act0} is not supported: SB3 takes Discrete, Box, MultiDiscrete or "
            "MultiBinary actions"
        )
    for kind, sp in (("observation", obs_space), ("action", act0)):
        if isinstance(sp, spaces.Discrete) and int(sp.start) != 0:
            raise ValueError(
                f"{kind} space {sp} starts at {sp.start}: SB3 assumes Discrete spaces start at 0; "
                "shift the env's values to 0..n-1"
            )
    if dict_obs and not isinstance(act0, spaces.Discrete):
        raise TypeError(
            f"observations carry an action_mask but the action space {act0} is not Discrete: "
            "the bridge reads masks for Discrete actions only"
        )
    return obs_space, act0, dict_obs


def _filler(space: spaces.Space) -> np.ndarray:
    if isinstance(space, spaces.Box):
        low = np.broadcast_to(space.low, space.shape)
        high = np.broadcast_to(space.high, space.shape)
        return np.clip(np.zeros(space.shape), low, high).astype(space.dtype)
    if isinstance(space, spaces.MultiDiscrete):
        return np.asarray(space.start, dtype=space.dtype).copy()
    return np.zeros(space.shape or (), dtype=space.dtype or np.int64)


def _noop(space: spaces.Space) -> Any:
    if isinstance(space, spaces.Discrete):
        return int(space.n) - 1
    if isinstance(space, spaces.MultiDiscrete):
        return (np.asarray(space.nvec) - 1).astype(space.dtype)
    return _filler(space)


def _make_copies(env: EnvSource, n_copies: int) -> list[ParallelEnv]:
    if isinstance(env, AECEnv):
        raise TypeError(
            f"{type(env).__name__} is an AEC env: give a ParallelEnv (e.g. "
            "pettingzoo.utils.conversions.aec_to_parallel(env)) or a factory returning one"
        )
    if _is_parallel_env(env):
        try:
            return [copy.deepcopy(env) for _ in range(n_copies)]
        except Exception as exc:
            raise TypeError(
                f"could not deep-copy {type(env).__name__} to make {n_copies} copies ({exc}); "
                "pass a zero-argument factory instead, e.g. to_sb3_vec_env(lambda: make_env(), "
                "n_copies=...)"
            ) from exc
    if not callable(env):
        raise TypeError(
            f"env must be a PettingZoo ParallelEnv or a zero-argument factory returning one, got "
            f"{type(env).__name__}"
        )
    copies: list[ParallelEnv] = []
    for c in range(n_copies):
        made = env()
        if isinstance(made, AECEnv) or not _is_parallel_env(made):
            raise TypeError(
                f"the factory returned a {type(made).__name__}, not a PettingZoo ParallelEnv"
            )
        if any(made is other for other in copies):
            raise ValueError(
                f"the factory returned the same env object for copies {c} and "
                f"{[o is made for o in copies].index(True)}: it must build a new env per call "
                "(or pass the env itself, which is deep-copied)"
            )
        copies.append(made)
    return copies


def to_sb3_vec_env(
    env: EnvSource,
    n_copies: int = 1,
    seed: int | None = None,
    noop_action: Any = None,
) -> SB3VecEnv:
    """``n_copies`` copies of a ParallelEnv as one SB3 VecEnv with parameter sharing.

    Every agent of every copy is one SB3 env index (``k = copy * N + agent``). Agents that are not
    live (dead before their teammates, padding, not joined yet) become filler slots: see the
    module docstring for exactly what they report and what that means for ``PPO`` and
    ``MaskablePPO``.

    Example::

        from sb3_contrib import MaskablePPO
        from mt_envs import mast_v0
        from wrappers.sb3 import PerTaskLoggerCallback, to_sb3_vec_env

        venv = to_sb3_vec_env(lambda: mast_v0.parallel_env(tasks="mast-2a-4to8"), n_copies=8)
        model = MaskablePPO("MlpPolicy", venv, seed=0)
        model.learn(100_000, callback=PerTaskLoggerCallback())

    Args:
        env: A ParallelEnv, deep-copied ``n_copies`` times (the given object is a template and is
            never stepped), or a zero-argument factory called ``n_copies`` times, each call
            returning a new env. Every agent must share one observation space (``Box``,
            ``Discrete``, ``MultiDiscrete``, ``MultiBinary``, or PettingZoo's
            ``{"observation", "action_mask"}`` dict) and one action space (``Discrete``,
            ``Box``, ``MultiDiscrete``, ``MultiBinary``).
        n_copies: Number of env copies, >= 1; ``num_envs = n_copies * len(possible_agents)``.
        seed: Seed of the first reset (copy ``c`` gets ``seed + c``). A later ``seed(s)`` call
            replaces it (``PPO(seed=s)`` makes one). With neither, the first reset draws fresh OS
            entropy per copy.
        noop_action: The only action filler slots may take (and what the env is sent for agents
            it lists but that are padding). Default: the last action of a ``Discrete`` space
            (``n - 1``, the padding convention of :mod:`mt_envs.vector`), zeros clipped into a
            ``Box``.

    Returns:
        The :class:`SB3VecEnv`.

    Raises:
        ValueError: If ``n_copies < 1``, agents have different spaces (pad them with
            ``wrappers.PadObservations`` / ``PadActions`` or ``MultiTaskEnv(..., pad=True)``),
            copies differ, a factory returns the same object twice or ``noop_action`` is not an
            action.
        TypeError: If ``env`` is not a ParallelEnv or a factory of one (AEC envs included), or a
            space is of an unsupported kind.
    """
    if isinstance(n_copies, bool) or not isinstance(n_copies, (int, np.integer)) or n_copies < 1:
        raise ValueError(f"n_copies={n_copies!r} is invalid: need an int >= 1")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise ValueError(f"seed={seed!r} is invalid: need an int >= 0 or None")
    return SB3VecEnv(_make_copies(env, int(n_copies)), seed=seed, noop_action=noop_action)


class PerTaskLoggerCallback(BaseCallback):
    """Log episode statistics per task to SB3's logger.

    Reads ``infos[k]["episode"]`` (written by :class:`SB3VecEnv` for every real agent episode,
    with its ``task`` name) after every step and, at the end of each rollout, records for each task
    seen so far ``<prefix>/<task>/ep_rew_mean`` and ``ep_len_mean`` (means over the task's last
    ``window`` agent-episodes, like SB3's ``rollout/ep_rew_mean``) and ``episodes`` (agent-episodes
    of that task since training started). Episodes without a task are logged under ``"all"``.

    Args:
        window: Episodes per task in the running means (SB3's ``stats_window_size`` default).
        prefix: Logger key prefix.
        verbose: SB3 verbosity.

    Raises:
        ValueError: If ``window < 1``.
    """

    def __init__(self, window: int = 100, prefix: str = "rollout/task", verbose: int = 0) -> None:
        super().__init__(verbose)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window={window!r} is invalid: need an int >= 1")
        self.window = window
        self.prefix = prefix
        self.returns: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=window))
        self.lengths: dict[str, deque[int]] = defaultdict(lambda: deque(maxlen=window))
        self.counts: dict[str, int] = defaultdict(int)

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", ()):
            ep = info.get("episode")
            if ep is None:
                continue
            name = ep.get("task") or "all"
            self.returns[name].append(float(ep["r"]))
            self.lengths[name].append(int(ep["l"]))
            self.counts[name] += 1
        return True

    def _on_rollout_end(self) -> None:
        for name in sorted(self.returns):
            self.logger.record(
                f"{self.prefix}/{name}/ep_rew_mean", float(np.mean(self.returns[name]))
            )
            self.logger.record(
                f"{self.prefix}/{name}/ep_len_mean", float(np.mean(self.lengths[name]))
            )
            self.logger.record(f"{self.prefix}/{name}/episodes", self.counts[name])


def evaluate_per_task(
    policy: Any,
    env: EnvSource,
    n_episodes: int = 100,
    seed: int | None = 0,
    deterministic: bool = True,
    options: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, float]]:
    """Play whole episodes of one ParallelEnv and average returns and lengths per task.

    SB3's ``evaluate_policy`` counts ``done`` flags of a VecEnv, which filler slots raise in every
    step; this plays the ParallelEnv directly instead.

    Args:
        policy: An SB3 model (anything with ``predict(obs, deterministic=...)``; its
            ``action_masks=`` argument is given the env's masks when it has one, as
            ``MaskablePPO.predict`` does), or a callable ``(observations, infos) -> actions``
            over PettingZoo dicts (its ``reset()``, if any, is called at each episode start).
        env: The ParallelEnv (used as is, not copied) or a zero-argument factory of one.
        n_episodes: Episodes to play, >= 1.
        seed: Seed of the first reset (later resets continue its RNG streams); ``None``: unseeded.
        deterministic: Passed to ``predict``.
        options: Reset options of every episode (``{"task": i}`` plays task ``i`` of an mt-envs
            env or a :class:`~wrappers.multitask.MultiTaskEnv` only).

    Returns:
        ``{task: {"episodes", "return_mean", "return_std", "length_mean"}}`` sorted by task name
        (``"all"`` for envs that report no task). An episode's return is the mean over its agents
        of each agent's undiscounted return (the team return for shared rewards).

    Raises:
        ValueError: If ``n_episodes < 1`` or ``seed`` is not ``None`` or an int >= 0.
        TypeError: If ``options`` is not ``None`` or a dict.
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, int) or n_episodes < 1:
        raise ValueError(f"n_episodes={n_episodes!r} is invalid: need an int >= 1")
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(f"options={options!r} is invalid: need None or a dict of reset options")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise ValueError(f"seed={seed!r} is invalid: need an int >= 0 or None")
    par: Any = env if _is_parallel_env(env) else env()
    is_model = hasattr(policy, "predict")
    with_masks = is_model and "action_masks" in inspect.signature(policy.predict).parameters
    returns: dict[str, list[float]] = defaultdict(list)
    lengths: dict[str, list[int]] = defaultdict(list)
    for e in range(n_episodes):
        obs, infos = par.reset(
            seed=seed if e == 0 else None, options=None if options is None else dict(options)
        )
        name = "all"
        for agent in par.agents:
            found, _ = _task_of(infos.get(agent, {}))
            if found is not None:
                name = found
                break
        if not is_model and hasattr(policy, "reset"):
            policy.reset()
        ret: dict[str, float] = defaultdict(float)
        steps = 0
        while par.agents:
            agents = list(par.agents)
            if is_model:
                actions = _model_actions(policy, agents, obs, infos, with_masks, deterministic)
            else:
                actions = policy(obs, infos)
            obs, rew, _, _, infos = par.step(actions)
            for agent, r in rew.items():
                ret[agent] += float(r)
            steps += 1
        returns[name].append(float(np.mean(list(ret.values()))) if ret else 0.0)
        lengths[name].append(steps)
    return {
        name: {
            "episodes": len(returns[name]),
            "return_mean": float(np.mean(returns[name])),
            "return_std": float(np.std(returns[name])),
            "length_mean": float(np.mean(lengths[name])),
        }
        for name in sorted(returns)
    }


def _model_actions(
    model: Any,
    agents: list[str],
    obs: Mapping[str, Any],
    infos: Mapping[str, Mapping[str, Any]],
    with_masks: bool,
    deterministic: bool,
) -> dict[str, Any]:
    dict_obs = isinstance(obs[agents[0]], Mapping)
    batch = np.stack([obs[a]["observation"] if dict_obs else obs[a] for a in agents])
    kwargs: dict[str, Any] = {"deterministic": deterministic}
    if with_masks:
        masks = []
        for a in agents:
            m = infos.get(a, {}).get("action_mask")
            if m is None and dict_obs:
                m = obs[a]["action_mask"]
            masks.append(None if m is None else np.asarray(m, dtype=bool))
        if all(m is not None for m in masks):
            kwargs["action_masks"] = np.stack(masks)  # type: ignore[arg-type]
    act, _ = model.predict(batch, **kwargs)
    return {a: (int(x) if np.ndim(x) == 0 else x) for a, x in zip(agents, act, strict=True)}
