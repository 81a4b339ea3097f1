"""The base of the tabular learners: numpy tables over observation indices, SB3's contract.

:class:`TabularAlgorithm` is a :class:`~mt_agents.common.MultiAgentAlgorithm` whose policies are
tables ``[n_states, n_actions]`` indexed by each agent's tabular observation index
(``info["state_index"]`` of :class:`~mt_envs.tabular.TabularVectorEnv`, ``env.state_index(obs)``
of the ParallelEnv). It reuses the base's logger, callbacks, progress bar and safe model files
(the tables go into the zip as ``tables/<name>.npy``) and adds:

* env handling: a tabular ParallelEnv (corridor, GridWorld, chain) is replaced by the native
  batched env of the same class, tasks, mode and options (one copy); the tabular interface
  (``n_states``, ``n_actions``, ``models``, ``obs_indices``) is read from it;
* ``predict`` on PettingZoo dicts of raw observations, on the vector API's ``[B, N, D]`` arrays
  (one-hot or ``MultiDiscrete`` values) and on observation indices (:meth:`predict_indices`);
* per-agent episode statistics (``rollout/agent/<agent>/ep_rew_mean``) besides the per-task ones,
  and :attr:`TabularAlgorithm.episode_history` (one record per finished episode, per agent);
* :meth:`TabularAlgorithm.policy_table`, an agent's action probabilities.

Everything in the hot loops is numpy over the batch and the agents at once; there is no torch.
"""

from __future__ import annotations

import abc
import os
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import gymnasium
import numpy as np

from mt_agents.common import serialization as ser
from mt_agents.common.base import MultiAgentAlgorithm
from mt_agents.common.serialization import ModelFileError
from mt_agents.common.utils import key_name, safe_mean
from mt_envs.tabular.env import TabularEnv
from mt_envs.tabular.vector import TabularVectorEnv
from mt_envs.tasks import TaskSet
from mt_envs.utils import unknown_name_error

if TYPE_CHECKING:
    import torch
    from typing_extensions import Self

__all__ = ["EpisodeTracker", "TabularAlgorithm", "as_tabular_vector_env", "sample_actions"]

#: Family keywords a tabular env keeps as attributes (the rest live in its task set).
_FAMILY_KEYWORDS = ("obs_type",)


def _family_kwargs(env: TabularEnv) -> dict[str, Any]:
    return {k: getattr(env, k) for k in _FAMILY_KEYWORDS if hasattr(env, k)}


def as_tabular_vector_env(env: Any, num_envs: int = 1) -> TabularVectorEnv:
    """The native batched tabular env to learn on.

    Args:
        env: A :class:`~mt_envs.tabular.TabularVectorEnv` (returned as is) or a tabular
            ParallelEnv (``corridor_v0.parallel_env(...)``, ``gridworld_v0``, ``chain_v0``):
            replaced by the batched env of the same class, tasks, mode, sampler and options.
        num_envs: Copies for a ParallelEnv.

    Returns:
        The batched env.

    Raises:
        TypeError: For any other env (the tabular learners need observation indices).
    """
    if isinstance(env, TabularVectorEnv):
        return env
    if isinstance(env, TabularEnv):
        return TabularVectorEnv(
            num_envs,
            type(env),
            tasks=env.task_set,
            mode=env.mode,
            sampler=env.sampler,
            seed_task=env.seed_task,
            **_family_kwargs(env),
        )
    raise TypeError(
        f"the tabular learners need a tabular env (corridor_v0, gridworld_v0, chain_v0: their "
        f"ParallelEnv or vector_env), got {type(env).__name__}"
    )


