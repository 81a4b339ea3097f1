"""Dec-HDRQN: decentralised hysteretic deep recurrent Q-networks with CERTs (paper 000, 5.1).

Every agent learns its own DRQN (:class:`~mt_agents.dec_hdrqn.policies.DRQNNetwork`) from its own
observations, with hysteretic Q-learning (section 5.1.1) on concurrent experience replay
trajectories (CERTs, section 5.1.2-5.1.3, :class:`~mt_agents.dec_hdrqn.buffers.CERTBuffer`). The
``N`` agents' networks are evaluated and updated as one batched computation on ``self.device``;
nothing is shared between them unless ``share_parameters=True``.

Choices where the paper is silent (SPECS.md section 2; listed on the algorithm page):

* **Hysteresis** is exact: the gradient of every element with a negative TD error is scaled by
  ``hysteretic_beta`` (the ratio ``beta / alpha`` of the two learning rates), through a detached
  per-element loss weight. ``hysteresis="loss_scale"`` instead scales the error before squaring,
  as the reference implementations do, which scales those gradients by ``beta ** 2``. With Adam the
  scale acts relative to the positive-error elements of the same minibatch.
* Each agent's loss is its own masked mean over its real transitions; the agents' losses are
  summed, so agent ``i``'s gradient is that of its own loss. Adam is elementwise, so one Adam over
  the grouped weights is ``N`` independent Adams.
* Exploration: epsilon-greedy, each agent drawing independently, over legal actions; epsilon
  decays linearly from ``exploration_initial_eps`` to ``exploration_final_eps`` over
  ``exploration_fraction`` of the ``learn`` budget (Stable-Baselines3's DQN schedule).
* Target network: copied every ``target_update_interval`` env steps (summed over the batch).
* The paper gives no epsilon schedule, target period, replay size, warm-up or update ratio. The
  defaults: epsilon 1 -> 0.05 over the first half of the budget, a target copy every 10,000 env
  steps (Stable-Baselines3 DQN's), a replay of 5,000 episodes, 1,000 warm-up steps, and one
  update of 32 traces per vector step (so one update per ``B`` env steps). SB3's decay over 10%
  of the budget is too short for sparse cooperative tasks: on MAST 8x8 Dec-HDRQN was still at
  0.1x the greedy chaser after 400k env steps with it, and learned once epsilon reached its floor
  with the half-budget decay (``docs/dec_hdrqn.md``).
* CERT episodes are drawn in proportion to their number of start times, so that every stored
  transition is equally likely to be used (``cert_sampling="episode"``: uniform episodes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.type_aliases import MaybeCallback

from mt_agents.common.base import MultiAgentAlgorithm
from mt_agents.dec_hdrqn.buffers import CERTBatch, CERTBuffer, CertSampling
from mt_agents.dec_hdrqn.policies import DRQNNetwork, RecurrentState

HysteresisMode = Literal["exact", "loss_scale"]
SelfDecHDRQN = TypeVar("SelfDecHDRQN", bound="DecHDRQN")


def hysteretic_td_loss(
    td_error: torch.Tensor,
    mask: torch.Tensor,
    beta: float,
    mode: HysteresisMode = "exact",
) -> torch.Tensor:
    """The hysteretic squared TD loss of all agents (equation 5 with two learning rates).

    Args:
        td_error: ``delta = y - Q``, shape ``[N, ...]`` (agents first).
        mask: Same shape; 1 for real transitions, 0 for padding (excluded from the loss).
        beta: Ratio of the negative-error learning rate to the positive one, in ``[0, 1]``.
        mode: ``"exact"``: the gradient of a negative-error element is ``beta`` times that of
            the same positive error. ``"loss_scale"``: the error is scaled by ``beta`` before
            squaring, so that gradient is ``beta ** 2`` times.

    Returns:
        The sum over agents of each agent's mean loss over its unmasked elements (a scalar).
    """
    negative = td_error < 0
    if mode == "exact":
        # A constant per element (a function of the sign only): scales that element's gradient.
        weight = torch.where(negative, td_error.new_tensor(beta), td_error.new_tensor(1.0))
        per_element = weight * td_error.square()
    else:
        per_element = torch.where(negative, beta * td_error, td_error).square()
    n = td_error.shape[0]
    total = (per_element * mask).reshape(n, -1).sum(dim=1)
    count = mask.reshape(n, -1).sum(dim=1).clamp(min=1.0)
    return (total / count).sum()


def masked_max(q: torch.Tensor, legal: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy value and action over legal actions (last axis).

    Args:
        q: Q-values ``[..., A]``.
        legal: ``bool [..., A]`` legal actions, or ``None`` (all legal). Rows without any legal
            action (padding) get value 0 and action 0.

    Returns:
        ``(value [...], action int64 [...])``.
    """
    if legal is None:
        value, action = q.max(dim=-1)
        return value, action
    lowest = torch.finfo(q.dtype).min
    value, action = q.masked_fill(~legal, lowest).max(dim=-1)
    any_legal = legal.any(dim=-1)
    return torch.where(any_legal, value, 0.0), torch.where(any_legal, action, 0)


