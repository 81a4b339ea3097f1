"""Policy distillation of specialist teams into one task-agnostic team (paper 000, section 5.2).

Phase II of the paper's approach. After Phase I has trained a specialist team (one DRQN per
agent, :class:`~mt_agents.DecHDRQN`) for every task, :class:`PolicyDistillation` trains one
*student* DRQN per agent that acts well in every task **without being told the task**:

1. **Data collection.** The batched env samples a task for each episode. In each environment the
   specialist team of that episode's task acts (epsilon-greedy, epsilon 0.05), and every agent's
   observation ``o_t`` and its teacher's Q-vector ``Q_t`` are stored in the distillation memory of
   the task (:class:`~mt_agents.distillation.memory.DistillationMemories`). Choosing the teacher
   reads ``info["task_id"]``; that is the only use of the task id, and it never reaches the
   student.
2. **Regression.** Each agent's student, a DRQN of the same architecture that receives only the
   agent's observations, is trained on traces drawn from all tasks' memories with the tempered KL
   divergence of equation 6 (:func:`~mt_agents.distillation.loss.tempered_kl_loss`), unrolled from
   a zero LSTM state, padding masked out.

The two alternate, as in the paper: ``gradient_steps`` regressions every ``train_freq`` vector
steps of collection. The trained model is an ordinary learner: ``predict`` (greedy actions of the
students, recurrent state as for Dec-HDRQN), ``save`` / ``load`` (the students only; teachers are
not stored in the file) and :func:`~mt_agents.evaluate_multitask` work as for any learner.

Choices where the paper is silent (listed on the algorithm page):

* The teachers' greedy action is taken over legal actions; their epsilon-exploration draws
  uniformly among legal actions, for each agent independently.
* Each trace's task is uniform among the tasks with data (every task weighs the same), and the
  memories are FIFOs of ``memory_episodes`` episodes per task.
* Four regressions of ``batch_size`` traces per vector step by default (``gradient_steps``):
  the paper gives no ratio; on MAMT 3x3 + 4x4 this reached a better student in less wall time
  than one per step.
* ``predict(deterministic=False)`` samples each agent's action from ``softmax(Q_S)``, the
  distribution the student was fitted to.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar, cast

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.type_aliases import MaybeCallback

from mt_agents.common.base import MultiAgentAlgorithm
from mt_agents.common.serialization import ModelFileError
from mt_agents.dec_hdrqn.dec_hdrqn import clip_grad_norm_per_group, masked_max
from mt_agents.dec_hdrqn.policies import DRQNNetwork, GroupedLinear, RecurrentState
from mt_agents.distillation.loss import tempered_kl_loss
from mt_agents.distillation.memory import DistillationBatch, DistillationMemories

__all__ = ["PolicyDistillation", "TeacherSpec", "teacher_network"]

SelfPolicyDistillation = TypeVar("SelfPolicyDistillation", bound="PolicyDistillation")
#: A teacher: a trained model (Dec-HDRQN, or another distilled model) or the path of its file.
TeacherSpec = MultiAgentAlgorithm | str | os.PathLike
#: The paper's DRQN sizes (section 6.1), used when no teacher gives the architecture.
_PAPER_SIZES: tuple[tuple[int, ...], int, tuple[int, ...]] = ((32, 32), 64, (32,))


def teacher_network(model: Any) -> DRQNNetwork:
    """The recurrent Q-network of a teacher model.

    Args:
        model: A :class:`~mt_agents.DecHDRQN` (its online network ``q_net``), a
            :class:`PolicyDistillation` (its students), or any model with a ``q_net`` attribute
            that is a :class:`~mt_agents.dec_hdrqn.DRQNNetwork`.

    Returns:
        The network (not a copy).

    Raises:
        TypeError: For a model without such a network.
    """
    for attr in ("q_net", "student"):
        net = getattr(model, attr, None)
        if isinstance(net, DRQNNetwork):
            return net
    raise TypeError(
        f"a teacher must be a trained DecHDRQN or PolicyDistillation model (or its file), "
        f"got {type(model).__name__}: it has no DRQN to read Q-values from"
    )


def _check_int(name: str, value: Any, low: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name}={value!r} is invalid: need an int >= {low}")
    return int(value)


def _check_unit(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}={value!r} is invalid: need a number in [0, 1]")
    return float(value)


def _sizes(name: str, value: Sequence[int] | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    sizes = tuple(value)
    for v in sizes:
        _check_int(name, v, 1)
    return tuple(int(v) for v in sizes)


class PolicyDistillation(MultiAgentAlgorithm):
    """Distil per-task specialist teams into one DRQN per agent that never sees the task id.

    Example::

        venv = mt_envs.make_vec("mamt_v0", 16, tasks="mamt-2a-3to6", seed=0)
        teachers = {0: "spec_3x3.zip", 1: "spec_4x4.zip", 2: "spec_5x5.zip", 3: "spec_6x6.zip"}
        model = PolicyDistillation(venv, teachers, temperature=0.01, seed=0)
        model.learn(100_000)
        print(evaluate_multitask(model, venv, n_episodes=50).to_markdown())

    Args:
        env: The multi-task batched env (:func:`mt_envs.make_vec` over a task set); ``None``
            only when loading.
        teachers: ``{task: teacher}``: the task as an id, a task of the env's set or its name;
            the teacher a trained model (:class:`~mt_agents.DecHDRQN`, or a
            ``PolicyDistillation``) or the path of its model file. Every task of the env needs
            one. Teachers must have the env's agent slots, observation size and action count.
            ``None``: set them later with :meth:`set_teachers` (a loaded model predicts
            without any).
        temperature: ``T`` of the teachers' softmax in equation 6 (paper: 0.01, from a grid
            search); smaller sharpens the target toward each teacher's greedy action.
        learning_rate: Adam learning rate of the students.
        gamma: Discount of the logged discounted returns (the loss has none).
        teacher_epsilon: Exploration of the teachers while collecting (paper: 0.05).
        trace_length: Steps per regression trace ``tau``.
        batch_size: Traces per minibatch.
        memory_episodes: Episodes kept in each task's distillation memory (FIFO).
        learning_starts: Env steps collected before the first regression.
        train_freq: Vector-env steps (each ``B`` env steps) between regression rounds.
        gradient_steps: Gradient steps per regression round (4: the teachers are fixed, so their
            data never go stale, and several regressions per collected step learn faster per
            second than collecting more).
        max_grad_norm: Clip each agent's gradient to this norm; ``None``: no clipping.
        max_episode_steps: Longest episode stored whole; ``None`` reads the largest
            ``max_steps`` of the env's tasks.
        pre_lstm: Student hidden sizes before the LSTM (``None``: the first teacher's, or the
            paper's ``(32, 32)``).
        lstm_hidden: Student LSTM cells (``None``: the first teacher's, or 64).
        post_lstm: Student hidden sizes after the LSTM (``None``: the first teacher's, or
            ``(32,)``).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``.
        seed: Seeds torch, numpy, the teachers' exploration and the memory sampling.
        tensorboard_log: Folder of the logs (``None``: none).
        verbose: 0 silent, 1 training logs on stdout.
        stats_window_size: Episodes per running mean of the ``rollout/`` statistics (these are
            the teachers' episodes).

    Raises:
        ValueError: For an out-of-range hyperparameter, a task without teacher, or a teacher
            whose spaces differ from the env's.
        TypeError: For a teacher that is not a DRQN-based model.
        ModelFileError: For a teacher file that cannot be loaded.
    """

    algorithm_name: ClassVar[str] = "policy_distillation"

    def __init__(
        self,
        env: Any,
        teachers: Mapping[Any, TeacherSpec] | None = None,
        *,
        temperature: float = 0.01,
        learning_rate: float = 1e-3,
        gamma: float = 0.95,
        teacher_epsilon: float = 0.05,
        trace_length: int = 4,
        batch_size: int = 32,
        memory_episodes: int = 2000,
        learning_starts: int = 1000,
        train_freq: int = 1,
        gradient_steps: int = 4,
        max_grad_norm: float | None = None,
        max_episode_steps: int | None = None,
        pre_lstm: Sequence[int] | None = None,
        lstm_hidden: int | None = None,
        post_lstm: Sequence[int] | None = None,
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
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not temperature > 0
        ):
            raise ValueError(f"temperature={temperature!r} is invalid: need a number > 0")
        self.temperature = float(temperature)
        self.teacher_epsilon = _check_unit("teacher_epsilon", teacher_epsilon)
        self.trace_length = _check_int("trace_length", trace_length, 1)
        self.batch_size = _check_int("batch_size", batch_size, 1)
        self.memory_episodes = _check_int("memory_episodes", memory_episodes, 1)
        self.learning_starts = _check_int("learning_starts", learning_starts, 0)
        self.train_freq = _check_int("train_freq", train_freq, 1)
        self.gradient_steps = _check_int("gradient_steps", gradient_steps, 1)
        if max_grad_norm is not None and not float(max_grad_norm) > 0.0:
            raise ValueError(f"max_grad_norm={max_grad_norm!r} is invalid: need > 0 or None")
        self.max_grad_norm = None if max_grad_norm is None else float(max_grad_norm)
        self.max_episode_steps = (
            None
            if max_episode_steps is None
            else _check_int("max_episode_steps", max_episode_steps, 1)
        )
        self.pre_lstm = _sizes("pre_lstm", pre_lstm)
        self.lstm_hidden = (
            None if lstm_hidden is None else _check_int("lstm_hidden", lstm_hidden, 1)
        )
        self.post_lstm = _sizes("post_lstm", post_lstm)
        self.memories: DistillationMemories | None = None
        self.teacher_nets: dict[int, DRQNNetwork] = {}
        #: Where each teacher came from (task name -> file path or class name), for the record.
        self.teacher_sources: dict[str, str] = {}
        self._teacher_state: dict[int, RecurrentState] | None = None
        self._n_updates = 0
        if teachers is not None:
            self.set_teachers(teachers)
        if _init_setup_model:
            self._setup_model()

    # ------------------------------------------------------------------ teachers

    def set_teachers(self, teachers: Mapping[Any, TeacherSpec]) -> None:
        """Give (or replace) the specialist of every task.

        Args:
            teachers: ``{task: model or model file}`` (see the class arguments).

        Raises:
            ValueError: Without an env, for unknown or missing tasks, or for a teacher whose
                spaces differ from the env's.
            TypeError: For a teacher without a DRQN.
            ModelFileError: For a teacher file that cannot be loaded.
        """
        if self.env is None or self.task_set is None:
            raise ValueError(
                "teachers need the multi-task env: load the model with env=... (or call "
                "set_env) before set_teachers"
            )
        if not isinstance(teachers, Mapping) or not teachers:
            raise ValueError(
                "teachers must be a non-empty mapping {task: model or model file}, got "
                f"{teachers!r}"
            )
        nets: dict[int, DRQNNetwork] = {}
        sources: dict[str, str] = {}
        for key, spec in teachers.items():
            task_id = self.task_set.task_id(key)
            if task_id in nets:
                raise ValueError(f"task {self.task_set.names[task_id]!r} has two teachers")
            model = self._load_teacher(spec, task_id)
            net = teacher_network(model)
            self._check_teacher(model, net, task_id)
            copy_net = copy.deepcopy(net).to(self.device)
            copy_net.requires_grad_(False)
            copy_net.eval()
            nets[task_id] = copy_net
            sources[self.task_set.names[task_id]] = (
                os.fspath(spec) if isinstance(spec, (str, os.PathLike)) else type(model).__name__
            )
        missing = [self.task_set.names[k] for k in range(len(self.task_set)) if k not in nets]
        if missing:
            raise ValueError(
                f"tasks {missing} of task set {self.task_set.name!r} have no teacher: give one "
                "for every task the env samples (or build the env over the tasks you have "
                "teachers for)"
            )
        self.teacher_nets = nets
        self.teacher_sources = sources
        self._teacher_state = None

    def _load_teacher(self, spec: TeacherSpec, task_id: int) -> Any:
        if isinstance(spec, (str, os.PathLike)):
            from mt_agents import load_model

            try:
                return load_model(spec, device=self.device)
            except ModelFileError as exc:
                raise ModelFileError(
                    f"teacher of task {self.task_set.names[task_id]!r}: {exc}"  # type: ignore[union-attr]
                ) from exc
        return spec

    def _check_teacher(self, model: Any, net: DRQNNetwork, task_id: int) -> None:
        assert self.task_set is not None
        name = self.task_set.names[task_id]
        d, a = int(self.observation_space.shape[0]), int(self.action_space.n)
        problems = []
        if net.n_agents != self.num_agents:
            problems.append(f"{net.n_agents} agent slots instead of {self.num_agents}")
        if net.obs_dim != d:
            problems.append(f"observations of size {net.obs_dim} instead of {d}")
        if net.n_actions != a:
            problems.append(f"{net.n_actions} actions instead of {a}")
        if problems:
            raise ValueError(
                f"the teacher of task {name!r} ({type(model).__name__}) does not fit the env: "
                f"{'; '.join(problems)}. Train specialists on the multi-task env with a fixed "
                "task sampler (mt_envs.make_vec(..., tasks=<the set>, sampler=mt_envs.tasks."
                "fixed(k))) so that padding and encoding match"
            )

    # ------------------------------------------------------------------ setup

    def _architecture(self) -> tuple[tuple[int, ...], int, tuple[int, ...]]:
        pre, hidden, post = _PAPER_SIZES
        if self.teacher_nets:
            first = self.teacher_nets[min(self.teacher_nets)]
            pre = tuple(cast(GroupedLinear, layer).out_features for layer in first.pre)
            hidden = int(first.lstm_hidden)
            post = tuple(cast(GroupedLinear, layer).out_features for layer in first.post)
        return (
            self.pre_lstm if self.pre_lstm is not None else pre,
            self.lstm_hidden if self.lstm_hidden is not None else hidden,
            self.post_lstm if self.post_lstm is not None else post,
        )

    def _setup_model(self) -> None:
        """Build the students (one DRQN per agent, grouped), Adam and the generators."""
        self.pre_lstm, self.lstm_hidden, self.post_lstm = self._architecture()
        self.student = DRQNNetwork(
            obs_dim=int(self.observation_space.shape[0]),
            n_actions=int(self.action_space.n),
            n_agents=int(self.num_agents),
            pre_lstm=self.pre_lstm,
            lstm_hidden=self.lstm_hidden,
            post_lstm=self.post_lstm,
        ).to(self.device)
        self.optimizer = torch.optim.Adam(self.student.parameters(), lr=self.learning_rate)
        self._gen = torch.Generator(device=self.device)
        seed = self.seed if self.seed is not None else int(self.np_random.integers(2**62))
        self._gen.manual_seed(seed)

    def _episode_step_limit(self) -> int:
        if self.max_episode_steps is not None:
            return self.max_episode_steps
        limits = [getattr(t, "max_steps", None) for t in (self.task_set or [])]
        if not limits or any(not isinstance(v, int) for v in limits):
            raise ValueError(
                "PolicyDistillation cannot read the episode step limit from the env's tasks: "
                "pass max_episode_steps=<the longest episode, in steps>"
            )
        return max(int(v) for v in limits)  # type: ignore[arg-type]

    def _make_memories(self) -> DistillationMemories:
        assert self.task_set is not None
        return DistillationMemories(
            n_tasks=len(self.task_set),
            capacity=self.memory_episodes,
            max_steps=self._episode_step_limit(),
            num_envs=self.num_envs,
            num_agents=self.num_agents,
            obs_dim=int(self.observation_space.shape[0]),
            n_actions=int(self.action_space.n),
        )

    # ------------------------------------------------------------------ acting

    def _tensor(self, arr: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
        arr = np.asarray(arr)
        if not arr.flags.writeable:
            arr = arr.copy()
        return torch.as_tensor(arr, device=self.device, dtype=dtype)

    def _teachers_act(
        self,
        obs: torch.Tensor,
        task_id: np.ndarray,
        episode_start: np.ndarray | None,
        legal: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The teacher of each environment's task acts there (epsilon-greedy).

        Args:
            obs: ``float32 [B, N, D]``.
            task_id: ``int [B]``: which teacher plays each environment.
            episode_start: ``bool [B]`` rows whose teachers' memory restarts.
            legal: ``bool [B, N, A]`` or ``None``.

        Returns:
            ``(q [N, B, A], actions [B, N])`` on the device.
        """
        b, n = obs.shape[0], obs.shape[1]
        if self._teacher_state is None or self._teacher_state_rows() != b:
            self._teacher_state = {
                k: net.initial_state(b, self.device) for k, net in self.teacher_nets.items()
            }
        elif episode_start is not None and episode_start.any():
            keep = self._tensor(~np.asarray(episode_start, dtype=bool), torch.float32)
            keep = keep[None, :, None]
            self._teacher_state = {
                k: (h * keep, c * keep) for k, (h, c) in self._teacher_state.items()
            }
        obs_n = obs.transpose(0, 1)  # [N, B, D]
        q = obs.new_zeros((n, b, int(self.action_space.n)))
        for k in np.unique(task_id):
            net = self.teacher_nets[int(k)]
            rows = self._tensor(np.flatnonzero(task_id == k))
            h, c = self._teacher_state[int(k)]
            q_k, (h_k, c_k) = net.step(obs_n[:, rows], (h[:, rows], c[:, rows]))
            q[:, rows] = q_k
            h[:, rows], c[:, rows] = h_k, c_k
        legal_n = None if legal is None else legal.transpose(0, 1)
        _, actions = masked_max(q, legal_n)
        if self.teacher_epsilon > 0.0:
            explore = torch.rand((n, b), generator=self._gen, device=self.device)
            noise = torch.rand((n, b, q.shape[-1]), generator=self._gen, device=self.device)
            if legal_n is not None:
                noise = noise.masked_fill(~legal_n, -1.0)
            actions = torch.where(explore < self.teacher_epsilon, noise.argmax(dim=-1), actions)
        return q, actions.transpose(0, 1)

    def _teacher_state_rows(self) -> int:
        assert self._teacher_state is not None
        first = next(iter(self._teacher_state.values()))
        return int(first[0].shape[1])

    def _predict(
        self,
        observation: torch.Tensor,
        state: Any,
        episode_start: torch.Tensor | None,
        deterministic: bool,
        action_mask: torch.Tensor | None,
    ) -> tuple[np.ndarray, Any]:
        """The students' actions for ``observation [B, N, D]`` (observations only: no task id).

        ``state`` is ``None`` or the ``(h, c)`` numpy arrays ``[N, B, H]`` returned before.
        ``deterministic=False`` samples each agent's action from ``softmax(Q_S)``.
        """
        b = observation.shape[0]
        torch_state: RecurrentState
        if state is None:
            torch_state = self.student.initial_state(b, self.device)
        else:
            h, c = state
            want = (self.num_agents, b, self.student.lstm_hidden)
            if tuple(np.shape(h)) != want or tuple(np.shape(c)) != want:
                raise ValueError(
                    f"state has shapes {np.shape(h)}, {np.shape(c)}: expected two arrays "
                    f"{want} as returned by the previous predict call (or None to start)"
                )
            torch_state = (
                torch.as_tensor(h, device=self.device, dtype=torch.float32),
                torch.as_tensor(c, device=self.device, dtype=torch.float32),
            )
            if episode_start is not None:
                keep = (~episode_start).to(torch.float32)[None, :, None]
                torch_state = (torch_state[0] * keep, torch_state[1] * keep)
        q, (h_new, c_new) = self.student.step(observation.float().transpose(0, 1), torch_state)
        legal = None if action_mask is None else action_mask.transpose(0, 1)
        if deterministic:
            _, actions = masked_max(q, legal)
        else:
            logits = q if legal is None else q.masked_fill(~legal, torch.finfo(q.dtype).min)
            probs = torch.softmax(logits, dim=-1).reshape(-1, q.shape[-1])
            actions = torch.multinomial(probs, 1, generator=self._gen).view(q.shape[:-1])
        return (
            actions.transpose(0, 1).cpu().numpy(),
            (h_new.cpu().numpy(), c_new.cpu().numpy()),
        )

    # ------------------------------------------------------------------ learning

    def learn(
        self: SelfPolicyDistillation,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int | None = 4,
        tb_log_name: str = "PolicyDistillation",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfPolicyDistillation:
        """Alternate data collection by the teachers and regression of the students.

        Args:
            total_timesteps: Env steps to collect (summed over the ``B`` environments).
            callback: SB3 callback(s) called after every vector step.
            log_interval: Dump the logs once this many episodes ended since the last dump
                (``None``: never).
            tb_log_name: Name of the log folder under ``tensorboard_log``.
            reset_num_timesteps: Start counting from zero.
            progress_bar: Show a progress bar.

        Returns:
            ``self``.

        Raises:
            ValueError: Without teachers or env.
        """
        if not self.teacher_nets:
            raise ValueError(
                "PolicyDistillation.learn needs teachers: pass teachers={task: model or file} "
                "or call set_teachers(...) first"
            )
        obs_before = self._last_obs
        total_timesteps, cb = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        if self.memories is None or self.memories.num_envs != self.num_envs:
            self.memories = self._make_memories()
        if self._last_obs is not obs_before:
            self.memories.reset_staging()
            self._teacher_state = None
        cb.on_training_start(locals(), globals())
        while self.num_timesteps < total_timesteps:
            for _ in range(self.train_freq):
                if not self._collect_step(cb):
                    cb.on_training_end()
                    return self
                self._dump_logs_if_due(log_interval)
                if self.num_timesteps >= total_timesteps:
                    break
            if self.num_timesteps >= self.learning_starts and any(self.memories.sizes):
                self.train(self.gradient_steps, self.batch_size)
        cb.on_training_end()
        return self

    def _collect_step(self, callback: BaseCallback) -> bool:
        """One vector step of the teachers; their observations and Q-vectors go to memory."""
        assert self.env is not None and self.memories is not None
        assert self._last_obs is not None and self._last_info is not None
        obs, info = self._last_obs, self._last_info
        b, n = obs.shape[0], obs.shape[1]
        task_id = np.asarray(info.get("task_id", np.zeros(b, dtype=np.int64)), dtype=np.int64)
        legal = info.get("action_mask")
        live = info.get("agent_mask")
        with torch.no_grad():
            q, actions_t = self._teachers_act(
                self._tensor(obs, torch.float32),
                task_id,
                self._last_episode_starts,
                None if legal is None else self._tensor(legal, torch.bool),
            )
        actions = actions_t.cpu().numpy()
        new_obs, rewards, terminated, _truncated, new_info = self.env.step(actions)
        self.num_timesteps += self.num_envs
        done = np.asarray(new_info["_final"], dtype=bool)
        self.memories.add(
            obs,
            q.transpose(0, 1).cpu().numpy(),
            np.ones((b, n, int(self.action_space.n)), dtype=bool) if legal is None else legal,
            np.ones((b, n), dtype=bool) if live is None else live,
            task_id,
            done,
        )
        self._update_info_buffer(new_info, rewards=rewards, terminated=terminated)
        self._last_obs, self._last_info, self._last_episode_starts = new_obs, new_info, done
        callback.update_locals(locals())
        return bool(callback.on_step())

    def _batch_to_device(self, batch: DistillationBatch) -> dict[str, torch.Tensor]:
        """A minibatch on the device, agents first: ``[N, tau, M, ...]``."""

        def put(arr: np.ndarray, dims: tuple[int, ...]) -> torch.Tensor:
            return torch.from_numpy(arr).to(self.device, non_blocking=True).permute(*dims)

        return {
            "obs": put(batch.obs, (2, 1, 0, 3)),
            "teacher_q": put(batch.teacher_q, (2, 1, 0, 3)),
            "legal": put(batch.legal, (2, 1, 0, 3)),
            "mask": put(batch.mask, (2, 1, 0)),
        }

    def train(self, gradient_steps: int, batch_size: int) -> None:
        """Run ``gradient_steps`` regressions of the students on traces from all tasks.

        Logs ``train/loss`` (the KL of equation 6, mean per agent) and ``train/agreement`` (the
        share of real trace steps where a student's greedy action is its teacher's).
        """
        assert self.memories is not None
        losses, agree = [], []
        for _ in range(gradient_steps):
            data = self._batch_to_device(
                self.memories.sample(batch_size, self.trace_length, self.np_random)
            )
            # Observations only, unrolled from a zero state: the task id is not an input.
            q_student, _ = self.student(data["obs"])
            loss = tempered_kl_loss(
                q_student, data["teacher_q"], data["mask"], self.temperature, data["legal"]
            )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.max_grad_norm is not None:
                clip_grad_norm_per_group(self.student, self.max_grad_norm)
            self.optimizer.step()
            losses.append(loss.detach())
            with torch.no_grad():
                _, a_s = masked_max(q_student.detach(), data["legal"])
                _, a_t = masked_max(data["teacher_q"], data["legal"])
                mask = data["mask"]
                agree.append(((a_s == a_t).float() * mask).sum() / mask.sum().clamp(min=1.0))
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", float(torch.stack(losses).mean()) / self.num_agents)
        self.logger.record("train/agreement", float(torch.stack(agree).mean()))

    # ------------------------------------------------------------------ persistence

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            **super()._hyperparameters(),
            "temperature": self.temperature,
            "teacher_epsilon": self.teacher_epsilon,
            "trace_length": self.trace_length,
            "batch_size": self.batch_size,
            "memory_episodes": self.memory_episodes,
            "learning_starts": self.learning_starts,
            "train_freq": self.train_freq,
            "gradient_steps": self.gradient_steps,
            "max_grad_norm": self.max_grad_norm,
            "max_episode_steps": self.max_episode_steps,
            "pre_lstm": None if self.pre_lstm is None else list(self.pre_lstm),
            "lstm_hidden": self.lstm_hidden,
            "post_lstm": None if self.post_lstm is None else list(self.post_lstm),
        }

    def _modules(self) -> dict[str, torch.nn.Module]:
        return {"student": self.student}

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"optimizer": self.optimizer}

    def _extra_state(self) -> dict[str, Any]:
        return {"n_updates": self._n_updates, "teacher_sources": dict(self.teacher_sources)}

    def _set_extra_state(self, state: Mapping[str, Any]) -> None:
        self._n_updates = int(state.get("n_updates", 0))
        sources = state.get("teacher_sources") or {}
        if not self.teacher_nets:
            self.teacher_sources = {str(k): str(v) for k, v in dict(sources).items()}
