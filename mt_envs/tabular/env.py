"""The generic tabular ParallelEnv, driven by per-task tables (corridor, GridWorld, chain).

A family subclasses :class:`TabularEnv`, builds one :class:`TabularTaskTables` per task in
:meth:`TabularEnv.build_tables` and draws the episode in :meth:`TabularEnv.render_rgb` /
:meth:`TabularEnv.render_ansi`; the engine does everything else: modes, agents leaving, truncation,
seeding, infos, the global state, the tabular interface and the batched core
(:class:`~mt_envs.tabular.vector.TabularVectorEnv`).

Modes:

* ``"sampled"``: one group of ``n`` agents (``agent_0 .. agent_{n-1}``, ``n`` the agent count of the
  task models) plays one task per episode, chosen by the sampler or by
  ``reset(options={"task": i or task})``.
* ``"team"``: agent slot ``g * n + i`` plays agent ``i`` of its own copy of task ``g``, every
  episode; the copies never interact (DCPG's setting). ``options["task"]`` is refused.

An agent leaves ``agents`` when its own episode ends: its ``alive`` flag goes False (terminated) or
its task's horizon is reached (truncated). The env episode ends when no agent is left.
"""

from __future__ import annotations

import collections
import copy
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv

from mt_envs.capture.env import check_action
from mt_envs.tabular.core import CompiledTables, SingleCore
from mt_envs.tabular.model import TabularModel
from mt_envs.tasks import Task, TaskSampler, TaskSet, make_sampler
from mt_envs.utils import check_action_dict, check_options, check_seed

RENDER_MODES = ("human", "rgb_array", "ansi")
MODES = ("team", "sampled")


def _readonly(array: np.ndarray, dtype: Any) -> np.ndarray:
    out = np.array(array, dtype=dtype, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class TabularTaskTables:
    """What a family builds for one task: its model plus what each agent sees.

    Args:
        model: The joint Markov model of the ``n`` agents sharing the task (corridor: ``n = 2``;
            GridWorld and chain: ``n = 1``). Its ``action_shape`` must be ``(n_act,) * n``.
        obs: Observation of each agent in each model state: ``[S, n]`` scalars (``Discrete``
            spaces, int64), or ``[S, n, D]`` vectors (int64 for ``MultiDiscrete``, float32 for
            ``Box``).
        alive: ``bool [S, n]``: whether the agent still plays in state ``s`` (is in
            ``env.agents``). Must satisfy ``terminal == ~alive.any(1)``; an agent that is not
            alive stays so in every successor, earns zero reward and is alive in every start state.
        horizon: Truncation after this many steps (>= 1).

    Raises:
        ValueError: Shapes, dtypes or the rules above are violated (the message says which).
    """

    model: TabularModel
    obs: np.ndarray
    alive: np.ndarray
    horizon: int

    def __post_init__(self) -> None:
        model = self.model
        if not isinstance(model, TabularModel):
            raise TypeError(f"TabularTaskTables.model must be a TabularModel, got {model!r}")
        s = model.n_states
        obs = np.asarray(self.obs)
        alive = np.asarray(self.alive)
        if obs.ndim not in (2, 3) or obs.shape[0] != s:
            raise ValueError(
                f"TabularTaskTables.obs must have shape [S={s}, n] or [S={s}, n, D], got "
                f"{obs.shape}"
            )
        n = obs.shape[1]
        if alive.shape != (s, n) or alive.dtype != np.bool_:
            raise ValueError(
                f"TabularTaskTables.alive must be bool [S={s}, n={n}], got {alive.dtype} "
                f"{alive.shape}"
            )
        if len(model.action_shape) != n or len(set(model.action_shape)) != 1:
            raise ValueError(
                f"the model's action_shape {model.action_shape} must be (n_act,) * n with n={n} "
                "agents (one entry per agent, all equal)"
            )
        if model.n_agents != n:
            raise ValueError(f"the model has {model.n_agents} reward channels for n={n} agents")
        if obs.dtype.kind in "iu":
            obs = obs.astype(np.int64)
        elif obs.dtype.kind == "f":
            obs = obs.astype(np.float32)
        else:
            raise ValueError(f"TabularTaskTables.obs must be integer or float, got {obs.dtype}")
        h = self.horizon
        if not isinstance(h, (int, np.integer)) or isinstance(h, bool) or h < 1:
            raise ValueError(f"TabularTaskTables.horizon={h!r} is invalid: need an int >= 1")
        if not np.array_equal(model.terminal, ~alive.any(axis=1)):
            bad = int(np.flatnonzero(model.terminal != ~alive.any(axis=1))[0])
            raise ValueError(
                f"state {bad}: terminal={bool(model.terminal[bad])} but alive={alive[bad]}; a "
                "state must be terminal exactly when no agent is alive"
            )
        reach = model.prob > 0  # [S, A, K]
        succ_alive = alive[model.next_state]  # [S, A, K, n]
        revived = reach[..., None] & succ_alive & ~alive[:, None, None, :]
        if revived.any():
            st, _a, _k, i = np.argwhere(revived)[0]
            raise ValueError(f"agent {i} is not alive in state {st} but alive in a successor")
        paid = np.where(reach[..., None], model.successor_reward, 0.0) != 0
        if np.any(paid & ~alive[:, None, None, :]):
            st, _a, _k, i = np.argwhere(paid & ~alive[:, None, None, :])[0]
            raise ValueError(f"agent {i} is not alive in state {st} but is paid a reward there")
        if not alive[model.start > 0].all():
            raise ValueError("every agent must be alive in every start state")
        object.__setattr__(self, "obs", _readonly(obs, obs.dtype))
        object.__setattr__(self, "alive", _readonly(alive, bool))
        object.__setattr__(self, "horizon", int(h))

    @property
    def n_agents(self) -> int:
        """Agents ``n`` sharing the task."""
        return int(self.obs.shape[1])


#: Caches of built tables and compiled sets (values are read-only, so sharing is safe).
_TABLES: collections.OrderedDict[Hashable, TabularTaskTables] = collections.OrderedDict()
_COMPILED: collections.OrderedDict[Hashable, CompiledTables] = collections.OrderedDict()
_CACHE_SIZE = 64


def _cached(cache: collections.OrderedDict, key: Hashable, build: Any) -> Any:
    try:
        value = cache[key]
        cache.move_to_end(key)
        return value
    except KeyError:
        pass
    except TypeError:  # unhashable key (a task with list fields): no caching
        return build()
    value = build()
    cache[key] = value
    if len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)
    return value