class DecHDRQN(MultiAgentAlgorithm):
    """Decentralised hysteretic DRQN learners trained on CERTs (Omidshafiei et al., 2017).

    ``hysteretic_beta=1`` gives Dec-DRQN; ``share_parameters=True`` gives Dec-DRQN-PS (one
    network, one-hot agent id appended to the observation); ``double_q=True`` gives Dec-DDRQN.

    Args:
        env: The batched env (:func:`mt_envs.make_vec`); ``None`` only when loading.
        learning_rate: Adam learning rate ``alpha`` (paper: 1e-3).
        gamma: Discount factor (paper: 0.95).
        hysteretic_beta: Ratio ``beta / alpha`` of the learning rate of negative TD errors to that
            of non-negative ones, in ``[0, 1]`` (paper: 0.2 to 0.4; default 0.4). 1 is Dec-DRQN.
        beta_anneal: ``(start, end, steps)``: anneal the ratio linearly from ``start`` to ``end``
            over the first ``steps`` env steps, then keep ``end`` (replaces ``hysteretic_beta``;
            the paper's range is ``(0.2, 0.4, steps)``). ``None``: constant.
        hysteresis: ``"exact"`` (gradient scale ``beta``) or ``"loss_scale"`` (error scaled
            before squaring: ``beta ** 2``, as the reference implementations).
        trace_length: CERT trace length ``tau`` (paper: 4; supplement E).
        batch_size: Traces per minibatch (paper: 32).
        buffer_episodes: CERT capacity in episodes (FIFO).
        learning_starts: Env steps collected before the first update.
        train_freq: Vector-env steps (each ``B`` env steps) between training rounds.
        gradient_steps: Gradient steps per training round.
        target_update_interval: Env steps between copies of the online into the target network.
        exploration_fraction: Fraction of the ``learn`` budget over which epsilon decays
            (default 0.5; SB3's DQN uses 0.1, too short for sparse cooperative tasks).
        exploration_initial_eps: Epsilon at the start.
        exploration_final_eps: Epsilon after the decay.
        double_q: Double-Q targets (the online network picks the next action).
        share_parameters: One network for all agents, with a one-hot agent id.
        max_grad_norm: Clip each agent's gradient to this norm (per agent, so agents stay
            independent); ``None``: no clipping (the paper mentions none).
        cert_sampling: ``"transition"`` (every stored transition equally likely to be used) or
            ``"episode"`` (episodes drawn uniformly); see :mod:`mt_agents.dec_hdrqn.buffers`.
        max_episode_steps: Longest episode the CERT stores whole; ``None`` reads the largest
            ``max_steps`` of the env's tasks.
        pre_lstm: Hidden sizes before the LSTM (paper: ``(32, 32)``).
        lstm_hidden: LSTM memory cells (paper: 64).
        post_lstm: Hidden sizes after the LSTM (paper: ``(32,)``).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``.
        seed: Seeds torch, numpy, the exploration and the CERT sampling generator.
        tensorboard_log: Folder of tensorboard runs (``None``: none).
        verbose: 0 silent, 1 training logs on stdout.
        stats_window_size: Episodes per running mean of the ``rollout/`` statistics.

    Raises:
        ValueError: If a hyperparameter is out of range (the message names it and the range).
    """

    algorithm_name: ClassVar[str] = "dec_hdrqn"

    def __init__(
        self,
        env: Any,
        *,
        learning_rate: float = 1e-3,
        gamma: float = 0.95,
        hysteretic_beta: float = 0.4,
        beta_anneal: Sequence[float] | None = None,
        hysteresis: HysteresisMode = "exact",
        trace_length: int = 4,
        batch_size: int = 32,
        buffer_episodes: int = 5000,
        learning_starts: int = 1000,
        train_freq: int = 1,
        gradient_steps: int = 1,
        target_update_interval: int = 10_000,
        exploration_fraction: float = 0.5,
        exploration_initial_eps: float = 1.0,
        exploration_final_eps: float = 0.05,
        double_q: bool = False,
        share_parameters: bool = False,
        max_grad_norm: float | None = None,
        cert_sampling: CertSampling = "transition",
        max_episode_steps: int | None = None,
        pre_lstm: Sequence[int] = (32, 32),
        lstm_hidden: int = 64,
        post_lstm: Sequence[int] = (32,),
        device: torch.device | str = "auto",
        seed: int | None = None,
        tensorboard_log: str | os.PathLike[str] | None = None,
        verbose: int = 0,
        stats_window_size: int = 100,
        _init_setup_model: bool = True,
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
        _check_unit("hysteretic_beta", hysteretic_beta)
        if beta_anneal is not None:
            beta_anneal = _check_anneal(beta_anneal)
        if hysteresis not in ("exact", "loss_scale"):
            raise ValueError(f"hysteresis={hysteresis!r} is invalid: use 'exact' or 'loss_scale'")
        if cert_sampling not in ("transition", "episode"):
            raise ValueError(
                f"cert_sampling={cert_sampling!r} is invalid: use 'transition' or 'episode'"
            )
        for name, value in (
            ("trace_length", trace_length),
            ("batch_size", batch_size),
            ("buffer_episodes", buffer_episodes),
            ("train_freq", train_freq),
            ("gradient_steps", gradient_steps),
            ("target_update_interval", target_update_interval),
        ):
            _check_int(name, value, 1)
        _check_int("learning_starts", learning_starts, 0)
        if max_episode_steps is not None:
            _check_int("max_episode_steps", max_episode_steps, 1)
        for name, unit in (
            ("exploration_fraction", exploration_fraction),
            ("exploration_initial_eps", exploration_initial_eps),
            ("exploration_final_eps", exploration_final_eps),
        ):
            _check_unit(name, unit)
        if max_grad_norm is not None and not float(max_grad_norm) > 0.0:
            raise ValueError(f"max_grad_norm={max_grad_norm!r} is invalid: need > 0 or None")
        self.hysteretic_beta = float(hysteretic_beta)
        self.beta_anneal: tuple[float, float, int] | None = beta_anneal
        self.hysteresis: HysteresisMode = hysteresis
        self.trace_length = int(trace_length)
        self.batch_size = int(batch_size)
        self.buffer_episodes = int(buffer_episodes)
        self.learning_starts = int(learning_starts)
        self.train_freq = int(train_freq)
        self.gradient_steps = int(gradient_steps)
        self.target_update_interval = int(target_update_interval)
        self.exploration_fraction = float(exploration_fraction)
        self.exploration_initial_eps = float(exploration_initial_eps)
        self.exploration_final_eps = float(exploration_final_eps)
        self.double_q = bool(double_q)
        self.share_parameters = bool(share_parameters)
        self.max_grad_norm = None if max_grad_norm is None else float(max_grad_norm)
        self.cert_sampling: CertSampling = cert_sampling
        self.max_episode_steps = max_episode_steps
        self.pre_lstm = tuple(int(v) for v in pre_lstm)
        self.lstm_hidden = int(lstm_hidden)
        self.post_lstm = tuple(int(v) for v in post_lstm)
        self.exploration_rate = self.exploration_initial_eps
        self.replay_buffer: CERTBuffer | None = None
        self._n_updates = 0
        self._last_target_sync = 0
        self._rollout_state: RecurrentState | None = None
        if _init_setup_model:
            self._setup_model()

    # ------------------------------------------------------------------ setup

    def _setup_model(self) -> None:
        """Build the online and target DRQNs, Adam and the exploration generator on the device."""
        kwargs: dict[str, Any] = {
            "obs_dim": int(self.observation_space.shape[0]),
            "n_actions": int(self.action_space.n),
            "n_agents": int(self.num_agents),
            "share_parameters": self.share_parameters,
            "pre_lstm": self.pre_lstm,
            "lstm_hidden": self.lstm_hidden,
            "post_lstm": self.post_lstm,
        }
        self.q_net = DRQNNetwork(**kwargs).to(self.device)
        self.q_net_target = DRQNNetwork(**kwargs).to(self.device)
        self.q_net_target.load_state_dict(self.q_net.state_dict())
        self.q_net_target.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.q_net.parameters(), lr=self.learning_rate)
        # Exploration draws on the device (no transfer per step); CERT sampling uses np_random.
        self._explore_gen = torch.Generator(device=self.device)
        seed = self.seed if self.seed is not None else int(self.np_random.integers(2**62))
        self._explore_gen.manual_seed(seed)

    def _episode_step_limit(self) -> int:
        if self.max_episode_steps is not None:
            return self.max_episode_steps
        tasks = list(self.task_set) if self.task_set is not None else []
        limits = [getattr(t, "max_steps", None) for t in tasks]
        if not limits or any(not isinstance(v, int) for v in limits):
            raise ValueError(
                "DecHDRQN cannot read the episode step limit from the env's tasks: pass "
                "max_episode_steps=<the longest episode, in steps>"
            )
        return max(int(v) for v in limits)  # type: ignore[arg-type]

    def _make_buffer(self) -> CERTBuffer:
        return CERTBuffer(
            capacity=self.buffer_episodes,
            max_steps=self._episode_step_limit(),
            num_envs=self.num_envs,
            num_agents=self.num_agents,
            obs_dim=int(np.prod(self.observation_space.shape)),
            n_actions=int(self.action_space.n),
            trace_length=self.trace_length,
            sampling=self.cert_sampling,
        )

    # ------------------------------------------------------------------ schedules

    def current_beta(self) -> float:
        """The hysteretic ratio in force at ``num_timesteps`` (after any anneal)."""
        if self.beta_anneal is None:
            return self.hysteretic_beta
        start, end, steps = self.beta_anneal
        frac = min(1.0, self.num_timesteps / steps)
        return start + frac * (end - start)

    def _update_exploration_rate(self) -> None:
        # Linear from the initial to the final value over exploration_fraction of the budget
        # (progress as Stable-Baselines3 counts it: 1 - num_timesteps / total_timesteps).
        progress = 1.0 - self._current_progress_remaining
        frac = min(1.0, progress / self.exploration_fraction) if self.exploration_fraction else 1.0
        eps0, eps1 = self.exploration_initial_eps, self.exploration_final_eps
        self.exploration_rate = eps0 + frac * (eps1 - eps0)

    # ------------------------------------------------------------------ acting

    def _act(
        self,
        obs: torch.Tensor,
        state: RecurrentState | None,
        episode_start: torch.Tensor | None,
        epsilon: float,
        legal: torch.Tensor | None,
    ) -> tuple[torch.Tensor, RecurrentState]:
        """Epsilon-greedy actions of all agents, computed on the device.

        Args:
            obs: ``float32 [B, N, D]``.
            state: ``(h, c)``, each ``[N, B, H]`` (``None``: zeros).
            episode_start: ``bool [B]``: rows whose memory restarts, or ``None``.
            epsilon: Probability that an agent acts uniformly among its legal actions (each
                agent draws independently).
            legal: ``bool [B, N, A]`` legal actions, or ``None`` (all legal).

        Returns:
            ``int64 [B, N]`` actions (on the device) and the new state.
        """
        b, n = obs.shape[0], obs.shape[1]
        if state is None:
            state = self.q_net.initial_state(b, self.device)
        elif episode_start is not None:
            keep = (~episode_start).to(obs.dtype)[None, :, None]
            state = (state[0] * keep, state[1] * keep)
        q, state = self.q_net.step(obs.transpose(0, 1), state)  # [N, B, A]
        legal_t = None if legal is None else legal.transpose(0, 1)
        _, actions = masked_max(q, legal_t)
        if epsilon > 0.0:
            gen, n_actions = self._explore_gen, q.shape[-1]
            explore = torch.rand((n, b), generator=gen, device=self.device) < epsilon
            noise = torch.rand((n, b, n_actions), generator=gen, device=self.device)
            if legal_t is not None:
                # Uniform over legal actions: argmax of uniform noise on the legal entries.
                noise = noise.masked_fill(~legal_t, -1.0)
            actions = torch.where(explore, noise.argmax(dim=-1), actions)
        return actions.transpose(0, 1), state

    def _predict(
        self,
        observation: torch.Tensor,
        state: Any,
        episode_start: torch.Tensor | None,
        deterministic: bool,
        action_mask: torch.Tensor | None,
    ) -> tuple[np.ndarray, Any]:
        """Actions for ``observation [B, N, D]``.

        ``state`` is ``None`` or ``(h, c)`` as returned before: numpy arrays ``[N, B, H]``.
        ``deterministic=False`` acts epsilon-greedily with the current exploration rate.
        """
        torch_state: RecurrentState | None = None
        if state is not None:
            h, c = state
            b = observation.shape[0]
            want = (self.num_agents, b, self.lstm_hidden)
            if tuple(np.shape(h)) != want or tuple(np.shape(c)) != want:
                raise ValueError(
                    f"state has shapes {np.shape(h)}, {np.shape(c)}: expected two arrays "
                    f"{want} as returned by the previous predict call (or None to start)"
                )
            torch_state = (
                torch.as_tensor(h, device=self.device, dtype=torch.float32),
                torch.as_tensor(c, device=self.device, dtype=torch.float32),
            )
        epsilon = 0.0 if deterministic else self.exploration_rate
        actions, (h_new, c_new) = self._act(
            observation.float(), torch_state, episode_start, epsilon, action_mask
        )
        return actions.cpu().numpy(), (h_new.cpu().numpy(), c_new.cpu().numpy())

    # ------------------------------------------------------------------ learning

    def learn(
        self: SelfDecHDRQN,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int | None = 4,
        tb_log_name: str = "DecHDRQN",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfDecHDRQN:
        """Collect experience with epsilon-greedy agents and train them on CERT minibatches.

        Args:
            total_timesteps: Env steps to collect (summed over the ``B`` environments).
            callback: SB3 callback(s) called after every vector step.
            log_interval: Dump the logs once this many episodes ended since the last dump
                (``None``: never).
            tb_log_name: Name of the log folder under ``tensorboard_log``.
            reset_num_timesteps: Start counting (and the exploration schedule) from zero.
            progress_bar: Show a progress bar (tqdm, rich).

        Returns:
            ``self``.
        """
        obs_before = self._last_obs
        total_timesteps, cb = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        if self.replay_buffer is None or self.replay_buffer.num_envs != self.num_envs:
            self.replay_buffer = self._make_buffer()
        if self._last_obs is not obs_before:
            # The env was restarted: drop the episodes in progress and the agents' memory.
            self.replay_buffer.reset_staging()
            self._rollout_state = None
        if reset_num_timesteps:
            self._last_target_sync = 0
        cb.on_training_start(locals(), globals())
        while self.num_timesteps < total_timesteps:
            for _ in range(self.train_freq):
                if not self._collect_step(cb, total_timesteps):
                    cb.on_training_end()
                    return self
                self._dump_logs_if_due(log_interval)
                if self.num_timesteps >= total_timesteps:
                    break
            if self.num_timesteps >= self.learning_starts and self.replay_buffer.size > 0:
                self.train(self.gradient_steps, self.batch_size)
        cb.on_training_end()
        return self

    def _tensor(self, arr: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
        # Env arrays may be read-only (shared between steps): copy those rather than alias them.
        arr = np.asarray(arr)
        if not arr.flags.writeable:
            arr = arr.copy()
        return torch.as_tensor(arr, device=self.device, dtype=dtype)

    def _collect_step(self, callback: BaseCallback, total_timesteps: int) -> bool:
        """One vector step: act, step the env, store it in the CERT, sync the target network.

        Returns:
            ``False`` when a callback asked to stop.
        """
        assert self.env is not None and self.replay_buffer is not None
        assert self._last_obs is not None and self._last_info is not None
        self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
        self._update_exploration_rate()
        obs, info = self._last_obs, self._last_info
        b, n = obs.shape[0], obs.shape[1]
        action_mask = info.get("action_mask")
        agent_mask = info.get("agent_mask")
        starts = self._last_episode_starts
        with torch.no_grad():
            actions_t, self._rollout_state = self._act(
                self._tensor(obs, torch.float32),
                self._rollout_state,
                None if starts is None else self._tensor(starts),
                self.exploration_rate,
                None if action_mask is None else self._tensor(action_mask),
            )
        actions = actions_t.cpu().numpy()
        new_obs, rewards, terminated, truncated, new_info = self.env.step(actions)
        self.num_timesteps += self.num_envs
        done = np.asarray(new_info["_final"], dtype=bool)
        self.replay_buffer.add(
            obs,
            actions,
            rewards,
            terminated,
            truncated,
            new_info.get("final_obs", new_obs),
            done,
            np.ones((b, n), dtype=bool) if agent_mask is None else agent_mask,
            np.ones((b, n, int(self.action_space.n)), dtype=bool)
            if action_mask is None
            else action_mask,
            info.get("task_id", np.zeros(b, dtype=np.int64)),
        )
        self._update_info_buffer(new_info, rewards=rewards, terminated=terminated)
        self._last_obs, self._last_info, self._last_episode_starts = new_obs, new_info, done
        if self.num_timesteps - self._last_target_sync >= self.target_update_interval:
            self.q_net_target.load_state_dict(self.q_net.state_dict())
            self._last_target_sync = self.num_timesteps
        self.logger.record("rollout/exploration_rate", self.exploration_rate)
        callback.update_locals(locals())
        return bool(callback.on_step())

    def _batch_to_device(self, batch: CERTBatch) -> dict[str, torch.Tensor]:
        """Move a minibatch to the device, agents first: ``[N, T, M, ...]``."""
        dev = self.device

        def put(arr: np.ndarray, dims: tuple[int, ...]) -> torch.Tensor:
            return torch.from_numpy(arr).to(dev, non_blocking=True).permute(*dims)

        return {
            "obs": put(batch.obs, (2, 1, 0, 3)),
            "actions": put(batch.actions, (2, 1, 0)),
            "rewards": put(batch.rewards, (2, 1, 0)),
            "terminated": put(batch.terminated, (2, 1, 0)),
            "mask": put(batch.mask, (2, 1, 0)),
            "next_legal": put(batch.next_action_mask, (2, 1, 0, 3)),
        }

    def train(self, gradient_steps: int, batch_size: int) -> None:
        """Run ``gradient_steps`` hysteretic updates on CERT minibatches (section 5.1.3)."""
        assert self.replay_buffer is not None
        beta = self.current_beta()
        losses = []
        for _ in range(gradient_steps):
            data = self._batch_to_device(self.replay_buffer.sample(batch_size, self.np_random))
            # Every trace is unrolled from a zero LSTM state over o_t0 .. o_t0+tau; Q(o_t) at
            # positions 0..tau-1, the bootstrap Q(o_t+1) at 1..tau (equation 4). The online
            # network needs o_t0+tau only to pick the double-Q action.
            obs = data["obs"]
            q_online, _ = self.q_net(obs if self.double_q else obs[:, :-1])
            q_taken = q_online[:, : obs.shape[1] - 1]
            q_taken = q_taken.gather(-1, data["actions"].unsqueeze(-1)).squeeze(-1)
            with torch.no_grad():
                q_next_target, _ = self.q_net_target(obs)
                q_next_target = q_next_target[:, 1:]
                if self.double_q:
                    _, best = masked_max(q_online[:, 1:].detach(), data["next_legal"])
                    next_value = q_next_target.gather(-1, best.unsqueeze(-1)).squeeze(-1)
                else:
                    next_value, _ = masked_max(q_next_target, data["next_legal"])
                # Termination ends the return; time-limit truncation bootstraps.
                target = data["rewards"] + self.gamma * (1.0 - data["terminated"]) * next_value
            loss = hysteretic_td_loss(target - q_taken, data["mask"], beta, self.hysteresis)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.max_grad_norm is not None:
                clip_grad_norm_per_group(self.q_net, self.max_grad_norm)
            self.optimizer.step()
            losses.append(loss.detach())
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        # The loss is a sum over agents; the log shows the mean per agent.
        self.logger.record("train/loss", float(torch.stack(losses).mean()) / self.num_agents)
        self.logger.record("train/beta", beta)

    # ------------------------------------------------------------------ persistence

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            **super()._hyperparameters(),
            "hysteretic_beta": self.hysteretic_beta,
            "beta_anneal": None if self.beta_anneal is None else list(self.beta_anneal),
            "hysteresis": self.hysteresis,
            "trace_length": self.trace_length,
            "batch_size": self.batch_size,
            "buffer_episodes": self.buffer_episodes,
            "learning_starts": self.learning_starts,
            "train_freq": self.train_freq,
            "gradient_steps": self.gradient_steps,
            "target_update_interval": self.target_update_interval,
            "exploration_fraction": self.exploration_fraction,
            "exploration_initial_eps": self.exploration_initial_eps,
            "exploration_final_eps": self.exploration_final_eps,
            "double_q": self.double_q,
            "share_parameters": self.share_parameters,
            "max_grad_norm": self.max_grad_norm,
            "cert_sampling": self.cert_sampling,
            "max_episode_steps": self.max_episode_steps,
            "pre_lstm": list(self.pre_lstm),
            "lstm_hidden": self.lstm_hidden,
            "post_lstm": list(self.post_lstm),
        }

    def _modules(self) -> dict[str, torch.nn.Module]:
        return {"q_net": self.q_net, "q_net_target": self.q_net_target}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def _extra_state(self) -> dict[str, Any]:
        return {
            "n_updates": self._n_updates,
            "last_target_sync": self._last_target_sync,
            "exploration_rate": self.exploration_rate,
        }

    def _set_extra_state(self, state: Mapping[str, Any]) -> None:
        self._n_updates = int(state.get("n_updates", 0))
        self._last_target_sync = int(state.get("last_target_sync", 0))
        self.exploration_rate = float(state.get("exploration_rate", self.exploration_final_eps))


def clip_grad_norm_per_group(module: torch.nn.Module, max_norm: float) -> torch.Tensor:
    """Clip the gradient of each group (agent) of a grouped module to ``max_norm`` separately.

    Every parameter of :class:`~mt_agents.dec_hdrqn.policies.DRQNNetwork` has the group axis
    first, so agent ``g``'s gradient is slice ``g`` of every parameter's gradient.

    Args:
        module: A module whose parameters all have the group axis first.
        max_norm: The largest gradient norm of one group.

    Returns:
        The norms before clipping, one per group.
    """
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(0)
    squares = torch.stack([g.reshape(g.shape[0], -1).square().sum(dim=1) for g in grads])
    norms = squares.sum(dim=0).sqrt()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))
    return norms


def _check_int(name: str, value: Any, low: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name}={value!r} is invalid: need an int >= {low}")


def _check_unit(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}={value!r} is invalid: need a number in [0, 1]")


def _check_anneal(value: Sequence[float]) -> tuple[float, float, int]:
    try:
        start, end, steps = value
    except (TypeError, ValueError):
        raise ValueError(
            f"beta_anneal={value!r} is invalid: need (start, end, steps), e.g. (0.2, 0.4, 100000)"
        ) from None
    _check_unit("beta_anneal start", start)
    _check_unit("beta_anneal end", end)
    _check_int("beta_anneal steps", steps, 1)
    return float(start), float(end), int(steps)
