"""The base class of every learner: Stable-Baselines3's ``BaseAlgorithm`` shape, multi-agent inside.

A learner subclasses :class:`MultiAgentAlgorithm` and provides:

* ``algorithm_name`` (a class attribute, stored in model files and checked on load);
* ``__init__(self, env, *, <typed hyperparameters>, learning_rate, gamma, device, seed,
  tensorboard_log, verbose, _init_setup_model=True)``: call ``super().__init__`` first, set its
  own hyperparameters, then ``if _init_setup_model: self._setup_model()`` (as SB3's algorithms
  do; :meth:`MultiAgentAlgorithm.load` builds the model with ``_init_setup_model=False``);
* :meth:`~MultiAgentAlgorithm._setup_model` (networks, optimisers, buffers on ``self.device``);
* :meth:`~MultiAgentAlgorithm._predict` (batched actions from a tensor of observations);
* :meth:`~MultiAgentAlgorithm.learn`, built from :meth:`~MultiAgentAlgorithm._setup_learn`,
  :meth:`~MultiAgentAlgorithm._update_info_buffer` and :meth:`~MultiAgentAlgorithm._dump_logs`;
* :meth:`~MultiAgentAlgorithm._hyperparameters`, :meth:`~MultiAgentAlgorithm._modules` and
  :meth:`~MultiAgentAlgorithm._optimizers`, which say what :meth:`~MultiAgentAlgorithm.save`
  stores.

A ``learn()`` loop in this shape::

    def learn(self, total_timesteps, callback=None, log_interval=1, tb_log_name="run",
              reset_num_timesteps=True, progress_bar=False):
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
        callback.on_training_start(locals(), globals())
        while self.num_timesteps < total_timesteps:
            actions, self._last_state = ...                      # [B, N] ints
            obs, rew, term, trunc, info = self.env.step(actions)
            self.num_timesteps += self.num_envs
            self._update_info_buffer(info, rewards=rew, terminated=term)
            callback.update_locals(locals())
            if not callback.on_step():
                break
            ...                                                  # store, train
            self._last_obs, self._last_info = obs, info
            self._dump_logs_if_due(log_interval)
        callback.on_training_end()
        return self
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import platform
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, overload

import gymnasium
import numpy as np
import torch
from stable_baselines3.common.callbacks import (
    BaseCallback,
    CallbackList,
    ConvertCallback,
    ProgressBarCallback,
)
from stable_baselines3.common.logger import (
    HumanOutputFormat,
    KVWriter,
    Logger,
    make_output_format,
)
from stable_baselines3.common.utils import get_latest_run_id

from mt_agents.common import serialization as ser
from mt_agents.common.serialization import ModelFileError
from mt_agents.common.utils import (
    as_vector_env,
    key_name,
    resolve_device,
    safe_mean,
    seed_everything,
)
from mt_envs.tasks import TaskSet
from mt_envs.utils import unknown_name_error

if TYPE_CHECKING:
    from typing_extensions import Self

    from mt_envs.vector.base import MultiAgentVectorEnv

__all__ = ["MaybeCallback", "MultiAgentAlgorithm", "algorithm_classes"]

#: What ``learn(callback=...)`` accepts, as in SB3.
MaybeCallback = (
    BaseCallback | list[BaseCallback] | Callable[[dict[str, Any], dict[str, Any]], bool] | None
)

_ALGORITHMS: dict[str, type[MultiAgentAlgorithm]] = {}


def algorithm_classes() -> dict[str, type[MultiAgentAlgorithm]]:
    """The learner classes imported so far, by ``algorithm_name``."""
    return dict(_ALGORITHMS)


def _check_number(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    v = float(value) if ok else float("nan")
    if not ok or not (lo < v <= hi if lo_open else lo <= v <= hi):
        left = "(" if lo_open else "["
        raise ValueError(f"{name}={value!r} is invalid: need a number in {left}{lo}, {hi}]")
    return v


class MultiAgentAlgorithm(abc.ABC):
    """Base class of the multi-agent learners (SB3's ``BaseAlgorithm``, over the batched API).

    Attributes:
        env: The batched env (:class:`~mt_envs.vector.MultiAgentVectorEnv`), ``None`` for a
            model loaded without one.
        num_envs: ``B`` (1 when loaded without an env).
        num_agents: ``N``, the agent slots.
        possible_agents: Names of the agent slots (``predict`` with PettingZoo dicts).
        observation_space: One agent's observation ``Box`` (1-D).
        action_space: One agent's ``Discrete`` action space.
        task_set: The env's task set (or the one saved with the model).
        device: The torch device of the networks.
        num_timesteps: Env steps so far, summed over the batch (``B`` per vector step).
        logger: SB3 :class:`~stable_baselines3.common.logger.Logger`.
        np_random: The learner's own numpy generator (seeded by ``seed``), for exploration.

    Args:
        env: A batched env from :func:`mt_envs.make_vec` (a PettingZoo ParallelEnv is wrapped
            in a one-copy :class:`~mt_envs.vector.SyncVectorEnv`). ``None`` only when loading.
        learning_rate: Optimiser step size, > 0.
        gamma: Discount factor in [0, 1] (also of the logged discounted returns).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or a ``torch.device``.
        seed: Seeds Python, numpy, torch, ``np_random`` and the env's first reset.
        tensorboard_log: Folder of the logs: each ``learn()`` writes ``progress.csv`` (and
            tensorboard events when tensorboard is installed) into
            ``<tensorboard_log>/<tb_log_name>_<k>``. ``None``: no files.
        verbose: 0 silent, 1 prints the logger's tables to stdout.
        stats_window_size: Episodes per running mean of the ``rollout/`` statistics (overall
            and per task).
        _init_setup_model: Build the networks (the subclass calls :meth:`_setup_model`).

    Raises:
        ValueError: For an invalid argument, or ``env=None`` outside loading.
        TypeError: For an env without 1-D ``Box`` observations and ``Discrete`` actions.
    """

    algorithm_name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("algorithm_name")
        if isinstance(name, str):
            _ALGORITHMS[name] = cls

    def __init__(
        self,
        env: MultiAgentVectorEnv | Any | None,
        *,
        learning_rate: float = 1e-3,
        gamma: float = 0.95,
        device: torch.device | str = "auto",
        seed: int | None = None,
        tensorboard_log: str | os.PathLike[str] | None = None,
        verbose: int = 0,
        stats_window_size: int = 100,
        _init_setup_model: bool = True,
    ) -> None:
        self.learning_rate = _check_number("learning_rate", learning_rate, 0.0, 1e9, lo_open=True)
        self.gamma = _check_number("gamma", gamma, 0.0, 1.0)
        if isinstance(stats_window_size, bool) or not isinstance(stats_window_size, int):
            raise ValueError(
                f"stats_window_size={stats_window_size!r} is invalid: need an int >= 1"
            )
        if stats_window_size < 1:
            raise ValueError(
                f"stats_window_size={stats_window_size!r} is invalid: need an int >= 1"
            )
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        ):
            raise ValueError(f"seed={seed!r} is invalid: need an int >= 0 or None")
        self.stats_window_size = stats_window_size
        self.device = resolve_device(device)
        self.seed = None if seed is None else int(seed)
        self.tensorboard_log = None if tensorboard_log is None else os.fspath(tensorboard_log)
        self.verbose = int(verbose)
        self.num_timesteps = 0
        self._total_timesteps = 0
        self._num_timesteps_at_start = 0
        self._episode_num = 0
        self._last_dump_episode = 0
        self._current_progress_remaining = 1.0
        self.start_time = time.time_ns()
        self._logger: Logger | None = None
        self._custom_logger = False
        self.ep_info_buffer: deque[dict[str, Any]] | None = None
        self.task_ep_info_buffers: dict[int, deque[dict[str, Any]]] = {}
        self._last_obs: np.ndarray | None = None
        self._last_info: dict[str, Any] | None = None
        self._last_episode_starts: np.ndarray | None = None
        self._env_reset_seed: int | None = self.seed
        self.env: MultiAgentVectorEnv | None = None
        self.num_envs = 1
        self.num_agents = 0
        self.possible_agents: list[str] = []
        self.observation_space: gymnasium.spaces.Box
        self.action_space: gymnasium.spaces.Discrete
        self.task_set: TaskSet | None = None
        if env is not None:
            self._attach_env(as_vector_env(env))
        elif _init_setup_model:
            raise ValueError(
                "env=None is only allowed when loading a model: give the env to train on "
                "(for example mt_envs.make_vec('mamt_v0', num_envs=32, seed=0))"
            )
        self.np_random = np.random.default_rng(self.seed)
        if self.seed is not None:
            seed_everything(self.seed, using_cuda=self.device.type == "cuda")
            if env is not None:
                self.action_space.seed(self.seed)

    def __del__(self) -> None:
        # Close the csv/tensorboard files of the last run (SB3 leaves them to the collector).
        logger = getattr(self, "_logger", None)
        if logger is not None and not getattr(self, "_custom_logger", True):
            with contextlib.suppress(Exception):  # at interpreter shutdown: nothing to do
                logger.close()

    # ------------------------------------------------------------------ env and spaces

    def _attach_env(self, env: MultiAgentVectorEnv) -> None:
        obs_space = env.single_observation_space
        act_space = env.single_action_space
        if not isinstance(obs_space, gymnasium.spaces.Box) or len(obs_space.shape) != 1:
            raise TypeError(
                f"{type(self).__name__} needs 1-D Box observations per agent, the env has "
                f"{obs_space}; flatten them (SyncVectorEnv encodes Discrete/MultiDiscrete)"
            )
        if not isinstance(act_space, gymnasium.spaces.Discrete):
            raise TypeError(
                f"{type(self).__name__} needs Discrete actions, the env has {act_space}; use "
                "the padding wrappers for heterogeneous action sets"
            )
        self.env = env
        self.num_envs = int(env.num_envs)
        self.num_agents = int(env.num_agents)
        self.possible_agents = list(getattr(env, "possible_agents", [])) or [
            f"agent_{i}" for i in range(self.num_agents)
        ]
        self.observation_space = obs_space
        self.action_space = act_space
        self.task_set = getattr(env, "task_set", None)
        # per-episode trackers of _update_info_buffer (set properly by _reset_env)
        self._ep_team_size = np.full(self.num_envs, max(self.num_agents, 1), dtype=np.float64)
        self._ep_disc_return = np.zeros(self.num_envs, dtype=np.float64)
        self._ep_discount = np.ones(self.num_envs, dtype=np.float64)

    def _space_mismatch(self, env: MultiAgentVectorEnv) -> str | None:
        """Why ``env`` does not fit this model's spaces, or ``None`` when it does."""
        return _space_mismatch(self.num_agents, self.observation_space, self.action_space, env)

    def get_env(self) -> MultiAgentVectorEnv | None:
        """The training env (``None`` when loaded without one)."""
        return self.env

    def get_vec_normalize_env(self) -> None:
        """Always ``None`` (no ``VecNormalize`` here); SB3's callbacks ask for it."""
        return None

    def set_env(self, env: MultiAgentVectorEnv | Any, force_reset: bool = True) -> None:
        """Train on another env with the same spaces and agent count.

        Args:
            env: A batched env (or a ParallelEnv, wrapped).
            force_reset: Reset it at the next ``learn()`` even with ``reset_num_timesteps=False``
                (always done when ``num_envs`` changes).

        Raises:
            ValueError: When its spaces or agent count differ from the model's.
        """
        venv = as_vector_env(env)
        why = self._space_mismatch(venv)
        if why is not None:
            raise ValueError(f"env does not fit this model: {why}")
        changed = int(venv.num_envs) != self.num_envs
        self._attach_env(venv)
        if force_reset or changed:
            self._last_obs = None

    # ------------------------------------------------------------------ abstract parts

    @abc.abstractmethod
    def _setup_model(self) -> None:
        """Build networks, optimisers and buffers on ``self.device``."""

    @abc.abstractmethod
    def learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int | None = 1,
        tb_log_name: str = "run",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> Self:
        """Train for ``total_timesteps`` env steps (summed over the batch).

        Args:
            total_timesteps: Env steps to train for (``B`` per vector step).
            callback: SB3 callback(s) or a function ``(locals, globals) -> bool``.
            log_interval: Dump the logs once at least this many episodes have ended since the
                last dump (``None``: never).
            tb_log_name: Name of the log folder under ``tensorboard_log``.
            reset_num_timesteps: Start counting from 0 (``False``: continue a previous run).
            progress_bar: Show a progress bar (tqdm and rich).

        Returns:
            The model.
        """

    @abc.abstractmethod
    def _predict(
        self,
        observation: torch.Tensor,
        state: Any,
        episode_start: torch.Tensor | None,
        deterministic: bool,
        action_mask: torch.Tensor | None,
    ) -> tuple[np.ndarray, Any]:
        """Actions of a batch, computed as one batched network call.

        Args:
            observation: ``float32 [B, N, D]`` on ``self.device``.
            state: What the previous call returned (``None`` at the start).
            episode_start: ``bool [B]`` on ``self.device``: rows whose recurrent state restarts
                (``None``: none restart).
            deterministic: Greedy actions instead of the exploration policy.
            action_mask: ``bool [B, N, A]`` on ``self.device`` (legal actions) or ``None``.

        Returns:
            ``(actions int64 [B, N] numpy, new_state)``.
        """

    def _hyperparameters(self) -> dict[str, Any]:
        """JSON-able constructor keyword arguments that rebuild this model (saved in files).

        Subclasses return ``{**super()._hyperparameters(), ...their own...}``.
        """
        return {
            "learning_rate": self.learning_rate,
            "gamma": self.gamma,
            "stats_window_size": self.stats_window_size,
        }

    def _modules(self) -> dict[str, torch.nn.Module]:
        """The networks that :meth:`save` stores (state dicts), by name."""
        return {}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimisers :meth:`save` stores for resuming (their tensors and JSON options)."""
        return {}

    def _extra_state(self) -> dict[str, Any]:
        """Other JSON-able training state to save (restored by :meth:`_set_extra_state`)."""
        return {}

    def _set_extra_state(self, state: Mapping[str, Any]) -> None:  # noqa: B027
        """Restore what :meth:`_extra_state` returned (nothing by default)."""

    def _tables(self) -> dict[str, np.ndarray]:
        """Plain numpy arrays that :meth:`save` stores besides the networks (the tables of the
        tabular learners), by name; they are saved as ``tables/<name>.npy``.

        :meth:`load` checks the saved arrays against the ones the freshly built model returns
        here (names, shapes, dtypes) and hands them to :meth:`_set_tables`.
        """
        return {}

    def _set_tables(self, tables: Mapping[str, np.ndarray]) -> None:
        """Restore the arrays :meth:`_tables` returned (default: copied into those arrays)."""
        own = self._tables()
        for name, value in tables.items():
            own[name][...] = value

    # ------------------------------------------------------------------ logging, callbacks

    @property
    def logger(self) -> Logger:
        """SB3 logger of the current run (silent, or stdout with ``verbose``, before any)."""
        if self._logger is None:
            self._logger = self._make_logger(None)
        return self._logger

    def set_logger(self, logger: Logger) -> None:
        """Use ``logger`` (kept across ``learn()`` calls) instead of the one made per run."""
        self._logger = logger
        self._custom_logger = True

    def _make_logger(self, folder: str | None, log_suffix: str = "") -> Logger:
        formats: list[KVWriter] = []
        if folder is not None:
            formats.append(make_output_format("csv", folder, log_suffix))
            from stable_baselines3.common import logger as sb3_logger

            if sb3_logger.SummaryWriter is not None:
                formats.append(make_output_format("tensorboard", folder, log_suffix))
        if self.verbose >= 1:
            # SB3's own stdout format cuts keys at 36 characters, which merges the per-task keys
            # of long task names (and raises); ``make_output_format`` also creates a folder.
            formats.append(HumanOutputFormat(sys.stdout, max_length=96))
        return Logger(folder=folder, output_formats=formats)

    def _configure_logger(self, tb_log_name: str, reset_num_timesteps: bool) -> Logger:
        if self.tensorboard_log is None:
            return self._make_logger(None)
        run_id = get_latest_run_id(self.tensorboard_log, tb_log_name)
        if not reset_num_timesteps and run_id > 0:
            run_id -= 1  # continue in the latest run's folder
        folder = os.path.join(self.tensorboard_log, f"{tb_log_name}_{run_id + 1}")
        os.makedirs(folder, exist_ok=True)
        suffix, k = "", 1
        while os.path.exists(os.path.join(folder, f"progress{suffix}.csv")):
            k += 1
            suffix = f"_{k}"  # a continued run gets progress_2.csv, never overwrites
        return self._make_logger(folder, suffix)

    def _init_callback(self, callback: MaybeCallback, progress_bar: bool = False) -> BaseCallback:
        if isinstance(callback, list):
            callback = CallbackList(callback)
        if not isinstance(callback, BaseCallback):
            callback = ConvertCallback(callback)
        if progress_bar:
            callback = CallbackList([callback, ProgressBarCallback()])
        callback.init_callback(self)  # type: ignore[arg-type]
        return callback

    # ------------------------------------------------------------------ learning helpers

    def _setup_learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        reset_num_timesteps: bool = True,
        tb_log_name: str = "run",
        progress_bar: bool = False,
    ) -> tuple[int, BaseCallback]:
        """Prepare a ``learn()`` call (SB3's ``_setup_learn``).

        Resets counters (or continues them), the episode statistics, the env when needed
        (``_last_obs``, ``_last_info``, ``_last_episode_starts``), the logger and the callback.

        Args:
            total_timesteps: Env steps of this call.
            callback: As for ``learn``.
            reset_num_timesteps: Start from 0, or continue ``num_timesteps``.
            tb_log_name: Log folder name.
            progress_bar: Add SB3's ``ProgressBarCallback``.

        Returns:
            ``(total_timesteps, callback)``: the step count to stop at (counting earlier steps
            when continuing) and the callback to call.

        Raises:
            ValueError: Without an env, or for a negative ``total_timesteps``.
        """
        if self.env is None:
            raise ValueError(
                "this model has no env: load it with env=... or call model.set_env(env) first"
            )
        if (
            isinstance(total_timesteps, bool)
            or not isinstance(total_timesteps, (int, np.integer))
            or total_timesteps < 0
        ):
            raise ValueError(f"total_timesteps={total_timesteps!r} is invalid: need an int >= 0")
        total_timesteps = int(total_timesteps)
        self.start_time = time.time_ns()
        if self.ep_info_buffer is None or reset_num_timesteps:
            self.ep_info_buffer = deque(maxlen=self.stats_window_size)
            self.task_ep_info_buffers = {}
        if reset_num_timesteps:
            self.num_timesteps = 0
            self._episode_num = 0
            self._last_dump_episode = 0
        else:
            total_timesteps += self.num_timesteps
        self._total_timesteps = total_timesteps
        self._num_timesteps_at_start = self.num_timesteps
        if reset_num_timesteps or self._last_obs is None:
            self._reset_env()
        if not self._custom_logger:
            if self._logger is not None:
                self._logger.close()  # the previous run's files
            self._logger = self._configure_logger(tb_log_name, reset_num_timesteps)
        return total_timesteps, self._init_callback(callback, progress_bar)

    def _reset_env(self) -> None:
        assert self.env is not None
        obs, info = self.env.reset(seed=self._env_reset_seed)
        self._env_reset_seed = None  # later resets continue the env's streams
        self._last_obs = obs
        self._last_info = info
        self._last_episode_starts = np.ones(self.num_envs, dtype=bool)
        self._ep_team_size = self._team_size(info)
        self._ep_disc_return = np.zeros(self.num_envs, dtype=np.float64)
        self._ep_discount = np.ones(self.num_envs, dtype=np.float64)

    def _team_size(self, info: Mapping[str, Any]) -> np.ndarray:
        mask = info.get("agent_mask")
        if mask is None:
            return np.full(self.num_envs, max(self.num_agents, 1), dtype=np.float64)
        return np.maximum(np.asarray(mask).sum(axis=1), 1).astype(np.float64)

    def _update_current_progress_remaining(self, num_timesteps: int, total_timesteps: int) -> None:
        """Set ``_current_progress_remaining`` (1 at the start, 0 at the end) for schedules."""
        self._current_progress_remaining = 1.0 - float(num_timesteps) / float(
            max(total_timesteps, 1)
        )

    def task_name(self, task_id: int) -> str:
        """The name of task ``task_id`` in the model's task set (``task_<id>`` without one)."""
        if self.task_set is not None and 0 <= task_id < len(self.task_set):
            return self.task_set.names[task_id]
        return f"task_{task_id}"

    def _update_info_buffer(
        self,
        info: Mapping[str, Any],
        rewards: np.ndarray | None = None,
        terminated: np.ndarray | None = None,
    ) -> int:
        """Record the episodes that ended in a step (call it after every ``env.step``).

        An episode's return ``r`` is the team's: the sum over agents of their returns divided
        by the number of agents at the episode's start (as :mod:`mt_envs.play` counts it).

        Args:
            info: The step's info (``info["episode"]``: ``r [B, N]``, ``l [B]``,
                ``task_id [B]``, ``mask [B]``; ``info["agent_mask"]`` for team sizes).
            rewards: The step's rewards ``[B, N]``: with them the discounted return (``gamma``)
                is recorded as ``dr`` (pass them at every step, or never).
            terminated: The step's terminations ``[B, N]``: with them each episode records
                ``success`` (terminated rather than truncated).

        Returns:
            How many episodes ended.
        """
        if rewards is not None:
            team = np.asarray(rewards, dtype=np.float64).sum(axis=1) / self._ep_team_size
            self._ep_disc_return += self._ep_discount * team
            self._ep_discount *= self.gamma
        episode = info.get("episode")
        if episode is None:
            return 0
        mask = np.asarray(episode["mask"], dtype=bool)
        if not mask.any():
            return 0
        if self.ep_info_buffer is None:
            self.ep_info_buffer = deque(maxlen=self.stats_window_size)
        idx = np.flatnonzero(mask)
        returns = np.asarray(episode["r"], dtype=np.float64)[idx].sum(axis=1)
        returns /= self._ep_team_size[idx]
        success: np.ndarray | None = None
        if terminated is not None:
            success = np.asarray(np.asarray(terminated, dtype=bool)[idx].any(axis=1))
        for k, b in enumerate(idx):
            task_id = int(episode["task_id"][b])
            entry: dict[str, Any] = {
                "r": float(returns[k]),
                "l": int(episode["l"][b]),
                "task_id": task_id,
                "task": self.task_name(task_id),
                "dr": float(self._ep_disc_return[b]) if rewards is not None else None,
                "success": None if success is None else bool(success[k]),
            }
            self.ep_info_buffer.append(entry)
            buf = self.task_ep_info_buffers.get(task_id)
            if buf is None:
                buf = self.task_ep_info_buffers[task_id] = deque(maxlen=self.stats_window_size)
            buf.append(entry)
        new_team = self._team_size(info)
        self._ep_team_size[idx] = new_team[idx]
        self._ep_disc_return[idx] = 0.0
        self._ep_discount[idx] = 1.0
        self._episode_num += idx.size
        return int(idx.size)

    def _record_episode_stats(self, prefix: str, entries: list[dict[str, Any]]) -> None:
        rec = self.logger.record
        rec(f"{prefix}ep_rew_mean", safe_mean(e["r"] for e in entries))
        rec(f"{prefix}ep_len_mean", safe_mean(e["l"] for e in entries))
        disc = [e["dr"] for e in entries if e.get("dr") is not None]
        if disc:
            rec(f"{prefix}ep_disc_rew_mean", safe_mean(disc))
        succ = [e["success"] for e in entries if e.get("success") is not None]
        if succ:
            rec(f"{prefix}success_rate", safe_mean(succ))

    def _dump_logs(self) -> None:
        """Record time, overall and per-task episode statistics, then dump the logger.

        Keys: ``time/fps``, ``time/time_elapsed``, ``time/total_timesteps``, ``time/episodes``;
        ``rollout/ep_rew_mean``, ``ep_len_mean``, ``ep_disc_rew_mean``, ``success_rate``; the
        same under ``rollout/task/<task name>/`` (plus ``episodes``) for every task seen.
        """
        elapsed = max((time.time_ns() - self.start_time) / 1e9, sys.float_info.epsilon)
        fps = int((self.num_timesteps - self._num_timesteps_at_start) / elapsed)
        rec = self.logger.record
        rec("time/episodes", self._episode_num, exclude="tensorboard")
        rec("time/fps", fps)
        rec("time/time_elapsed", int(elapsed), exclude="tensorboard")
        rec("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        if self.ep_info_buffer:
            self._record_episode_stats("rollout/", list(self.ep_info_buffer))
        for task_id in sorted(self.task_ep_info_buffers):
            entries = list(self.task_ep_info_buffers[task_id])
            prefix = f"rollout/task/{key_name(self.task_name(task_id))}/"
            self._record_episode_stats(prefix, entries)
        self._last_dump_episode = self._episode_num
        self.logger.dump(step=self.num_timesteps)

    def dump_logs(self) -> None:
        """Write the log data now (SB3's public name)."""
        self._dump_logs()

    def _dump_logs_if_due(self, log_interval: int | None) -> bool:
        """Dump when at least ``log_interval`` episodes ended since the last dump.

        Returns:
            Whether the logs were dumped.
        """
        if not log_interval or self._episode_num - self._last_dump_episode < log_interval:
            return False
        self._dump_logs()
        return True

    # ------------------------------------------------------------------ predict

    @overload
    def predict(
        self,
        observation: Mapping[str, Any],
        state: Any = None,
        episode_start: np.ndarray | bool | None = None,
        deterministic: bool = False,
        action_mask: np.ndarray | Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, int], Any]: ...

    @overload
    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | bool | None = None,
        deterministic: bool = False,
        action_mask: np.ndarray | Mapping[str, Any] | None = None,
    ) -> tuple[np.ndarray, Any]: ...

    def predict(
        self,
        observation: np.ndarray | Mapping[str, Any],
        state: Any = None,
        episode_start: np.ndarray | bool | None = None,
        deterministic: bool = False,
        action_mask: np.ndarray | Mapping[str, Any] | None = None,
    ) -> tuple[np.ndarray | dict[str, int], Any]:
        """Actions for a batch of observations, or for one PettingZoo step.

        Args:
            observation: ``[B, N, D]`` (``[N, D]``: one env) or a PettingZoo dict
                ``{agent: obs}``; a dict value may also be ``{"observation": ...,
                "action_mask": ...}``. In dict form the agents present act; absent slots
                observe zeros.
            state: The recurrent state returned by the previous call (``None`` at the start).
            episode_start: ``bool [B]`` (or one bool): rows whose episode starts now, so their
                recurrent state restarts.
            deterministic: Greedy actions.
            action_mask: Legal actions, ``bool [B, N, A]`` (``[N, A]``), or ``{agent: mask}``
                in dict form.

        Returns:
            ``(actions, state)``: ``int64 [B, N]`` (``[N]``), or ``{agent: int}`` for the agents
            of a dict; ``state`` to pass to the next call.

        Raises:
            ValueError: For observations of the wrong shape or unknown agent names.
        """
        if isinstance(observation, Mapping):
            return self._predict_dict(observation, state, episode_start, deterministic, action_mask)
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
        mask = None
        if action_mask is not None:
            mask = np.asarray(action_mask, dtype=bool)
            if single:
                mask = mask[None]
            want = (obs.shape[0], self.num_agents, int(self.action_space.n))
            if mask.shape != want:
                raise ValueError(f"action_mask has shape {mask.shape}: expected {want}")
        actions, new_state = self._predict_arrays(obs, state, episode_start, deterministic, mask)
        return (actions[0] if single else actions), new_state

    def _predict_arrays(
        self,
        obs: np.ndarray,
        state: Any,
        episode_start: np.ndarray | bool | None,
        deterministic: bool,
        mask: np.ndarray | None,
    ) -> tuple[np.ndarray, Any]:
        b = obs.shape[0]
        starts_t = None
        if episode_start is not None:
            starts = np.asarray(episode_start, dtype=bool).reshape(-1)
            if starts.size == 1 and b > 1:
                starts = np.repeat(starts, b)
            if starts.shape != (b,):
                raise ValueError(f"episode_start has {starts.size} values for a batch of {b}")
            starts_t = torch.as_tensor(_writable(starts), device=self.device)
        obs_t = torch.as_tensor(_writable(obs), device=self.device)
        mask_t = None if mask is None else torch.as_tensor(_writable(mask), device=self.device)
        with torch.no_grad():
            actions, new_state = self._predict(obs_t, state, starts_t, deterministic, mask_t)
        return np.asarray(actions, dtype=np.int64).reshape(b, self.num_agents), new_state

    def _predict_dict(
        self,
        observation: Mapping[str, Any],
        state: Any,
        episode_start: np.ndarray | bool | None,
        deterministic: bool,
        action_mask: Any,
    ) -> tuple[dict[str, int], Any]:
        slots = {a: i for i, a in enumerate(self.possible_agents)}
        d, n_act = int(self.observation_space.shape[0]), int(self.action_space.n)
        obs = np.zeros((1, self.num_agents, d), dtype=np.float32)
        mask = np.ones((1, self.num_agents, n_act), dtype=bool)
        if action_mask is not None and not isinstance(action_mask, Mapping):
            raise TypeError(
                "with dict observations, give action_mask as a dict {agent: mask} (or inside "
                "each observation as {'observation': ..., 'action_mask': ...})"
            )
        has_mask = action_mask is not None
        for agent, value in observation.items():
            if agent not in slots:
                raise unknown_name_error("agent", agent, slots)
            i = slots[agent]
            agent_mask = None if action_mask is None else action_mask.get(agent)
            if isinstance(value, Mapping) and "observation" in value:
                agent_mask = value.get("action_mask", agent_mask)
                value = value["observation"]
            row = np.asarray(value, dtype=np.float32).reshape(-1)
            if row.shape != (d,):
                raise ValueError(
                    f"observation of {agent!r} has {row.size} values, this model expects {d}"
                )
            obs[0, i] = row
            if agent_mask is not None:
                has_mask = True
                mask[0, i] = np.asarray(agent_mask, dtype=bool).reshape(n_act)
        actions, new_state = self._predict_arrays(
            obs, state, episode_start, deterministic, mask if has_mask else None
        )
        return {agent: int(actions[0, slots[agent]]) for agent in observation}, new_state

    # ------------------------------------------------------------------ parameters

    def get_parameters(self) -> dict[str, dict[str, torch.Tensor]]:
        """Copies of the networks' state dicts, by module name (see :meth:`_modules`)."""
        return {
            name: {k: v.detach().clone() for k, v in module.state_dict().items()}
            for name, module in self._modules().items()
        }

    def set_parameters(
        self,
        load_path_or_dict: str | os.PathLike[str] | Mapping[str, Mapping[str, torch.Tensor]],
        exact_match: bool = True,
        device: torch.device | str | None = None,
    ) -> None:
        """Load network parameters from a dict (as :meth:`get_parameters` returns) or a file.

        Args:
            load_path_or_dict: ``{module: state_dict}`` or a model file of this algorithm.
            exact_match: Every module and every tensor must be given (``False``: a subset).
            device: Unused (tensors go to ``self.device``); kept for SB3 compatibility.

        Raises:
            ValueError: For unknown modules, missing ones with ``exact_match``, or tensors of
                other shapes (``ModelFileError`` for a bad file).
        """
        del device
        modules = self._modules()
        if isinstance(load_path_or_dict, (str, os.PathLike)):
            meta, arrays = ser.read_model_file(load_path_or_dict)
            where = f"model file {os.fspath(load_path_or_dict)!r}"
            self._check_algorithm(meta, where)
            params = self._decode_modules(meta, arrays, where)
        else:
            params = {k: dict(v) for k, v in load_path_or_dict.items()}
        unknown = sorted(set(params) - set(modules))
        if unknown:
            raise ValueError(f"unknown modules {unknown}: this model has {sorted(modules)}")
        missing = sorted(set(modules) - set(params))
        if exact_match and missing:
            raise ValueError(f"parameters of modules {missing} are missing (exact_match=True)")
        for name, state in params.items():
            expected = modules[name].state_dict()
            for key, value in state.items():
                if key in expected and tuple(value.shape) != tuple(expected[key].shape):
                    raise ValueError(
                        f"module {name!r}, tensor {key!r}: shape {list(value.shape)}, the network "
                        f"has {list(expected[key].shape)}"
                    )
            try:
                modules[name].load_state_dict(state, strict=exact_match)
            except RuntimeError as exc:
                raise ValueError(f"module {name!r}: {exc}") from exc

    # ------------------------------------------------------------------ save / load

    def _meta(self) -> dict[str, Any]:
        import mt_envs

        hp = self._hyperparameters()
        try:
            json.dumps(hp, allow_nan=False)
            extra = self._extra_state()
            json.dumps(extra, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{type(self).__name__}: hyperparameters and extra state must be JSON values "
                f"({exc})"
            ) from exc
        return {
            "format": ser.FORMAT,
            "format_version": ser.FORMAT_VERSION,
            "algorithm_name": self.algorithm_name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "mt_agents_version": mt_envs.__version__,
            "torch_version": torch.__version__,
            "numpy_version": np.__version__,
            "python_version": platform.python_version(),
            "hyperparameters": hp,
            "observation_space": {
                "shape": list(self.observation_space.shape),
                "dtype": np.dtype(self.observation_space.dtype).str,
                "low_min": float(np.min(self.observation_space.low)),
                "high_max": float(np.max(self.observation_space.high)),
            },
            "action_space": {"n": int(self.action_space.n)},
            "num_agents": self.num_agents,
            "possible_agents": list(self.possible_agents),
            "task_set": None if self.task_set is None else self.task_set.to_dict(),
            "num_timesteps": int(self.num_timesteps),
            "episode_num": int(self._episode_num),
            "seed": self.seed,
            "extra_state": extra,
        }

    def save(self, path: str | os.PathLike[str], include_optimizer: bool = True) -> Path:
        """Save the model to a safe zip (JSON + ``.npy`` tensors), atomically.

        Args:
            path: Destination (``.zip`` appended when it has no suffix).
            include_optimizer: Also save optimiser state, for resuming training.

        Returns:
            The path written.
        """
        meta = self._meta()
        arrays: dict[str, np.ndarray] = {
            "spaces/observation_low.npy": np.asarray(self.observation_space.low),
            "spaces/observation_high.npy": np.asarray(self.observation_space.high),
        }
        meta["modules"] = {}
        for name, module in self._modules().items():
            index, arrs = ser.encode_state_dict(f"tensors/{name}", module.state_dict())
            meta["modules"][name] = index
            arrays.update(arrs)
        meta["optimizers"] = {}
        if include_optimizer:
            for name, opt in self._optimizers().items():
                entry, arrs = ser.encode_optimizer_state(f"optimizers/{name}", opt.state_dict())
                meta["optimizers"][name] = entry
                arrays.update(arrs)
        tables = self._tables()
        if tables:  # (models without tables keep the files they always had)
            meta["tables"] = {}
            for name, table in tables.items():
                member = f"tables/{name}.npy"
                arrays[member] = np.ascontiguousarray(table)
                meta["tables"][name] = member
        return ser.write_model_file(path, meta, arrays)

    @classmethod
    def _check_algorithm(cls, meta: Mapping[str, Any], where: str) -> type[MultiAgentAlgorithm]:
        name = meta.get("algorithm_name")
        own = getattr(cls, "algorithm_name", None)
        if own is not None and not _is_abstract(cls):
            if name != own:
                raise ModelFileError(
                    f"{where} holds a {name!r} model, not {own!r}: load it with that "
                    f"algorithm's class or with mt_agents.load_model(path)"
                )
            return cls
        if not isinstance(name, str) or name not in _ALGORITHMS:
            err = unknown_name_error("algorithm", name, _ALGORITHMS)
            raise ModelFileError(f"{where}: {err} (import the package that defines it first)")
        return _ALGORITHMS[name]

    def _decode_modules(
        self, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray], where: str
    ) -> dict[str, dict[str, torch.Tensor]]:
        saved = meta.get("modules")
        if not isinstance(saved, Mapping):
            raise ModelFileError(f"{where}: meta.json has no module index: the file is corrupt")
        modules = self._modules()
        if set(saved) != set(modules):
            raise ModelFileError(
                f"{where} holds networks {sorted(saved)}, {type(self).__name__} built "
                f"{sorted(modules)} from its hyperparameters: the file was written by another "
                "version of the algorithm or was edited"
            )
        return {
            name: ser.decode_state_dict(
                f"{where}, module {name!r}", saved[name], arrays, module.state_dict()
            )
            for name, module in modules.items()
        }

    def _load_tables(
        self, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray], where: str
    ) -> None:
        """Check the saved tables against :meth:`_tables` and restore them (files written
        before tables existed hold none, which is right for models without tables)."""
        expected = self._tables()
        saved = meta.get("tables") or {}
        if not isinstance(saved, Mapping):
            raise ModelFileError(f"{where}: the table index in meta.json is malformed")
        if set(saved) != set(expected):
            raise ModelFileError(
                f"{where} holds tables {sorted(saved)}, {type(self).__name__} built "
                f"{sorted(expected)} from its hyperparameters: the file was written by another "
                "version of the algorithm or was edited"
            )
        loaded: dict[str, np.ndarray] = {}
        for name, ref in expected.items():
            member = saved[name]
            if not isinstance(member, str) or member not in arrays:
                raise ModelFileError(f"{where}: table {name!r} is missing")
            value = arrays[member]
            if value.shape != ref.shape or value.dtype != ref.dtype:
                raise ModelFileError(
                    f"{where}: table {name!r} is {value.dtype} {list(value.shape)}, the model "
                    f"needs {ref.dtype} {list(ref.shape)}; the file's hyperparameters and "
                    "tables disagree (an edited or foreign file)"
                )
            loaded[name] = value
        self._set_tables(loaded)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        env: MultiAgentVectorEnv | Any | None = None,
        device: torch.device | str = "auto",
        **overrides: Any,
    ) -> Self:
        """Load a model saved by :meth:`save`; never unpickles anything.

        Called on :class:`MultiAgentAlgorithm` itself, it builds whichever (imported) algorithm
        the file names.

        Args:
            path: The model file (``.zip`` appended when missing).
            env: The env to continue training on or to evaluate with; its spaces and agent
                count must be the model's. ``None``: the model can ``predict`` only.
            device: Where the networks go (``"auto"``: CUDA when available).
            **overrides: Constructor arguments that replace saved hyperparameters (for
                example ``learning_rate``) or set run options (``seed``, ``verbose``,
                ``tensorboard_log``).

        Returns:
            The model, with ``num_timesteps`` restored.

        Raises:
            ModelFileError: For a missing, truncated, corrupt or foreign file, another
                algorithm's model, or an env with other spaces or agent count.
        """
        meta, arrays = ser.read_model_file(path)
        where = f"model file {os.fspath(path)!r}"
        target = cls._check_algorithm(meta, where)
        own_load = getattr(target.load, "__func__", None)
        if target is not cls and own_load is not getattr(cls.load, "__func__", None):
            # The file's algorithm loads itself (the tabular learners rebuild their env).
            return target.load(path, env=env, device=device, **overrides)  # type: ignore[return-value]
        spec = _SavedSpaces.from_file(meta, arrays, where, need_task_set=env is None)
        venv = None
        if env is not None:
            venv = as_vector_env(env)
            why = spec.mismatch(venv)
            if why is not None:
                raise ModelFileError(
                    f"{where} was trained for {spec.describe()}, but the env has {why}: load it "
                    "with an env of the same observation encoding, action set and largest team "
                    "(or with env=None to predict only)"
                )
        hp = meta.get("hyperparameters")
        if not isinstance(hp, dict):
            raise ModelFileError(f"{where}: meta.json has no hyperparameters object")
        kwargs = {**hp, **overrides}
        try:
            model = target(venv, device=device, _init_setup_model=False, **kwargs)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ModelFileError(
                f"{where}: {target.__name__} does not accept the saved hyperparameters ({exc}); "
                "the file was written by another version or was edited"
            ) from exc
        if venv is None:
            spec.apply(model)
        try:
            model._setup_model()
        except (MemoryError, RuntimeError, ValueError, TypeError, OverflowError) as exc:
            # e.g. edited sizes describing a network larger than memory
            raise ModelFileError(
                f"{where}: the network its hyperparameters and spaces describe cannot be built "
                f"({type(exc).__name__}: {str(exc)[:200]}); the file was edited or damaged"
            ) from exc
        params = model._decode_modules(meta, arrays, where)
        for name, module in model._modules().items():
            module.load_state_dict(params[name])
        saved_opts = meta.get("optimizers") or {}
        if not isinstance(saved_opts, Mapping):
            raise ModelFileError(f"{where}: the optimizer index in meta.json is malformed")
        optimizers = model._optimizers()
        for name, entry in saved_opts.items():
            if name not in optimizers:
                raise ModelFileError(
                    f"{where} holds state of optimizer {name!r}, {target.__name__} has "
                    f"{sorted(optimizers)}"
                )
            state = ser.decode_optimizer_state(
                f"{where}, optimizer {name!r}", entry, arrays, optimizers[name]
            )
            try:
                optimizers[name].load_state_dict(state)
            except (ValueError, KeyError, RuntimeError) as exc:
                raise ModelFileError(f"{where}, optimizer {name!r}: {exc}") from exc
        model._load_tables(meta, arrays, where)
        try:
            model.num_timesteps = int(meta.get("num_timesteps", 0))
            model._episode_num = int(meta.get("episode_num", 0))
            model._last_dump_episode = model._episode_num
            model._set_extra_state(meta.get("extra_state") or {})
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise ModelFileError(f"{where}: malformed training state in meta.json ({exc})") from exc
        return model  # type: ignore[return-value]