def _space_bounds(space: gymnasium.spaces.Space) -> tuple[np.ndarray, np.ndarray]:
    """Flat float32 ``(low, high)`` of one observation."""
    if isinstance(space, gymnasium.spaces.Discrete):
        lo = np.array([space.start], dtype=np.float32)
        return lo, lo + np.float32(space.n - 1)
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        start = np.asarray(getattr(space, "start", np.zeros_like(space.nvec)))
        lo = start.astype(np.float32).ravel()
        return lo, lo + (space.nvec.astype(np.float32).ravel() - 1)
    if isinstance(space, gymnasium.spaces.Box):
        return space.low.astype(np.float32).ravel(), space.high.astype(np.float32).ravel()
    raise TypeError(
        f"tabular envs support Discrete, MultiDiscrete and Box observations, got {space}"
    )


class TabularEnv(ParallelEnv):
    """A ParallelEnv over a task set of tabular models (see the module docstring).

    Subclasses set the class attributes ``metadata`` (their own dict, with ``name``),
    ``task_class``, ``default_tasks`` and ``modes`` (the first is the default), and implement
    :meth:`build_tables`, :meth:`_agent_observation_space`, :meth:`render_rgb` and
    :meth:`render_ansi`; :meth:`state_index`, :meth:`n_states`, :meth:`vector_observation` and
    :meth:`_table_key` have defaults. Family keywords are stored by the subclass before it calls
    ``super().__init__``.

    Args:
        tasks: Task set, registered set name, one task or a list of tasks (default
            ``default_tasks``).
        mode: ``"team"`` or ``"sampled"`` (default: the first of ``modes``).
        sampler: Task sampler of sampled mode: ``"uniform"``, ``"round_robin"`` or a
            :class:`~mt_envs.tasks.TaskSampler`.
        seed_task: Seed of the task sampler (``None``: derived from each ``reset(seed=...)``).
        render_mode: ``None``, ``"human"``, ``"rgb_array"`` or ``"ansi"``.

    Raises:
        ValueError: Unknown mode or render mode, tasks of another family, tasks whose models
            have different agent or action counts or observation shapes.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "tabular_v0",
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
        "render_fps": 4,
    }
    task_class: ClassVar[type[Task]] = Task
    default_tasks: ClassVar[str] = ""
    modes: ClassVar[tuple[str, ...]] = MODES
    #: Every reset and step builds new per-agent info dicts that the env never touches again, so
    #: wrappers (``wrappers.MultiTaskEnv``) may add their keys in place instead of copying.
    fresh_infos: ClassVar[bool] = True

    def __init__(
        self,
        tasks: TaskSet | str | Task | Sequence[Task] | None = None,
        mode: str | None = None,
        sampler: str | TaskSampler = "uniform",
        seed_task: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        mode = self.modes[0] if mode is None else mode
        if mode not in self.modes:
            raise ValueError(
                f"mode={mode!r} is invalid for {self.metadata['name']}: use one of {self.modes}"
            )
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode={render_mode!r} is invalid: use None or {RENDER_MODES}")
        self.mode = mode
        self.render_mode = render_mode
        self.task_set = TaskSet.coerce(self.default_tasks if tasks is None else tasks)
        for i, t in enumerate(self.task_set):
            if not isinstance(t, self.task_class):
                raise TypeError(
                    f"task {i} of set {self.task_set.name!r} is a {type(t).__name__}: "
                    f"{self.metadata['name']} takes {self.task_class.__name__} tasks"
                )
        self._obs_space = self._agent_observation_space()
        self._build_tables()
        self.team = mode == "team"
        self.core = SingleCore(self.compiled, self.team)
        self.n_group = self.compiled.n
        self.seed_task = check_seed(seed_task, "seed_task")
        self.sampler = make_sampler(sampler, len(self.task_set), self.seed_task)
        n_slots = self.core.N
        self.possible_agents = [f"agent_{k}" for k in range(n_slots)]
        self._slot = {a: k for k, a in enumerate(self.possible_agents)}
        n = self.n_group
        #: Agent name -> (slot, group, index in the group).
        self._where = {a: (k, k // n, k % n) for a, k in self._slot.items()}
        self.agents: list[str] = []
        act_space = gymnasium.spaces.Discrete(self.compiled.n_act)
        self.observation_spaces = dict.fromkeys(self.possible_agents, self._obs_space)
        self.action_spaces = dict.fromkeys(self.possible_agents, act_space)
        lo, hi = _space_bounds(self._obs_space)
        self.state_space = gymnasium.spaces.Box(
            np.tile(lo, n_slots), np.tile(hi, n_slots), dtype=np.float32
        )
        mask = np.ones(self.compiled.n_act, dtype=np.int8)
        mask.flags.writeable = False
        self._action_mask = mask
        self._acts = [self.compiled.n_act - 1] * n_slots
        self.num_steps = 0
        self._renderer: Any = None
        self._set_group_tasks()

    # -- hooks ---------------------------------------------------------------------------------
    def build_tables(self, task: Any) -> TabularTaskTables:
        """The tables of one task of this family (implemented by every family).

        Args:
            task: A task of ``task_class``.

        Returns:
            Its :class:`TabularTaskTables`.
        """
        raise NotImplementedError

    def _agent_observation_space(self) -> gymnasium.spaces.Space:
        """The observation space of every agent (called once by the constructor)."""
        raise NotImplementedError

    def _table_key(self) -> Hashable:
        """Every family keyword that changes :meth:`build_tables` or the observation hooks (the
        key of the table cache); ``()`` when there is none."""
        return ()

    def state_index(self, obs: Any) -> int:
        """Flat tabular index in ``[0, n_states)`` of one agent's observation.

        ``Discrete(n, start)``: ``obs - start``; ``MultiDiscrete(nvec)``: the C-order flat index
        ``numpy.ravel_multi_index(obs, nvec)``. Families with ``Box`` observations override it.
        """
        return int(self.state_indices(np.asarray(obs)[None])[0])

    def state_indices(self, obs: np.ndarray) -> np.ndarray:
        """:meth:`state_index` of a batch of observations ``[M, ...]`` (``int64 [M]``)."""
        space = self._obs_space
        obs = np.asarray(obs)
        if isinstance(space, gymnasium.spaces.Discrete):
            return obs.astype(np.int64).reshape(-1) - int(space.start)
        if isinstance(space, gymnasium.spaces.MultiDiscrete):
            start = np.asarray(getattr(space, "start", np.zeros_like(space.nvec)))
            flat = obs.reshape(obs.shape[0], -1).astype(np.int64) - start.ravel()
            return np.ravel_multi_index(tuple(flat.T), tuple(int(v) for v in space.nvec.ravel()))
        raise NotImplementedError(
            f"{type(self).__name__} has {space} observations: override state_indices"
        )

    @property
    def n_states(self) -> int:
        """Number of tabular observation indices (the range of :meth:`state_index`)."""
        space = self._obs_space
        if isinstance(space, gymnasium.spaces.Discrete):
            return int(space.n)
        if isinstance(space, gymnasium.spaces.MultiDiscrete):
            return int(np.prod(space.nvec))
        raise NotImplementedError(f"{type(self).__name__} has {space} observations: override")

    @property
    def n_actions(self) -> int:
        """Actions per agent."""
        return int(self.compiled.n_act)

    def vector_observation_space(self) -> gymnasium.spaces.Box:
        """The flat ``Box`` of one agent's observation in the vector API.

        Default: one-hot of ``Discrete(n)`` (``Box(0, 1, (n,))``); the values of ``MultiDiscrete``
        as floats; a ``Box`` flattened.
        """
        space = self._obs_space
        if isinstance(space, gymnasium.spaces.Discrete):
            return gymnasium.spaces.Box(0.0, 1.0, (int(space.n),), np.float32)
        lo, hi = _space_bounds(space)
        return gymnasium.spaces.Box(lo, hi, dtype=np.float32)

    def vector_observation(self, obs: np.ndarray) -> np.ndarray:
        """Vector-API observations ``float32 [M, D]`` of per-agent observations ``[M, ...]``."""
        space = self._obs_space
        obs = np.asarray(obs)
        if isinstance(space, gymnasium.spaces.Discrete):
            idx = obs.reshape(-1).astype(np.int64) - int(space.start)
            return np.eye(int(space.n), dtype=np.float32)[idx]
        return obs.reshape(obs.shape[0], -1).astype(np.float32)

    def render_rgb(self) -> np.ndarray:
        """The current episode as ``uint8 [H, W, 3]`` (implemented by every family)."""
        raise NotImplementedError

    def render_ansi(self) -> str:
        """The current episode as text (implemented by every family)."""
        raise NotImplementedError

    # -- building ------------------------------------------------------------------------------
    def _build_tables(self) -> None:
        """Set ``tables``, ``compiled``, ``models`` and ``obs_indices`` from the task set and the
        family keywords (through the module caches), checking that the tasks agree."""
        key = self._table_key()
        self.tables: tuple[TabularTaskTables, ...] = tuple(
            _cached(_TABLES, (type(self), key, t), lambda t=t: self._checked_tables(t))
            for t in self.task_set
        )
        self._check_compatible()
        self.compiled: CompiledTables = _cached(
            _COMPILED, (type(self), key, self.task_set.tasks), self._compile
        )
        self.models: tuple[TabularModel, ...] = tuple(t.model for t in self.tables)
        self.obs_indices: tuple[np.ndarray, ...] = tuple(
            self.compiled.obs_index[o : o + m.n_states]
            for o, m in zip(self.compiled.offset.tolist(), self.models, strict=True)
        )

    def _checked_tables(self, task: Task) -> TabularTaskTables:
        tables = self.build_tables(task)
        if not isinstance(tables, TabularTaskTables):
            raise TypeError(f"build_tables must return TabularTaskTables, got {type(tables)}")
        return tables

    def _check_compatible(self) -> None:
        first = self.tables[0]
        space = self._obs_space
        for i, t in enumerate(self.tables):
            if (t.n_agents, t.model.action_shape, t.obs.shape[2:]) != (
                first.n_agents,
                first.model.action_shape,
                first.obs.shape[2:],
            ):
                raise ValueError(
                    f"task {i} ({self.task_set[i].name}) has {t.n_agents} agents, actions "
                    f"{t.model.action_shape} and observations {t.obs.shape[2:]}; task 0 has "
                    f"{first.n_agents}, {first.model.action_shape}, {first.obs.shape[2:]}: a task "
                    "set must agree on them"
                )
            if not _inside(t.obs, space):
                raise ValueError(
                    f"task {i} ({self.task_set[i].name}) has observations outside {space}"
                )

    def _compile(self) -> CompiledTables:
        # The vector observations are left to the batched env (vector_table): a one-hot table
        # has n_states * rows * cols entries, 16 GiB for one 256 x 256 GridWorld task.
        obs_index, state_part = [], []
        for t in self.tables:
            s, n = t.obs.shape[:2]
            flat = t.obs.reshape(s * n, *t.obs.shape[2:])
            obs_index.append(self.state_indices(flat).reshape(s, n))
            state_part.append(flat.reshape(s, -1).astype(np.float32))
        return CompiledTables.build(self.tables, obs_index, None, state_part)

    def vector_table(self) -> np.ndarray:
        """Every agent's vector-API observation (:meth:`vector_observation`) in every state of
        the compiled task set, ``float32 [n_total, n, D]``: the lookup table of the batched env,
        built on demand (for one-hot observations it has ``n_total * D`` entries)."""
        obs = self.compiled.obs
        s, n = obs.shape[:2]
        flat = obs.reshape(s * n, *obs.shape[2:])
        return self.vector_observation(flat).reshape(s, n, -1).astype(np.float32)

    def _set_group_tasks(self) -> None:
        """Per agent slot: task id and task (team: fixed; sampled: the episode's task)."""
        n = self.n_group
        tasks = self.core.group_task
        self._slot_task_id = [tasks[k // n] for k in range(self.core.N)]
        self._slot_task = [self.task_set[i] for i in self._slot_task_id]

    # -- spaces --------------------------------------------------------------------------------
    def observation_space(self, agent: str) -> gymnasium.spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Space:
        return self.action_spaces[agent]

    # -- episode -------------------------------------------------------------------------------
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        seed = check_seed(seed)
        check_options(options)
        if seed is not None:
            dyn, task_seq = np.random.SeedSequence(seed).spawn(2)
            self.core.seed(dyn)
            if self.seed_task is None:
                self.sampler.seed(task_seq)
        if self.team:
            if options and options.get("task") is not None:
                raise ValueError(
                    "reset(options={'task': ...}) is for mode='sampled'; in mode='team' agent "
                    "slot g * n + i always plays task g. Build the env with mode='sampled' to "
                    "choose the task of an episode"
                )
            self.core.reset()
        else:
            self.core.reset(self._task_from_options(options))
            self._set_group_tasks()
        self.num_steps = 0
        core = self.core
        self.agents = [a for a, k in self._slot.items() if core.active[k]]
        obs, infos = self._observe(self.agents)
        if self.render_mode == "human":
            self.render()
        return obs, infos

    def _task_from_options(self, options: dict[str, Any] | None) -> int:
        # Other option keys are ignored, as PettingZoo's api_test requires.
        if not options or options.get("task") is None:
            return int(self.sampler.sample(1)[0])
        return self.task_set.task_id(options["task"])

    def _observe(self, agents: list[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        core, n, slot = self.core, self.n_group, self._slot
        obs: dict[str, Any] = {}
        infos: dict[str, dict[str, Any]] = {}
        mask = self._action_mask
        for agent in agents:
            k = slot[agent]
            _alive, views, index = core.look(core.s[k // n])
            i = k % n
            obs[agent] = views[i]
            # A fresh dict per agent and step (values are immutable or read-only).
            infos[agent] = {
                "task_id": self._slot_task_id[k],
                "task": self._slot_task[k],
                "action_mask": mask,
                "state_index": index[i],
            }
        return obs, infos

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, Any],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        if not self.agents:
            raise RuntimeError(
                "step() called on a finished episode (or before reset()): call reset() first"
            )
        acts, slot, n_act = self._acts, self._slot, self.compiled.n_act
        live = self.agents
        if type(actions) is not dict:
            check_action_dict(actions, live)
        for agent in live:
            try:
                a = actions[agent]
            except KeyError:
                raise ValueError(
                    f"missing action for live agent {agent!r}: expected one action for each of "
                    f"{live}"
                ) from None
            # Fast path for plain ints in range (never bools: type() is exact).
            if type(a) is not int or not 0 <= a < n_act:
                a = check_action(agent, a, n_act)
            acts[slot[agent]] = a
        if len(actions) != len(live):
            # Actions of agents whose episode is over are ignored, as in the capture envs (a
            # policy mapping over the last observations sends them); unknown names are errors.
            unknown = [a for a in actions if a not in slot]
            if unknown:
                raise ValueError(
                    f"actions for unknown agent(s) {unknown}; possible agents are "
                    f"{self.possible_agents}"
                )
        core = self.core
        rewards, term_now, trunc_now = core.step(acts)
        self.num_steps += 1
        states, looks, active = core.s, core._look, core.active
        slot_task_id, slot_task, mask = self._slot_task_id, self._slot_task, self._action_mask
        obs: dict[str, Any] = {}
        rew: dict[str, float] = {}
        term: dict[str, bool] = {}
        trunc: dict[str, bool] = {}
        infos: dict[str, dict[str, Any]] = {}
        agents = []
        for agent in live:
            k, g, i = self._where[agent]
            s = states[g]
            _alive, views, index = looks[s] or core.look(s)
            obs[agent] = views[i]
            rew[agent] = rewards[k]
            term[agent] = term_now[k]
            trunc[agent] = trunc_now[k]
            # A fresh dict per agent and step (values are immutable or read-only).
            infos[agent] = {
                "task_id": slot_task_id[k],
                "task": slot_task[k],
                "action_mask": mask,
                "state_index": index[i],
            }
            if active[k]:
                agents.append(agent)
        self.agents = agents
        if self.render_mode == "human":
            self.render()
        return obs, rew, term, trunc, infos

    def state(self) -> np.ndarray:
        """Global state: every agent slot's observation as floats, concatenated
        (``float32 [N * d]``; done agents read their group's current state)."""
        return self.compiled.state_part[self.core.s].reshape(-1)

    @property
    def deterministic(self) -> bool:
        """True when the env draws no random number at all (deterministic dynamics and start, and
        no task sampling: team mode or a single task); every seed then gives one trajectory."""
        c = self.compiled
        return not (c.stochastic or c.random_start) and (self.team or len(self.task_set) == 1)

    # -- views for renderers -------------------------------------------------------------------
    @property
    def group_tasks(self) -> list[int]:
        """Task id of each group (team mode: ``0 .. T - 1``; sampled mode: the episode's task)."""
        return list(self.core.group_task)

    @property
    def model_states(self) -> list[int]:
        """Current state of each group in its own task's model (``0 .. S_task - 1``)."""
        off = self.compiled.offset
        return [int(s - off[k]) for s, k in zip(self.core.s, self.core.group_task, strict=True)]

    @property
    def agent_active(self) -> list[bool]:
        """Whether each agent slot (``possible_agents`` order) is still playing."""
        return list(self.core.active)

    # -- rendering -----------------------------------------------------------------------------
    def render(self) -> np.ndarray | str | None:
        if self.render_mode is None:
            gymnasium.logger.warn(
                "render() called with render_mode=None; build the env with render_mode="
                "'rgb_array', 'human' or 'ansi'"
            )
            return None
        if self.render_mode == "ansi":
            return self.render_ansi()
        frame = self.render_rgb()
        if self.render_mode == "rgb_array":
            return frame
        if self._renderer is None:
            from mt_envs.tabular.rendering import HumanWindow

            self._renderer = HumanWindow(self.metadata["name"], self.metadata["render_fps"])
        self._renderer.show(frame)
        return None

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_renderer"] = None  # a pygame window cannot be pickled; reopened on demand
        # The tables are a function of the task set and the family keywords (read-only values
        # shared through the module caches). Pickled, they weighed 65 MB for the corridor's five
        # tasks, so they are left out and rebuilt (or found in the caches) on unpickling.
        for name in ("tables", "compiled", "models", "obs_indices"):
            del state[name]
        core = copy.copy(self.core)
        core.tables = None  # type: ignore[assignment]  # restored by __setstate__
        state["core"] = core
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._build_tables()
        self.core.tables = self.compiled


def _inside(obs: np.ndarray, space: gymnasium.spaces.Space) -> bool:
    """Whether every observation of a table ``[S, n, ...]`` lies in ``space``: one vectorised
    dtype, shape and bounds test (``space.contains`` per distinct observation took a second on
    the corridor's 14k rows)."""
    if obs.dtype != space.dtype:
        return False
    lo, hi = _space_bounds(space)
    flat = obs.reshape(obs.shape[0] * obs.shape[1], -1).astype(np.float64)
    if flat.shape[1] != lo.shape[0]:
        return False
    return bool(np.all(flat >= lo) and np.all(flat <= hi))