def sample_actions(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row of ``probs [..., A]`` (inverse CDF, one uniform draw per row)."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(probs.shape[:-1])[..., None] * cdf[..., -1:]
    return np.minimum((cdf <= u).sum(axis=-1), probs.shape[-1] - 1).astype(np.int64)


class EpisodeTracker:
    """Per-agent returns of the episodes running in ``M`` env rows.

    Args:
        rows: ``M``, env rows tracked.
        agents: ``N``, agent slots per row.
        gamma: Discount of the discounted returns.
    """

    def __init__(self, rows: int, agents: int, gamma: float) -> None:
        self.gamma = gamma
        self.ret = np.zeros((rows, agents))
        self.disc = np.zeros((rows, agents))
        self.factor = np.ones(rows)
        self.length = np.zeros(rows, dtype=np.int64)
        self.team = np.full(rows, float(agents))

    def restart(self, rows: np.ndarray, live: np.ndarray) -> None:
        """Start new episodes in ``rows`` (``live [M, N]``: the agents playing there)."""
        self.ret[rows] = 0.0
        self.disc[rows] = 0.0
        self.factor[rows] = 1.0
        self.length[rows] = 0
        self.team[rows] = np.maximum(np.asarray(live)[rows].sum(axis=-1), 1)

    def add(self, rewards: np.ndarray, rows: np.ndarray | slice = slice(None)) -> None:
        """Add one step's rewards ``[M, N]`` (or of ``rows`` only)."""
        r = np.asarray(rewards, dtype=np.float64)
        self.ret[rows] += r
        self.disc[rows] += self.factor[rows, None] * r
        self.factor[rows] *= self.gamma
        self.length[rows] += 1


class TabularAlgorithm(MultiAgentAlgorithm):
    """Base class of the tabular learners (see the module docstring).

    Attributes:
        n_states: Observation indices per agent (``env.n_states``).
        n_actions: Actions per agent.
        num_tasks: Tasks in the env's task set.
        team: Whether the env is in team mode (agent slot ``g * n + i`` plays task ``g``).
        group_size: ``n``, agents per task (corridor 2, GridWorld and chain 1).
        models: The tasks' :class:`~mt_envs.tabular.TabularModel` (for exact evaluation).
        obs_indices: Per task, ``int [S_task, n]``: each agent's observation index in every
            model state.
        episode_history: One dict per finished episode: ``task_id``, ``returns`` and
            ``disc_returns`` (per agent slot; agents that did not play get 0), ``length``,
            ``success`` (some agent terminated) and learner-specific keys.

    Args:
        env: A tabular env (see :func:`as_tabular_vector_env`); ``None`` only when loading.
        learning_rate: Step size.
        gamma: Discount factor in [0, 1].
        device: Accepted for the common signature; the tables live in numpy on the CPU.
        seed: Seeds the learner's generator and the env's first reset.
        tensorboard_log: Folder of the csv / tensorboard logs (``None``: none).
        verbose: 0 silent, 1 prints the logger's tables.
        stats_window_size: Episodes per running mean of the ``rollout/`` statistics.
        _init_setup_model: Build the tables.

    Raises:
        TypeError: For an env that is not tabular.
    """

    def __init__(
        self,
        env: Any,
        *,
        learning_rate: float,
        gamma: float,
        device: Any = "auto",
        seed: int | None = None,
        tensorboard_log: str | os.PathLike[str] | None = None,
        verbose: int = 0,
        stats_window_size: int = 100,
        _init_setup_model: bool = True,
    ) -> None:
        venv = None if env is None else as_tabular_vector_env(env)
        super().__init__(
            venv,
            learning_rate=learning_rate,
            gamma=gamma,
            device="cpu" if device == "auto" else device,
            seed=seed,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            stats_window_size=stats_window_size,
            _init_setup_model=_init_setup_model,
        )
        self.episode_history: list[dict[str, Any]] = []
        self.agent_ep_info_buffers: dict[int, deque[float]] = {}
        if venv is not None:
            self._read_env(venv)

    def _read_env(self, venv: TabularVectorEnv) -> None:
        template = venv.template
        self.template = template
        self.n_states = int(template.n_states)
        self.n_actions = int(template.n_actions)
        self.num_tasks = len(template.task_set)
        self.team = bool(template.team)
        self.group_size = int(template.n_group)
        self.models = template.models
        self.obs_indices = template.obs_indices
        self.env_spec = {
            "env_id": str(template.metadata["name"]),
            "mode": str(template.mode),
            "kwargs": _family_kwargs(template),
        }

    def set_env(self, env: Any, force_reset: bool = True) -> None:
        """Train on another tabular env of the same spaces, agents and tasks.

        Raises:
            ValueError: When its spaces, agent count or observation indices differ.
        """
        venv = as_tabular_vector_env(env)
        if (venv.n_states, venv.n_actions) != (self.n_states, self.n_actions):
            raise ValueError(
                f"env has {venv.n_states} observation indices and {venv.n_actions} actions, "
                f"this model {self.n_states} and {self.n_actions}"
            )
        super().set_env(venv, force_reset)
        self._read_env(venv)

    # ------------------------------------------------------------------ agents and tables

    def agent_index(self, agent: int | str) -> int:
        """The slot of ``agent`` (a name such as ``"agent_1"`` or an index).

        Raises:
            ValueError: For an unknown name or an index out of range.
        """
        if isinstance(agent, str):
            if agent not in self.possible_agents:
                raise unknown_name_error("agent", agent, self.possible_agents)
            return self.possible_agents.index(agent)
        if isinstance(agent, (int, np.integer)) and 0 <= int(agent) < self.num_agents:
            return int(agent)
        raise ValueError(
            f"agent={agent!r} is invalid: use a name of {self.possible_agents} or an index in "
            f"[0, {self.num_agents - 1}]"
        )

    def task_index(self, task: int | str | None) -> int | None:
        """The id of ``task`` (an id, a task name or ``None``) in the env's task set."""
        if task is None:
            return None
        if isinstance(task, str):
            assert self.task_set is not None
            return self.task_set.task_id(task)
        if isinstance(task, (int, np.integer)) and 0 <= int(task) < self.num_tasks:
            return int(task)
        raise ValueError(f"task={task!r} is invalid: use a task id in [0, {self.num_tasks - 1}]")

    def slot_tasks(self) -> np.ndarray:
        """``int [N]``: the task each agent slot plays in team mode (``-1`` in sampled mode)."""
        if not self.team:
            return np.full(self.num_agents, -1, dtype=np.int64)
        return np.arange(self.num_agents, dtype=np.int64) // self.group_size

    @abc.abstractmethod
    def policy_table(
        self, agent: int | str, task: int | str | None = None, greedy: bool = False
    ) -> np.ndarray:
        """The agent's current action probabilities, ``float64 [n_states, n_actions]``.

        Args:
            agent: Agent name or slot.
            task: For learners with per-task policies, which task's (``None``: the
                task-agnostic one, where there is one).
            greedy: The deterministic policy ``predict(deterministic=True)`` plays instead.
        """

    @abc.abstractmethod
    def _action_probs(
        self, state_index: np.ndarray, task_id: np.ndarray | None, greedy: bool
    ) -> np.ndarray:
        """``[B, N, A]`` probabilities of every slot's action, from indices ``[B, N]`` and the
        task ids ``[B]`` (``None`` when unknown)."""

    # ------------------------------------------------------------------ predict

    def predict_indices(
        self,
        state_index: np.ndarray,
        task_id: np.ndarray | int | None = None,
        deterministic: bool = False,
    ) -> np.ndarray:
        """Actions from observation indices.

        Args:
            state_index: ``int [B, N]`` (or ``[N]``) observation indices (``info["state_index"]``).
            task_id: Task of each row (``[B]`` or one int) for learners with per-task policies.
            deterministic: Play the greedy policy.

        Returns:
            ``int64 [B, N]`` (``[N]``) actions.

        Raises:
            ValueError: For indices of the wrong shape or out of range.
        """
        idx = np.asarray(state_index)
        single = idx.ndim == 1
        if single:
            idx = idx[None]
        if idx.ndim != 2 or idx.shape[1] != self.num_agents:
            raise ValueError(
                f"state_index has shape {np.shape(state_index)}: expected [B, {self.num_agents}]"
            )
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_states):
            raise ValueError(f"state_index values must lie in [0, {self.n_states - 1}]")
        tid = None
        if task_id is not None:
            tid = np.broadcast_to(np.asarray(task_id, dtype=np.int64), (idx.shape[0],))
            if tid.min() < 0 or tid.max() >= self.num_tasks:
                raise ValueError(f"task_id values must lie in [0, {self.num_tasks - 1}]")
        probs = self._action_probs(idx.astype(np.int64), tid, deterministic)
        if deterministic:
            actions = probs.argmax(axis=-1).astype(np.int64)
        else:
            actions = sample_actions(probs, self.np_random)
        return actions[0] if single else actions

    def observation_indices(self, observation: np.ndarray) -> np.ndarray:
        """Observation indices ``int64 [...]`` of vector-API observations ``[..., D]``.

        One-hot rows (``Discrete`` observations) give their hot position; ``MultiDiscrete``
        values their flat index (the env's ``state_indices``).

        Raises:
            TypeError: For ``Box`` observations, which have no index.
        """
        obs = np.asarray(observation)
        space = self.template._obs_space
        lead = obs.shape[:-1]
        flat = obs.reshape(-1, obs.shape[-1])
        if isinstance(space, gymnasium.spaces.Discrete):
            out = flat.argmax(axis=-1)
        elif isinstance(space, gymnasium.spaces.MultiDiscrete):
            out = self.template.state_indices(np.rint(flat).astype(np.int64))
        else:
            raise TypeError(
                f"observations {space} have no tabular index: build the env with index-able "
                "observations (e.g. corridor obs_type='multidiscrete')"
            )
        return np.asarray(out, dtype=np.int64).reshape(lead)

    def predict(
        self,
        observation: np.ndarray | Mapping[str, Any],
        state: Any = None,
        episode_start: np.ndarray | bool | None = None,
        deterministic: bool = False,
        action_mask: np.ndarray | Mapping[str, Any] | None = None,
        task_id: np.ndarray | int | None = None,
    ) -> tuple[Any, Any]:
        """Actions for vector-API observations ``[B, N, D]`` or a PettingZoo dict.

        Args:
            observation: ``[B, N, D]`` (``[N, D]``) as the batched env gives them, or
                ``{agent: raw observation}`` as the ParallelEnv gives them (the agents present
                act).
            state: Passed through (tabular policies have no memory).
            episode_start: Unused.
            deterministic: Greedy actions.
            action_mask: Unused (every action of the tabular families is legal).
            task_id: Task of each env row, for learners with per-task policies.

        Returns:
            ``(actions, state)``: ``int64 [B, N]`` (``[N]``) or ``{agent: int}``.

        Raises:
            ValueError: For observations of the wrong shape or unknown agents.
        """
        del episode_start, action_mask
        if isinstance(observation, Mapping):
            slots = {a: i for i, a in enumerate(self.possible_agents)}
            idx = np.zeros((1, self.num_agents), dtype=np.int64)
            for agent, value in observation.items():
                if agent not in slots:
                    raise unknown_name_error("agent", agent, slots)
                if isinstance(value, Mapping) and "observation" in value:
                    value = value["observation"]
                idx[0, slots[agent]] = self.template.state_index(value)
            acts = self.predict_indices(idx, task_id, deterministic)
            return {agent: int(acts[0, slots[agent]]) for agent in observation}, state
        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == 2
        if single:
            obs = obs[None]
        d = int(self.observation_space.shape[0])
        if obs.ndim != 3 or obs.shape[1:] != (self.num_agents, d):
            raise ValueError(
                f"observation has shape {np.shape(observation)}: expected [B, N, D] = "
                f"[B, {self.num_agents}, {d}] (or [{self.num_agents}, {d}] for one env), or a "
                "PettingZoo dict {agent: obs}"
            )
        acts = self.predict_indices(self.observation_indices(obs), task_id, deterministic)
        return (acts[0] if single else acts), state

    def _predict(
        self,
        observation: torch.Tensor,
        state: Any,
        episode_start: torch.Tensor | None,
        deterministic: bool,
        action_mask: torch.Tensor | None,
    ) -> tuple[np.ndarray, Any]:
        del episode_start, action_mask
        idx = self.observation_indices(observation.cpu().numpy())
        return self.predict_indices(idx, None, deterministic), state

    # ------------------------------------------------------------------ parameters and files

    def get_parameters(self) -> dict[str, Any]:
        """Copies of the learner's tables, by name."""
        return {name: np.array(table, copy=True) for name, table in self._tables().items()}

    def set_parameters(  # type: ignore[override]
        self,
        load_path_or_dict: str | os.PathLike[str] | Mapping[str, np.ndarray],
        exact_match: bool = True,
        device: Any = None,
    ) -> None:
        """Set the tables from a dict (as :meth:`get_parameters` returns) or a model file.

        Raises:
            ValueError: For unknown or missing tables (with ``exact_match``) or other shapes.
        """
        del device
        own = self._tables()
        if isinstance(load_path_or_dict, (str, os.PathLike)):
            meta, arrays = ser.read_model_file(load_path_or_dict)
            where = f"model file {os.fspath(load_path_or_dict)!r}"
            self._check_algorithm(meta, where)
            self._load_tables(meta, arrays, where)
            return
        given = dict(load_path_or_dict)
        unknown = sorted(set(given) - set(own))
        if unknown:
            raise ValueError(f"unknown tables {unknown}: this model has {sorted(own)}")
        missing = sorted(set(own) - set(given))
        if exact_match and missing:
            raise ValueError(f"tables {missing} are missing (exact_match=True)")
        for name, value in given.items():
            arr = np.asarray(value)
            if arr.shape != own[name].shape:
                raise ValueError(
                    f"table {name!r} has shape {list(arr.shape)}, the model has "
                    f"{list(own[name].shape)}"
                )
        self._set_tables({k: np.asarray(v) for k, v in given.items()})

    def _extra_state(self) -> dict[str, Any]:
        return {"env": self.env_spec}

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        env: Any = None,
        device: Any = "auto",
        **overrides: Any,
    ) -> Self:
        """Load a model saved by :meth:`save` (never unpickles anything).

        Without ``env``, the env the model was trained on (class, task set, mode, options) is
        rebuilt from the file, one copy, so the model can ``predict`` and be evaluated.

        Raises:
            ModelFileError: For a bad file or an env of other spaces.
        """
        if env is None:
            meta, _ = ser.read_model_file(path)
            env = _env_from_meta(meta, f"model file {os.fspath(path)!r}")
        else:
            env = as_tabular_vector_env(env)
        return super().load(path, env=env, device=device, **overrides)

    # ------------------------------------------------------------------ episodes and logs

    def _record_episodes(
        self,
        tracker: EpisodeTracker,
        rows: np.ndarray,
        task_ids: np.ndarray,
        terminated: np.ndarray,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the episodes that ended in ``rows`` (into the ``rollout/`` statistics, the
        per-agent ones and :attr:`episode_history`).

        Args:
            tracker: The returns of the rows' episodes.
            rows: Rows whose episode ended.
            task_ids: Their task ids (ignored in team mode, where slot groups are the tasks).
            terminated: ``bool [len(rows), N]``: the slots whose episode terminated.
            extra: More keys for the history records.
        """
        if self.ep_info_buffer is None:
            self.ep_info_buffer = deque(maxlen=self.stats_window_size)
        n = self.group_size
        for k, b in enumerate(np.asarray(rows).tolist()):
            returns = tracker.ret[b].copy()
            disc = tracker.disc[b].copy()
            if self.team:  # every task is played in every row: one entry per task
                groups = [(g, slice(g * n, (g + 1) * n), float(n)) for g in range(self.num_tasks)]
            else:
                groups = [(int(task_ids[k]), slice(None), float(tracker.team[b]))]
            for task_id, part, size in groups:
                entry: dict[str, Any] = {
                    "r": float(returns[part].sum() / size),
                    "l": int(tracker.length[b]),
                    "task_id": task_id,
                    "task": self.task_name(task_id),
                    "dr": float(disc[part].sum() / size),
                    "success": bool(np.asarray(terminated[k])[part].any()),
                }
                self.ep_info_buffer.append(entry)
                buf = self.task_ep_info_buffers.get(task_id)
                if buf is None:
                    buf = self.task_ep_info_buffers[task_id] = deque(maxlen=self.stats_window_size)
                buf.append(entry)
            for i in range(self.num_agents):
                agent_buf = self.agent_ep_info_buffers.get(i)
                if agent_buf is None:
                    agent_buf = self.agent_ep_info_buffers[i] = deque(maxlen=self.stats_window_size)
                agent_buf.append(float(returns[i]))
            record = {
                "task_id": None if self.team else int(task_ids[k]),
                "returns": returns.tolist(),
                "disc_returns": disc.tolist(),
                "length": int(tracker.length[b]),
                "success": bool(np.asarray(terminated[k]).any()),
                "timesteps": int(self.num_timesteps),
            }
            if extra:
                record.update(extra)
            self.episode_history.append(record)
            self._episode_num += 1

    def _dump_logs(self) -> None:
        """The base's records plus ``rollout/agent/<agent>/ep_rew_mean`` per agent slot."""
        if not self.team:  # in team mode the per-task keys already are per agent
            for i in sorted(self.agent_ep_info_buffers):
                self.logger.record(
                    f"rollout/agent/{key_name(self.possible_agents[i])}/ep_rew_mean",
                    safe_mean(self.agent_ep_info_buffers[i]),
                )
        super()._dump_logs()


def _env_from_meta(meta: Mapping[str, Any], where: str) -> TabularVectorEnv:
    """The (one-copy) env a tabular model file was trained on, rebuilt from its meta.json."""
    from mt_envs import registry

    try:
        spec = meta["extra_state"]["env"]
        env_id = str(spec["env_id"])
        mode = str(spec["mode"])
        kwargs = dict(spec.get("kwargs") or {})
        tasks = TaskSet.from_dict(meta["task_set"])
        module = registry.env_module(env_id)
        return as_tabular_vector_env(module.parallel_env(tasks=tasks, mode=mode, **kwargs))
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(
            f"{where}: the env it was trained on cannot be rebuilt ({exc}); load it with "
            "env=... (the same family, task set and mode)"
        ) from exc
