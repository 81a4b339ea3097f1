"""The capture ParallelEnv (MAST and MAMT). The env card lives in :mod:`mt_envs.mast_v0` and
:mod:`mt_envs.mamt_v0`."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv

from mt_envs.capture.core import SingleCore, TaskTable
from mt_envs.capture.task import N_ACTIONS, CaptureTask
from mt_envs.tasks import Task, TaskSampler, TaskSet, make_sampler
from mt_envs.utils import check_action_dict, check_options, check_seed

RENDER_MODES = ("human", "rgb_array", "ansi")


def check_action(agent: str, action: Any, n_actions: int) -> int:
    """Return ``action`` as an int, or raise ``ValueError`` saying what a valid action is.

    Accepts Python ints, numpy integers and 0-d integer arrays (what ``Discrete.sample()`` and
    learners return). Floats, bools and out-of-range values are refused, never rounded or clipped.
    """
    if isinstance(action, np.ndarray) and action.ndim == 0:
        action = action.item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise ValueError(
            f"action {action!r} of {agent} is a {type(action).__name__}: expected an int in "
            f"[0, {n_actions - 1}] (Discrete({n_actions}))"
        )
    a = int(action)
    if not 0 <= a < n_actions:
        raise ValueError(
            f"action {a} of {agent} is outside Discrete({n_actions}): expected an int in "
            f"[0, {n_actions - 1}]"
        )
    return a


class CaptureEnv(ParallelEnv):
    """MAST / MAMT capture on a toroidal grid, over a whole task set (see the env cards).

    Args:
        tasks: A :class:`~mt_envs.tasks.TaskSet`, the name of a registered set, one
            :class:`CaptureTask` or a list of them. Spaces are sized for the largest task.
        sampler: How each episode's task is chosen when ``reset`` is not given one: ``"uniform"``,
            ``"round_robin"`` or a :class:`~mt_envs.tasks.TaskSampler`.
        seed_task: Seed of the task sampler. ``None``: derived from each ``reset(seed=...)``;
            an int: the task stream is fixed by it alone, whatever the dynamics seeds.
        obs_encoding: ``"coords"`` (normalised coordinates with visibility bits) or ``"onehot"``
            (one-hot grids of the set's largest side).
        render_mode: ``None``, ``"human"``, ``"rgb_array"`` or ``"ansi"``.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "capture_v0",
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
        "render_fps": 5,
    }
    #: Every reset and step builds new per-agent info dicts that the env never touches again, so
    #: wrappers (``wrappers.MultiTaskEnv``) may add their keys in place instead of copying.
    fresh_infos: ClassVar[bool] = True
    #: Which tasks the id accepts, "mast" (n_targets == 1), "mamt" (n_targets == n_agents) or "any".
    variant: ClassVar[str] = "any"
    default_tasks: ClassVar[str] = "mamt-2a-3to6"

    def __init__(
        self,
        tasks: TaskSet | str | Task | list[Task] | None = None,
        sampler: str | TaskSampler = "uniform",
        seed_task: int | None = None,
        obs_encoding: str = "coords",
        render_mode: str | None = None,
    ) -> None:
        self.task_set = TaskSet.coerce(self.default_tasks if tasks is None else tasks)
        self._check_variant(self.task_set)
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode={render_mode!r} is invalid: use None or {RENDER_MODES}")
        self.render_mode = render_mode
        self.seed_task = check_seed(seed_task, "seed_task")
        self.sampler = make_sampler(sampler, len(self.task_set), self.seed_task)
        self.table = TaskTable(self.task_set)
        self.core = SingleCore(self.table, obs_encoding)
        self.obs_encoding = obs_encoding
        self.possible_agents = [f"agent_{i}" for i in range(self.table.n_agents_max)]
        self.agents: list[str] = []
        obs_space = gymnasium.spaces.Box(0.0, 1.0, (self.core.obs_dim,), np.float32)
        act_space = gymnasium.spaces.Discrete(N_ACTIONS)
        self.observation_spaces = dict.fromkeys(self.possible_agents, obs_space)
        self.action_spaces = dict.fromkeys(self.possible_agents, act_space)
        self.state_space = gymnasium.spaces.Box(0.0, 1.0, (self.core.state_dim,), np.float32)
        mask = np.ones(N_ACTIONS, dtype=np.int8)
        mask.flags.writeable = False
        self._action_mask = mask
        self.task_id = 0
        self.task: CaptureTask = self.table.tasks[0]
        self.num_steps = 0
        self._last_visible: list[bool] = []
        self._captured = False
        self._renderer: Any = None

    @classmethod
    def _check_variant(cls, task_set: TaskSet) -> None:
        for i, t in enumerate(task_set):
            if not isinstance(t, CaptureTask):
                raise TypeError(
                    f"task {i} of set {task_set.name!r} is a {type(t).__name__}: "
                    f"{cls.metadata['name']} takes CaptureTask tasks"
                )
            if cls.variant == "mast" and t.n_targets != 1:
                raise ValueError(
                    f"task {i} ({t.name}) has n_targets={t.n_targets}: mast_v0 needs "
                    "n_targets=1; use mamt_v0 for one target per agent"
                )
            if cls.variant == "mamt" and t.n_targets != t.n_agents:
                raise ValueError(
                    f"task {i} ({t.name}) has n_targets={t.n_targets}: mamt_v0 needs "
                    f"n_targets=n_agents={t.n_agents}; use mast_v0 for one shared target"
                )

    def observation_space(self, agent: str) -> gymnasium.spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Space:
        return self.action_spaces[agent]

    # -- episode -----------------------------------------------------------------------------
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        seed = check_seed(seed)
        check_options(options)
        if seed is not None:
            dyn, task_seq = np.random.SeedSequence(seed).spawn(2)
            self.core.seed(dyn)
            if self.seed_task is None:
                self.sampler.seed(task_seq)
        task_id = self._task_from_options(options)
        self.core.reset(task_id)
        self.task_id = task_id
        self.task = self.table.tasks[task_id]
        self.num_steps = 0
        self._captured = False
        self.agents = self.possible_agents[: self.task.n_agents]
        obs = self._observe()
        if self.render_mode == "human":
            self.render()
        return obs, self._infos()

    def _task_from_options(self, options: dict[str, Any] | None) -> int:
        # Other option keys are ignored, as PettingZoo's api_test requires.
        if not options or options.get("task") is None:
            return int(self.sampler.sample(1)[0])
        return self.task_set.task_id(options["task"])

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        if not self.agents:
            raise RuntimeError(
                "step() called on a finished episode (or before reset()): call reset() first"
            )
        if type(actions) is not dict:
            check_action_dict(actions, self.agents)
        acts = []
        for agent in self.agents:
            if agent not in actions:
                raise ValueError(
                    f"missing action for live agent {agent!r}: expected one action for each of "
                    f"{self.agents}"
                )
            a = actions[agent]
            # Fast path for the common case (a plain int in range, never a bool: type() is
            # exact); anything else gets check_action's full conversion and error messages.
            if type(a) is not int or not 0 <= a < N_ACTIONS:
                a = check_action(agent, a, N_ACTIONS)
            acts.append(a)
        if len(actions) != len(self.agents):
            unknown = [a for a in actions if a not in self.possible_agents]
            if unknown:
                raise ValueError(
                    f"actions for unknown agent(s) {unknown}; agents are {self.agents}"
                )
        reward, term, trunc = self.core.step(acts)
        self.num_steps += 1
        self._captured = term
        obs = self._observe()
        agents = self.agents
        rewards = dict.fromkeys(agents, reward)
        terminations = dict.fromkeys(agents, term)
        truncations = dict.fromkeys(agents, trunc)
        infos = self._infos()
        if term or trunc:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terminations, truncations, infos

    def _observe(self) -> dict[str, np.ndarray]:
        obs = self.core.observe()
        # Whether each live agent sees the targets: the core's flicker outcome (every task has
        # a target, so this equals the visible bit of target 0 / a non-empty target grid).
        self._last_visible = self.core.visible
        # zip stops after the task's n agents (obs has a row per agent slot); iterating obs
        # yields the row views obs[i].
        return dict(zip(self.possible_agents[: self.task.n_agents], obs, strict=False))

    def _infos(self) -> dict[str, dict[str, Any]]:
        # A fresh dict per agent and step, so a caller that edits one cannot corrupt another's
        # or a later step's (the values are immutable or read-only).
        tid, task, mask = self.task_id, self.task, self._action_mask
        return {a: {"task_id": tid, "task": task, "action_mask": mask} for a in self.agents}

    def scripted_policy(self) -> Any:
        """The family's scripted baseline, the greedy chaser (:class:`~.GreedyPolicy`)."""
        from mt_envs.capture.greedy import GreedyPolicy

        return GreedyPolicy.for_env(self)

    def state(self) -> np.ndarray:
        return self.core.state()

    # -- rendering ---------------------------------------------------------------------------
    def render(self) -> np.ndarray | str | None:
        if self.render_mode is None:
            gymnasium.logger.warn(
                "render() called with render_mode=None; build the env with render_mode="
                "'rgb_array', 'human' or 'ansi'"
            )
            return None
        if self.render_mode == "ansi":
            from mt_envs.capture.rendering import render_ansi

            return render_ansi(self)
        if self._renderer is None:
            from mt_envs.capture.rendering import CaptureRenderer

            self._renderer = CaptureRenderer(self.render_mode, self.metadata["render_fps"])
        return self._renderer.draw(self)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_renderer"] = None  # a pygame window cannot be pickled; reopened on demand
        return state


class MASTEnv(CaptureEnv):
    """Multi-agent single-target capture (``mast_v0``)."""

    metadata: ClassVar[dict[str, Any]] = {**CaptureEnv.metadata, "name": "mast_v0"}
    variant = "mast"
    default_tasks = "mast-2a-4to8"


class MAMTEnv(CaptureEnv):
    """Multi-agent multi-target capture (``mamt_v0``)."""

    metadata: ClassVar[dict[str, Any]] = {**CaptureEnv.metadata, "name": "mamt_v0"}
    variant = "mamt"
    default_tasks = "mamt-2a-3to6"