def _writable(arr: np.ndarray) -> np.ndarray:
    """``arr``, copied when read-only (env infos are; torch warns on read-only arrays)."""
    return arr if arr.flags.writeable else arr.copy()


def _space_mismatch(
    num_agents: int,
    own_obs: gymnasium.spaces.Box,
    own_act: gymnasium.spaces.Discrete,
    env: MultiAgentVectorEnv,
) -> str | None:
    """Why ``env`` does not fit these spaces and agent count, or ``None`` when it does."""
    obs, act = env.single_observation_space, env.single_action_space
    problems = []
    if int(env.num_agents) != num_agents:
        problems.append(f"{env.num_agents} agent slots instead of {num_agents}")
    if not isinstance(obs, gymnasium.spaces.Box) or obs.shape != own_obs.shape:
        problems.append(f"observations {obs} instead of shape {own_obs.shape}")
    elif obs.dtype != own_obs.dtype or not (
        np.array_equal(obs.low, own_obs.low) and np.array_equal(obs.high, own_obs.high)
    ):
        problems.append(f"observation bounds/dtype of {obs} differ from {own_obs}")
    if not isinstance(act, gymnasium.spaces.Discrete) or int(act.n) != int(own_act.n):
        problems.append(f"actions {act} instead of {own_act}")
    return "; ".join(problems) or None


