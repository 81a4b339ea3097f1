"""MultiDistral: Distral's distil-and-transfer loop for decentralised agents (paper 002, 3.2).

One iteration has two steps, each a fixed number of games of every task:

* **E-step** (``games_per_e_step`` games per task): every (task, agent) pair runs soft
  Q-learning on its own table against the current prior ``pi0`` (equations 3-5) and acts with
  its task policy ``pi0^alpha exp(beta (Q - V))``.
* **M-step** (``games_per_m_step`` games per task): the task policies play without learning;
  the discounted visits ``gamma^t`` of each (observation index, action) are counted, and ``pi0``
  becomes the normalised count (the maximum-likelihood solution of equations 6 and 8).

Version 1 keeps one ``pi0`` per agent, pooled over the tasks; version 2 keeps one ``pi0`` for all
agents, pooled over tasks and agents. Each agent reads only its own observation index.

The learner must choose the task of every game, so it plays the games on the env's own batched
core (:class:`mt_envs.tabular.core.BatchCore`, the dynamics of the env it was given) with
``games_in_parallel`` rows per task, all tasks stepped together; each step plays exactly its
quota of games of every task, and a table never learns from another task's games.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, TypeVar

import numpy as np

from mt_agents.common.base import MaybeCallback
from mt_agents.tabular.base import EpisodeTracker, TabularAlgorithm, sample_actions
from mt_agents.tabular.formulas import (
    add_visits,
    distral_policy,
    epsilon_greedy_policy,
    prior_logits,
    soft_value,
    uniform_soft_value,
    visit_policy,
)
from mt_agents.tabular.q_learning import _check, _check_q_init
from mt_envs.tabular.core import BatchCore

__all__ = ["MultiDistral"]

SelfMultiDistral = TypeVar("SelfMultiDistral", bound="MultiDistral")

PHASES = ("E", "M")


def _positive_int(name: str, value: Any, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        extra = " or None" if allow_none else ""
        raise ValueError(f"{name}={value!r} is invalid: need an int >= 1{extra}")
    return int(value)


class MultiDistral(TabularAlgorithm):
    """MultiDistral V1 / V2 on a sampled-mode tabular env (see the module docstring).

    Example::

        from mt_envs import corridor_v0
        from mt_agents.tabular import MultiDistral

        env = corridor_v0.parallel_env(tasks="corridor-5")
        model = MultiDistral(env, version=2, seed=0)
        model.learn(total_timesteps=10**9)  # stops after n_iterations (10) iterations
        prior = model.policy_table("agent_0")  # the distilled pi0

    Args:
        env: A sampled-mode tabular env (corridor_v0's, or gridworld_v0 / chain_v0 with
            ``mode="sampled"``): its task set, class and options define the tasks played.
        version: 1: one ``pi0`` per agent; 2: one ``pi0`` shared by all agents.
        learning_rate: Step size of the soft Q-learning update.
        gamma: Discount factor in [0, 1] (of the soft values and of the M-step's counts).
        alpha: Exponent of the prior, ``c_KL / (c_KL + c_Ent)``, in [0, 1].
        beta: Inverse temperature ``1 / (c_KL + c_Ent)``, > 0.
        games_per_e_step: Games of every task in an E-step.
        games_per_m_step: Games of every task in an M-step.
        n_iterations: ``learn`` stops after this many iterations in all (``None``: only
            ``total_timesteps`` stops it).
        prior_smoothing: Pseudo-count added to every action's discounted visits in the M-step,
            so that no action's prior probability is 0.
        q_init: Initial value of every soft Q entry: a number, or ``"neutral"`` for
            :func:`~mt_agents.tabular.formulas.uniform_soft_value` (the soft value of a
            zero-reward task under the uniform prior, 96.6 with the defaults on 5 actions). The
            default 0 is the paper's reference code's; it is pessimistic for soft values, and on
            the corridor it makes the learners stay near their start (docs/multidistral.md).
        games_in_parallel: Copies of each task stepped together (1 plays each task's games one
            after the other, as the paper).
        device: Ignored (the tables are numpy arrays).
        seed: Seed of the action draws and of the task copies.
        tensorboard_log: Folder of the csv / tensorboard logs.
        verbose: 0 silent, 1 prints the logger's tables.
        stats_window_size: Episodes per running mean of the ``rollout/`` statistics.
        _init_setup_model: Build the tables.

    Raises:
        ValueError: For an argument outside its range or a team-mode env.
    """

    algorithm_name: ClassVar[str] = "multidistral"

    def __init__(
        self,
        env: Any,
        version: int = 1,
        learning_rate: float = 0.1,
        gamma: float = 0.99,
        alpha: float = 0.7,
        beta: float = 0.5,
        games_per_e_step: int = 75,
        games_per_m_step: int = 75,
        n_iterations: int | None = 10,
        prior_smoothing: float = 0.01,
        q_init: float | str = 0.0,
        games_in_parallel: int = 1,
        device: Any = "auto",
        seed: int | None = None,
        tensorboard_log: str | os.PathLike[str] | None = None,
        verbose: int = 0,
        stats_window_size: int = 100,
        _init_setup_model: bool = True,
    ) -> None:
        try:
            version = int(version)
        except (TypeError, ValueError):
            version = -1
        if version not in (1, 2):
            raise ValueError(
                f"version={version!r} is invalid: use 1 (one pi0 per agent) or 2 (one pi0 for "
                "all agents)"
            )
        self.version = version
        self.alpha = _check("alpha", alpha, 0.0, 1.0)
        self.beta = _check("beta", beta, 0.0, 1e9, lo_open=True)
        self.games_per_e_step: int = _positive_int("games_per_e_step", games_per_e_step) or 1
        self.games_per_m_step: int = _positive_int("games_per_m_step", games_per_m_step) or 1
        self.n_iterations = _positive_int("n_iterations", n_iterations, allow_none=True)
        self.prior_smoothing = _check("prior_smoothing", prior_smoothing, 0.0, 1e9)
        self.q_init = _check_q_init(q_init)
        self.games_in_parallel: int = _positive_int("games_in_parallel", games_in_parallel) or 1
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
        if self.env is not None and self.team:
            raise ValueError(
                "MultiDistral plays one task per game: build the env with mode='sampled' "
                "(for example gridworld_v0.parallel_env(tasks=..., mode='sampled'))"
            )
        #: Completed iterations (E-step then M-step).
        self.iteration = 0
        #: The step under way: ``"E"`` or ``"M"``.
        self.phase = "E"
        self._games: BatchCore | None = None
        if _init_setup_model:
            self._setup_model()

    # ------------------------------------------------------------------ tables

    @property
    def initial_q(self) -> float:
        """The number ``q_init`` stands for (``"neutral"`` resolved for this env)."""
        if self.q_init == "neutral":
            return uniform_soft_value(self.alpha, self.beta, self.gamma, self.n_actions)
        return float(self.q_init)

    @property
    def n_priors(self) -> int:
        """Number of ``pi0`` tables: the agents (V1) or 1 (V2)."""
        return self.num_agents if self.version == 1 else 1

    def prior_of(self, agent: int) -> int:
        """Which ``pi0`` table agent slot ``agent`` uses."""
        return agent if self.version == 1 else 0

    def _setup_model(self) -> None:
        t, n, s, a = self.num_tasks, self.num_agents, self.n_states, self.n_actions
        #: Soft Q-values per task and agent, ``[T, N, S, A]``.
        self.q_table = np.full((t, n, s, a), self.initial_q)
        #: The distilled ``pi0`` tables, ``[P, S, A]`` (``P = N`` for V1, 1 for V2).
        self.prior = np.full((self.n_priors, s, a), 1.0 / a)
        #: Discounted visit counts of the M-step under way (or of the last one), ``[P, S, A]``.
        self.visit_counts = np.zeros((self.n_priors, s, a))
        #: Games each task has played in all (both steps).
        self.task_games = np.zeros(t, dtype=np.int64)
        self._refresh_logits()

    def _refresh_logits(self) -> None:
        self._logits = prior_logits(self.prior, self.alpha)
        self._prior_index = np.array([self.prior_of(i) for i in range(self.num_agents)])

    def _tables(self) -> dict[str, np.ndarray]:
        return {
            "q_table": self.q_table,
            "prior": self.prior,
            "visit_counts": self.visit_counts,
            "task_games": self.task_games,
        }

    def _set_tables(self, tables: Any) -> None:
        super()._set_tables(tables)
        self._refresh_logits()

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            **super()._hyperparameters(),
            "version": self.version,
            "alpha": self.alpha,
            "beta": self.beta,
            "games_per_e_step": self.games_per_e_step,
            "games_per_m_step": self.games_per_m_step,
            "n_iterations": self.n_iterations,
            "prior_smoothing": self.prior_smoothing,
            "q_init": self.q_init,
            "games_in_parallel": self.games_in_parallel,
        }

    def _extra_state(self) -> dict[str, Any]:
        return {**super()._extra_state(), "iteration": self.iteration, "phase": self.phase}

    def _set_extra_state(self, state: Any) -> None:
        self.iteration = int(state.get("iteration", 0))
        phase = str(state.get("phase", "E"))
        if phase not in PHASES:
            raise ValueError(f"phase {phase!r} is not one of {PHASES}")
        self.phase = phase

    # ------------------------------------------------------------------ policies

    def task_policy(self, task: int | str, agent: int | str) -> np.ndarray:
        """``pi_task`` of an agent (equation 5), ``[n_states, n_actions]``."""
        t = self.task_index(task)
        i = self.agent_index(agent)
        assert t is not None
        return distral_policy(self.q_table[t, i], self._logits[self.prior_of(i)], self.beta)

    def policy_table(
        self, agent: int | str, task: int | str | None = None, greedy: bool = False
    ) -> np.ndarray:
        """The agent's distilled ``pi0`` (``task=None``) or its policy in ``task``.

        ``greedy``: the most probable action of each row, ties split equally.
        """
        i = self.agent_index(agent)
        probs = self.prior[self.prior_of(i)] if task is None else self.task_policy(task, i)
        return epsilon_greedy_policy(probs, 0.0) if greedy else np.array(probs, copy=True)

    def _action_probs(
        self, state_index: np.ndarray, task_id: np.ndarray | None, greedy: bool
    ) -> np.ndarray:
        pidx = self._prior_index[None, :]
        if task_id is None:
            probs = self.prior[pidx, state_index]
        else:
            slots = np.arange(self.num_agents)[None, :]
            q = self.q_table[task_id[:, None], slots, state_index]
            probs = distral_policy(q, self._logits[pidx, state_index], self.beta)
        return epsilon_greedy_policy(probs, 0.0) if greedy else probs

    # ------------------------------------------------------------------ learning

    def _make_games(self) -> BatchCore:
        rows = self.num_tasks * self.games_in_parallel
        core = BatchCore(self.template.compiled, rows, team=False)
        core.seed(np.random.SeedSequence(self.seed))
        return core

    def learn(
        self: SelfMultiDistral,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int | None = 100,
        tb_log_name: str = "run",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfMultiDistral:
        """Run E-steps and M-steps until ``n_iterations`` iterations in all or
        ``total_timesteps`` env steps, whichever comes first.

        A step interrupted by ``total_timesteps`` or a callback is restarted from its first
        game by the next ``learn`` call (the tables keep what it learnt).

        Args:
            total_timesteps: Env steps (summed over the games played together).
            callback: SB3 callback(s) called after every step of the games.
            log_interval: Dump the logs once this many games ended since the last dump
                (``None``: only at the end of each iteration).
            tb_log_name: Name of the log folder under ``tensorboard_log``.
            reset_num_timesteps: Start counting from zero (tables and iteration count stay).
            progress_bar: Show a progress bar.

        Returns:
            ``self``.
        """
        total, cb = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        if self._games is None:
            self._games = self._make_games()
        cb.on_training_start(locals(), globals())
        while self.num_timesteps < total and (
            self.n_iterations is None or self.iteration < self.n_iterations
        ):
            if not self._play_step(cb, total, log_interval):
                break
            if self.phase == "E":
                self.phase = "M"
            else:  # M-step: pi0 is the normalised discounted visit count (eqs. 6 and 8)
                # (the counts stay until the next M-step starts: they explain this prior)
                self.prior = visit_policy(self.visit_counts, self.prior_smoothing)
                self._refresh_logits()
                self.iteration += 1
                self.phase = "E"
                self.logger.record("train/iteration", self.iteration)
                self._dump_logs()
        cb.on_training_end()
        return self

    def _play_step(self, cb: Any, total: int, log_interval: int | None) -> bool:
        """Play the quota of games of every task for the current step (E: learn; M: count).

        Returns:
            Whether the step finished (``False``: stopped by the budget or a callback).
        """
        assert self._games is not None
        core = self._games
        learn = self.phase == "E"
        quota = self.games_per_e_step if learn else self.games_per_m_step
        if not learn:
            self.visit_counts[...] = 0.0
        t_n, k, n = self.num_tasks, self.games_in_parallel, self.num_agents
        rows = t_n * k
        task_of_row = np.repeat(np.arange(t_n), k)
        all_rows = np.arange(rows)
        core.reset(all_rows, task_of_row)  # a fresh game in every copy
        tracker = EpisodeTracker(rows, n, self.gamma)
        tracker.restart(all_rows, core.active)
        slots = np.arange(n)[None, :]
        pidx = self._prior_index[None, :]
        # Games started per task; a copy whose next game would exceed the quota idles.
        started = np.full(t_n, min(k, quota), dtype=np.int64)
        active = np.tile(np.arange(k) < quota, t_n)
        finished = np.zeros(t_n, dtype=np.int64)
        while (finished < quota).any():
            if self.num_timesteps >= total:
                return False
            idx = core.obs_index()  # [R, N]
            live = core.active & active[:, None]
            q_now = self.q_table[task_of_row[:, None], slots, idx]  # [R, N, A]
            logits_now = self._logits[pidx, idx]
            actions = sample_actions(distral_policy(q_now, logits_now, self.beta), self.np_random)
            if not learn:  # discounted visits gamma^t of the task policies
                bi, ni = np.nonzero(live)
                add_visits(
                    self.visit_counts,
                    (self._prior_index[ni], idx[bi, ni], actions[bi, ni]),
                    tracker.factor[bi],
                )
            reward, _acting, term, _trunc = core.step(actions)
            playing = live.any(axis=1)
            self.num_timesteps += int(playing.sum())
            tracker.add(np.where(live, reward, 0.0))
            if learn:
                # The core does not restart games, so this is also the last observation of a
                # game cut by the turn limit; terminated agents do not bootstrap (equation 4).
                next_idx = core.obs_index()
                q_next = self.q_table[task_of_row[:, None], slots, next_idx]
                v_next = soft_value(q_next, self._logits[pidx, next_idx], self.beta)
                target = reward + self.gamma * np.where(term, 0.0, v_next)
                bi, ni = np.nonzero(live)
                ai = actions[bi, ni]
                td = target[bi, ni] - q_now[bi, ni, ai]
                np.add.at(
                    self.q_table,
                    (task_of_row[bi], ni, idx[bi, ni], ai),
                    self.learning_rate * td,
                )
            ended = np.flatnonzero(playing & ~core.active.any(axis=1))
            if ended.size:
                again = []
                for r in ended.tolist():
                    t = int(task_of_row[r])
                    finished[t] += 1
                    self.task_games[t] += 1
                    self._record_episodes(
                        tracker,
                        np.array([r]),
                        np.array([t]),
                        (term & live)[[r]],
                        {
                            "iteration": self.iteration,
                            "phase": self.phase,
                            "game": int(self.task_games[t]),
                        },
                    )
                    if started[t] < quota:
                        started[t] += 1
                        again.append(r)
                    else:
                        active[r] = False
                if again:
                    restart = np.array(again)
                    core.reset(restart, task_of_row[restart])
                    tracker.restart(restart, core.active)
            cb.update_locals(locals())
            if not cb.on_step():
                return False
            self._dump_logs_if_due(log_interval)
        return True
