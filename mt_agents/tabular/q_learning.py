"""Independent tabular Q-learning and soft Q-learning (paper 002, sections 3.1 and 4.1).

Each agent slot keeps its own table over its own observation index and learns from its own
reward, treating the other agents as part of the environment (decentralised). ``per_task=True``
gives every task its own tables (the paper's baseline learns "from scratch on each task"; the
learner then reads the task id from the env's infos, as training-time information); otherwise
one table per agent serves every task, which cannot tell the tasks apart.

The loop runs over the batched env: every vector step acts for all ``B x N`` slots, steps the
env and applies all TD updates at once (``numpy.add.at``, so two updates of one entry in the
same step add up). Updates use the final observation of an episode cut by the turn limit and no
bootstrap after a termination.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, TypeVar

import numpy as np

from mt_agents.common.base import MaybeCallback
from mt_agents.tabular.base import EpisodeTracker, TabularAlgorithm, sample_actions
from mt_agents.tabular.formulas import (
    distral_policy,
    epsilon_greedy_policy,
    exponential_epsilon,
    soft_value,
    uniform_soft_value,
)

__all__ = ["QLearning", "SoftQLearning"]

SelfTD = TypeVar("SelfTD", bound="_TDLearner")


def _check(name: str, value: Any, lo: float, hi: float, lo_open: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    v = float(value) if ok else float("nan")
    if not ok or not (lo < v <= hi if lo_open else lo <= v <= hi):
        left = "(" if lo_open else "["
        raise ValueError(f"{name}={value!r} is invalid: need a number in {left}{lo}, {hi}]")
    return v


def _check_q_init(value: Any) -> float | str:
    """Validate a ``q_init`` argument: a finite number or ``"neutral"``."""
    if isinstance(value, str) and value == "neutral":
        return value
    number = isinstance(value, (int, float, np.integer, np.floating))
    if number and not isinstance(value, bool) and np.isfinite(value):
        return float(value)
    raise ValueError(f"q_init={value!r} is invalid: use a finite number or 'neutral'")


class _TDLearner(TabularAlgorithm):
    """Online one-step TD learning of ``q_table [G, N, S, A]`` over the batched env."""

    def __init__(
        self,
        env: Any,
        *,
        learning_rate: float,
        gamma: float,
        per_task: bool,
        device: Any,
        seed: int | None,
        tensorboard_log: str | os.PathLike[str] | None,
        verbose: int,
        stats_window_size: int,
        _init_setup_model: bool,
    ) -> None:
        super().__init__(
            env,
            learning_rate=learning_rate,
            gamma=gamma,
            device=device,
            seed=seed,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            stats_window_size=stats_window_size,
            _init_setup_model=_init_setup_model,
        )
        self.per_task = bool(per_task)
        self._tracker: EpisodeTracker | None = None
        if _init_setup_model:
            self._setup_model()

    @property
    def n_groups(self) -> int:
        """Table groups ``G``: the tasks with ``per_task`` (sampled mode), else 1."""
        return self.num_tasks if self.per_task and not self.team else 1

    def _setup_model(self) -> None:
        self.q_table = np.zeros((self.n_groups, self.num_agents, self.n_states, self.n_actions))
        #: Episodes each table group has finished (drives the exploration schedule).
        self.group_episodes = np.zeros(self.n_groups, dtype=np.int64)

    def _tables(self) -> dict[str, np.ndarray]:
        return {"q_table": self.q_table, "group_episodes": self.group_episodes}

    def _hyperparameters(self) -> dict[str, Any]:
        return {**super()._hyperparameters(), "per_task": self.per_task}

    # -- what the two learners differ in --------------------------------------------------
    def _behaviour(self, q: np.ndarray, group: np.ndarray) -> np.ndarray:
        """``[B, N, A]`` acting probabilities from the rows ``q [B, N, A]``."""
        raise NotImplementedError

    def _bootstrap(self, q_next: np.ndarray) -> np.ndarray:
        """``[B, N]`` value of the next observations from their rows ``[B, N, A]``."""
        raise NotImplementedError

    def _greedy_probs(self, q: np.ndarray) -> np.ndarray:
        return epsilon_greedy_policy(q, 0.0)

    # -- tables as policies ----------------------------------------------------------------
    def _group_of(self, task_id: np.ndarray | None, rows: int) -> np.ndarray:
        if self.n_groups == 1:
            return np.zeros(rows, dtype=np.int64)
        if task_id is None:
            raise ValueError(
                f"{type(self).__name__} keeps one table per task (per_task=True): pass "
                "task_id=... to predict (the task each env row plays)"
            )
        return np.asarray(task_id, dtype=np.int64)

    def _action_probs(
        self, state_index: np.ndarray, task_id: np.ndarray | None, greedy: bool
    ) -> np.ndarray:
        group = self._group_of(task_id, state_index.shape[0])
        q = self.q_table[group[:, None], np.arange(self.num_agents)[None, :], state_index]
        return self._greedy_probs(q) if greedy else self._behaviour(q, group)

    def policy_table(
        self, agent: int | str, task: int | str | None = None, greedy: bool = False
    ) -> np.ndarray:
        """The agent's acting probabilities ``[n_states, n_actions]`` (``greedy``: the greedy
        policy, ties split equally). ``task`` picks the table with ``per_task=True``."""
        i = self.agent_index(agent)
        tid = self.task_index(task)
        group = self._group_of(None if tid is None else np.array([tid]), 1)[0]
        q = self.q_table[group, i]
        if greedy:
            return self._greedy_probs(q)
        probs: np.ndarray = self._behaviour(q[None], np.full(1, group))[0]
        return probs

    # -- learning --------------------------------------------------------------------------
    def learn(
        self: SelfTD,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int | None = 100,
        tb_log_name: str = "run",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfTD:
        """Act, step the batched env and apply the TD updates of all slots, until
        ``total_timesteps`` env steps (summed over the batch).

        Args:
            total_timesteps: Env steps (``B`` per vector step).
            callback: SB3 callback(s) called after every vector step.
            log_interval: Dump the logs once this many episodes ended since the last dump
                (``None``: never).
            tb_log_name: Name of the log folder under ``tensorboard_log``.
            reset_num_timesteps: Start counting from zero (the tables are kept either way).
            progress_bar: Show a progress bar.

        Returns:
            ``self``.
        """
        obs_before = self._last_obs
        total, cb = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        assert self.env is not None and self._last_info is not None
        b_rows, n = self.num_envs, self.num_agents
        if self._tracker is None or self._last_obs is not obs_before:
            self._tracker = EpisodeTracker(b_rows, n, self.gamma)
            self._tracker.restart(np.arange(b_rows), np.asarray(self._last_info["agent_mask"]))
        tracker = self._tracker
        slots = np.arange(n)[None, :]
        cb.on_training_start(locals(), globals())
        while self.num_timesteps < total:
            info = self._last_info
            idx = np.asarray(info["state_index"])
            live = np.asarray(info["agent_mask"])
            group = self._row_groups(info)
            q_now = self.q_table[group[:, None], slots, idx]  # [B, N, A]
            actions = sample_actions(self._behaviour(q_now, group), self.np_random)
            obs, rew, term, trunc, new_info = self.env.step(actions)
            self.num_timesteps += b_rows
            rew = np.asarray(rew, dtype=np.float64)
            tracker.add(np.where(live, rew, 0.0))
            done = np.asarray(new_info["_final"], dtype=bool)
            next_idx = np.asarray(new_info["state_index"])
            cut = done[:, None] & live & ~np.asarray(term)
            if cut.any():  # episodes cut by the turn limit bootstrap from their last observation
                next_idx = next_idx.copy()
                next_idx[cut] = self.observation_indices(np.asarray(new_info["final_obs"])[cut])
            # One-step TD target (paper 002: eq. 4 for soft Q); no bootstrap after termination.
            q_next = self.q_table[group[:, None], slots, next_idx]
            target = rew + self.gamma * np.where(term, 0.0, self._bootstrap(q_next))
            bi, ni = np.nonzero(live)
            ai = actions[bi, ni]
            td = target[bi, ni] - q_now[bi, ni, ai]
            np.add.at(self.q_table, (group[bi], ni, idx[bi, ni], ai), self.learning_rate * td)
            if done.any():
                d = np.flatnonzero(done)
                prev_task = np.asarray(new_info["final_info"]["task_id"])[d]
                np.add.at(self.group_episodes, group[d], 1)
                ended = np.asarray(term)[d] & live[d]
                self._record_episodes(tracker, d, prev_task, ended)
                tracker.restart(d, np.asarray(new_info["agent_mask"]))
            self._last_obs, self._last_info = obs, new_info
            cb.update_locals(locals())
            if not cb.on_step():
                break
            self._dump_logs_if_due(log_interval)
        cb.on_training_end()
        return self

    def _row_groups(self, info: dict[str, Any]) -> np.ndarray:
        if self.n_groups == 1:
            return np.zeros(self.num_envs, dtype=np.int64)
        return np.asarray(info["task_id"], dtype=np.int64)


class QLearning(_TDLearner):
    """Independent tabular Q-learning, epsilon-greedy (paper 002's baseline, SPECS.md 4).

    Example::

        from mt_envs import corridor_v0
        from mt_agents.tabular import QLearning

        env = corridor_v0.vector_env(5, tasks="corridor-5", sampler="round_robin")
        model = QLearning(env, per_task=True, seed=0)
        model.learn(total_timesteps=200_000)
        greedy = model.policy_table("agent_0", task=0, greedy=True)

    Args:
        env: A tabular env: ParallelEnv or ``vector_env`` of corridor_v0, gridworld_v0 or
            chain_v0 (a ParallelEnv is replaced by its one-copy batched env).
        learning_rate: Step size of the TD update.
        gamma: Discount factor in [0, 1].
        exploration_initial_eps: Exploration rate at the first episode.
        exploration_final_eps: Exploration rate it decays to.
        exploration_decay: Rate of the exponential decay per finished episode of the table's
            group: ``eps = final + (initial - final) exp(-decay * episodes)``.
        per_task: One set of tables per task (sampled mode; the task id is read from the
            infos); ``False``: one table per agent for every task.
        device: Ignored (the tables are numpy arrays).
        seed: Seed of the exploration draws and of the env's first reset.
        tensorboard_log: Folder of the csv / tensorboard logs.
        verbose: 0 silent, 1 prints the logger's tables.
        stats_window_size: Episodes per running mean of the ``rollout/`` statistics.
        _init_setup_model: Build the tables.

    Raises:
        ValueError: For an argument outside its range.
        TypeError: For an env that is not tabular.
    """

    algorithm_name: ClassVar[str] = "q_learning"

    def __init__(
        self,
        env: Any,
        learning_rate: float = 0.2,
        gamma: float = 0.9,
        exploration_initial_eps: float = 1.0,
        exploration_final_eps: float = 0.01,
        exploration_decay: float = 0.001,
        per_task: bool = False,
        device: Any = "auto",
        seed: int | None = None,
        tensorboard_log: str | os.PathLike[str] | None = None,
        verbose: int = 0,
        stats_window_size: int = 100,
        _init_setup_model: bool = True,
    ) -> None:
        self.exploration_initial_eps = _check(
            "exploration_initial_eps", exploration_initial_eps, 0.0, 1.0
        )
        self.exploration_final_eps = _check(
            "exploration_final_eps", exploration_final_eps, 0.0, 1.0
        )
        self.exploration_decay = _check("exploration_decay", exploration_decay, 0.0, 1e9)
        super().__init__(
            env,
            learning_rate=learning_rate,
            gamma=gamma,
            per_task=per_task,
            device=device,
            seed=seed,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            stats_window_size=stats_window_size,
            _init_setup_model=_init_setup_model,
        )

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            **super()._hyperparameters(),
            "exploration_initial_eps": self.exploration_initial_eps,
            "exploration_final_eps": self.exploration_final_eps,
            "exploration_decay": self.exploration_decay,
        }

    def exploration_rate(self, group: int = 0) -> float:
        """The current epsilon of a table group (a task with ``per_task``, else 0)."""
        return float(self._epsilon(np.array([group]))[0])

    def _epsilon(self, group: np.ndarray) -> np.ndarray:
        return exponential_epsilon(
            self.group_episodes[group],
            self.exploration_initial_eps,
            self.exploration_final_eps,
            self.exploration_decay,
        )

    def _behaviour(self, q: np.ndarray, group: np.ndarray) -> np.ndarray:
        eps = self._epsilon(group)  # [B]
        return epsilon_greedy_policy(q, eps[:, None])

    def _bootstrap(self, q_next: np.ndarray) -> np.ndarray:
        return np.asarray(q_next.max(axis=-1))


class SoftQLearning(_TDLearner):
    """Independent tabular soft Q-learning against a uniform prior (Distral's E-step alone).

    ``V(s) = (1/beta) log sum_a pi0(a|s)^alpha exp(beta Q(s, a))`` with ``pi0`` uniform, target
    ``r + gamma V(s')`` and the Boltzmann policy ``pi0^alpha exp(beta (Q - V))`` (paper 002,
    equations 3-5), which it both acts with and returns as its policy.

    Args:
        env: A tabular env (see :class:`QLearning`).
        learning_rate: Step size of the TD update.
        gamma: Discount factor in [0, 1].
        alpha: Exponent of the prior in the soft value (``c_KL / (c_KL + c_Ent)``).
        beta: Inverse temperature (``1 / (c_KL + c_Ent)``), > 0.
        per_task: One set of tables per task (sampled mode), else one per agent.
        q_init: Initial value of every Q entry: a number, or ``"neutral"`` for
            :func:`~mt_agents.tabular.formulas.uniform_soft_value` (see
            :class:`~mt_agents.tabular.MultiDistral`; 0 traps the learner on the corridor).
        device: Ignored (the tables are numpy arrays).
        seed: Seed of the action draws and of the env's first reset.
        tensorboard_log: Folder of the csv / tensorboard logs.
        verbose: 0 silent, 1 prints the logger's tables.
        stats_window_size: Episodes per running mean of the ``rollout/`` statistics.
        _init_setup_model: Build the tables.

    Raises:
        ValueError: For an argument outside its range.
    """

    algorithm_name: ClassVar[str] = "soft_q_learning"

    def __init__(
        self,
        env: Any,
        learning_rate: float = 0.1,
        gamma: float = 0.99,
        alpha: float = 0.7,
        beta: float = 0.5,
        per_task: bool = False,
        q_init: float | str = 0.0,
        device: Any = "auto",
        seed: int | None = None,
        tensorboard_log: str | os.PathLike[str] | None = None,
        verbose: int = 0,
        stats_window_size: int = 100,
        _init_setup_model: bool = True,
    ) -> None:
        self.alpha = _check("alpha", alpha, 0.0, 1.0)
        self.beta = _check("beta", beta, 0.0, 1e9, lo_open=True)
        self.q_init = _check_q_init(q_init)
        super().__init__(
            env,
            learning_rate=learning_rate,
            gamma=gamma,
            per_task=per_task,
            device=device,
            seed=seed,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            stats_window_size=stats_window_size,
            _init_setup_model=_init_setup_model,
        )

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            **super()._hyperparameters(),
            "alpha": self.alpha,
            "beta": self.beta,
            "q_init": self.q_init,
        }

    def _setup_model(self) -> None:
        super()._setup_model()
        if self.q_init == "neutral":
            self.q_table[...] = uniform_soft_value(
                self.alpha, self.beta, self.gamma, self.n_actions
            )
        else:
            self.q_table[...] = float(self.q_init)

    @property
    def _logits(self) -> float:
        return -self.alpha * float(np.log(self.n_actions))  # alpha log pi0 of a uniform pi0

    def _behaviour(self, q: np.ndarray, group: np.ndarray) -> np.ndarray:
        return distral_policy(q, self._logits, self.beta)

    def _bootstrap(self, q_next: np.ndarray) -> np.ndarray:
        return soft_value(q_next, self._logits, self.beta)