def _is_abstract(cls: type) -> bool:
    """Whether ``cls`` still has abstract methods (cannot be instantiated)."""
    return bool(getattr(cls, "__abstractmethods__", None))


class _SavedSpaces:
    """The spaces, agent slots and task set stored in a model file."""

    def __init__(
        self,
        observation_space: gymnasium.spaces.Box,
        action_space: gymnasium.spaces.Discrete,
        num_agents: int,
        possible_agents: list[str],
        task_set: TaskSet | None,
    ) -> None:
        self.observation_space = observation_space
        self.action_space = action_space
        self.num_agents = num_agents
        self.possible_agents = possible_agents
        self.task_set = task_set

    @classmethod
    def from_file(
        cls,
        meta: Mapping[str, Any],
        arrays: Mapping[str, np.ndarray],
        where: str,
        need_task_set: bool,
    ) -> _SavedSpaces:
        try:
            low = arrays["spaces/observation_low.npy"]
            high = arrays["spaces/observation_high.npy"]
            obs_meta = meta["observation_space"]
            dtype = np.dtype(str(obs_meta["dtype"]))
            shape = tuple(int(s) for s in obs_meta["shape"])
            if low.shape != shape or high.shape != shape:
                raise ValueError(f"bounds of shape {low.shape} for observations of shape {shape}")
            obs_space = gymnasium.spaces.Box(low, high, shape, dtype)
            n = int(meta["action_space"]["n"])
            num_agents = int(meta["num_agents"])
            if n < 1 or num_agents < 1:
                raise ValueError(f"action count {n} and agent count {num_agents} must be >= 1")
            agents = meta.get("possible_agents")
            # (checked before anything is sized by num_agents: an edited count cannot make the
            # loader allocate more than the file's own JSON holds)
            if not isinstance(agents, list) or len(agents) != num_agents:
                raise ValueError(
                    f"possible_agents {str(agents)[:80]} does not name the {num_agents} agents"
                )
            agents = [str(a) for a in agents]
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ModelFileError(f"{where}: the saved spaces are malformed ({exc})") from exc
        task_set = None
        if meta.get("task_set") is not None:
            try:
                task_set = TaskSet.from_dict(meta["task_set"])
            except Exception as exc:
                if need_task_set:
                    raise ModelFileError(
                        f"{where}: the saved task set cannot be rebuilt ({exc}); load with "
                        "env=... to use the env's task set"
                    ) from exc
        return cls(obs_space, gymnasium.spaces.Discrete(n), num_agents, agents, task_set)

    def describe(self) -> str:
        return (
            f"{self.num_agents} agent slots, observations {self.observation_space}, actions "
            f"{self.action_space}"
        )

    def mismatch(self, env: MultiAgentVectorEnv) -> str | None:
        return _space_mismatch(self.num_agents, self.observation_space, self.action_space, env)

    def apply(self, model: MultiAgentAlgorithm) -> None:
        model.observation_space = self.observation_space
        model.action_space = self.action_space
        model.num_agents = self.num_agents
        model.possible_agents = list(self.possible_agents)
        model.task_set = self.task_set
        model.num_envs = 1
        if model.seed is not None:
            model.action_space.seed(model.seed)
