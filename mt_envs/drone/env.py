"""The drone navigation ParallelEnv. The env card lives in :mod:`mt_envs.drone_nav_v0`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv

from mt_envs.capture.env import check_action
from mt_envs.drone.core import (
    ACTION_TABLE,
    MODES,
    N_ACTIONS,
    STATE_PER_DRONE,
    DroneConfig,
    DroneCore,
    DroneTable,
    check_continuous,
)
from mt_envs.drone.raycast import Camera
from mt_envs.drone.world import World
from mt_envs.tasks import Task, TaskSampler, TaskSet, make_sampler
from mt_envs.utils import check_action_dict, check_options, check_seed

RENDER_MODES = ("human", "rgb_array")
DEFAULT_TASKS = "drone-4maps"
MAX_DRONES = 64


def build_config(
    rows: int = 8,
    cols: int = 32,
    fov_h: float = 80.0,
    fov_v: float = 45.0,
    max_range: float = 10.0,
    obs_type: str = "depth",
    extras: Sequence[str] | str = (),
    continuous_actions: bool = False,
    step_length: float = 0.4,
    radius: float = 0.2,
    crash_distance: float = 0.3,
    centre_window: tuple[int, int] | None = None,
) -> DroneConfig:
    """The :class:`~mt_envs.drone.core.DroneConfig` of the env keywords (validated)."""
    camera = Camera(rows=rows, cols=cols, fov_h=fov_h, fov_v=fov_v, max_range=max_range)
    return DroneConfig(
        camera=camera,
        obs_type=obs_type,
        extras=tuple([extras] if isinstance(extras, str) else extras),
        continuous_actions=continuous_actions,
        step_length=step_length,
        radius=radius,
        crash_distance=crash_distance,
        centre_window=centre_window,
    )


def check_mode_and_drones(mode: str, n_drones: Any) -> int:
    """Validate ``mode`` and ``n_drones``; return ``n_drones`` as an int."""
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is invalid for drone_nav_v0: use one of {MODES}")
    ok = isinstance(n_drones, (int, np.integer)) and not isinstance(n_drones, bool)
    if not ok or not 1 <= n_drones <= MAX_DRONES:
        raise ValueError(f"n_drones={n_drones!r} is invalid: need an int in [1, {MAX_DRONES}]")
    return int(n_drones)


class DroneNavEnv(ParallelEnv):
    """Drones flying through indoor maps from a front depth camera (see the env card,
    :mod:`mt_envs.drone_nav_v0`, for the rules).

    Args:
        tasks: Task set, registered set name, one :class:`~mt_envs.drone.DroneTask` or a list.
        mode: ``"shared"``: ``n_drones`` drones in one map, the episode's task (sampled, or
            ``reset(options={"task": t})``). ``"team"``: drone group ``g`` flies in its own copy
            of task ``g``'s map every episode (DCPG's setting); agent slot ``g * n_drones + i``.
        n_drones: Drones per map copy (1..64; each needs a start pose of the map).
        sampler: Task sampler of shared mode (``"uniform"``, ``"round_robin"`` or a sampler).
        seed_task: Seed of the task sampler (``None``: derived from each ``reset(seed=...)``).
        obs_type: ``"depth"`` or ``"image"``.
        extras: Extra observation entries: ``"altitude"``, ``"last_action"``.
        continuous_actions: ``Box(-1, 1, (2,))`` (yaw, pitch) actions instead of
            ``Discrete(25)``.
        rows: Camera rays per column (default 8).
        cols: Camera rays per row (default 32).
        fov_h: Horizontal field of view in degrees (default 80).
        fov_v: Vertical field of view in degrees (default 45).
        max_range: Camera range in metres (default 10).
        step_length: Metres per step (default 0.4).
        radius: Drone radius in metres (default 0.2).
        crash_distance: Crash threshold on the reward statistic, in metres (default 0.3).
        centre_window: ``(rows, cols)`` of the reward's centre window (default: half each way).
        render_mode: ``None``, ``"rgb_array"`` or ``"human"``.

    Raises:
        ValueError: A keyword out of range, or a map that fails validation for this drone
            (open map, start pose inside an obstacle, drones overlapping at the start).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "drone_nav_v0",
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
        "render_fps": 10,
    }
    #: Every reset and step builds new per-agent info dicts that the env never touches again, so
    #: wrappers (``wrappers.MultiTaskEnv``) may add their keys in place instead of copying.
    fresh_infos: ClassVar[bool] = True

    def __init__(
        self,
        tasks: TaskSet | str | Task | Sequence[Task] | None = None,
        mode: str = "shared",
        n_drones: int = 1,
        sampler: str | TaskSampler = "uniform",
        seed_task: int | None = None,
        obs_type: str = "depth",
        extras: Sequence[str] | str = (),
        continuous_actions: bool = False,
        rows: int = 8,
        cols: int = 32,
        fov_h: float = 80.0,
        fov_v: float = 45.0,
        max_range: float = 10.0,
        step_length: float = 0.4,
        radius: float = 0.2,
        crash_distance: float = 0.3,
        centre_window: tuple[int, int] | None = None,
        render_mode: str | None = None,
    ) -> None:
        n = check_mode_and_drones(mode, n_drones)
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode={render_mode!r} is invalid: use None or {RENDER_MODES}")
        self.render_mode = render_mode
        self.mode = mode
        self.team = mode == "team"
        self.n_drones = n
        self.config = build_config(
            rows,
            cols,
            fov_h,
            fov_v,
            max_range,
            obs_type,
            extras,
            continuous_actions,
            step_length,
            radius,
            crash_distance,
            centre_window,
        )
        self.task_set = TaskSet.coerce(DEFAULT_TASKS if tasks is None else tasks)
        # Cheap argument checks before the tables are built.
        self.seed_task = check_seed(seed_task, "seed_task")
        self.sampler = make_sampler(sampler, len(self.task_set), self.seed_task)
        self.table = DroneTable(self.task_set, self.config, n)
        self.core = DroneCore(self.table, 1, n, self.team)
        self.possible_agents = [f"drone_{k}" for k in range(self.core.B)]
        self._slot = {a: k for k, a in enumerate(self.possible_agents)}
        self.agents: list[str] = []
        lo, hi = self.config.obs_bounds()
        obs_space = gymnasium.spaces.Box(lo, hi, dtype=np.float32)
        act_space: gymnasium.spaces.Space
        if self.config.continuous_actions:
            act_space = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
        else:
            act_space = gymnasium.spaces.Discrete(N_ACTIONS)
        self.observation_spaces = dict.fromkeys(self.possible_agents, obs_space)
        self.action_spaces = dict.fromkeys(self.possible_agents, act_space)
        self.state_space = gymnasium.spaces.Box(-1.0, 1.0, (self.core.state_dim,), dtype=np.float32)
        mask = np.ones(N_ACTIONS, dtype=np.int8)
        mask.flags.writeable = False
        self._action_mask = mask
        self._angles = np.zeros((self.core.B, 2))
        self.task_id = 0
        self.num_steps = 0
        self._obs = np.zeros((self.core.B, self.config.obs_dim), dtype=np.float32)
        self._renderer: Any = None

    # -- views for renderers, policies and evaluation -----------------------------------------
    @property
    def worlds(self) -> tuple[World, ...]:
        """The map of every task (lighting overrides applied), by task id."""
        return self.table.worlds

    def world(self, task_id: int | None = None) -> World:
        """The map of task ``task_id`` (default: drone 0's current task)."""
        return self.table.worlds[self.drone_task_ids[0] if task_id is None else int(task_id)]

    @property
    def camera(self) -> Camera:
        """The depth camera (``rows``, ``cols``, ``fov_h``, ``fov_v`` in degrees,
        ``max_range`` in metres)."""
        return self.config.camera

    @property
    def drone_task_ids(self) -> list[int]:
        """Task id of every drone slot (shared mode: the episode's task for all)."""
        return self.core.task.tolist()

    @property
    def positions(self) -> np.ndarray:
        """``float [n_slots, 3]`` drone centres (x, y, z metres); a drone that crashed stays at
        its point of contact."""
        return self.core.pos.copy()

    @property
    def headings(self) -> np.ndarray:
        """``float [n_slots]`` headings (yaw, radians counter-clockwise from +x)."""
        return self.core.heading.copy()

    @property
    def last_depth(self) -> np.ndarray:
        """``float [n_slots, rows, cols]`` clean normalised depth of the last observation (before
        the lighting's noise, dropout and bias; what the reward reads)."""
        return self.core.depth.copy()

    @property
    def crashed(self) -> np.ndarray:
        """``bool [n_slots]``: the drone's episode ended in a collision or crash."""
        return self.core.crashed.copy()

    @property
    def active(self) -> np.ndarray:
        """``bool [n_slots]``: the drone is still flying in this episode."""
        return self.core.active.copy()

    @property
    def safe_flight(self) -> np.ndarray:
        """``float [n_slots]`` horizontal metres flown in this episode."""
        return self.core.safe_flight.copy()

    def ray_directions(self, drone: int | str) -> np.ndarray:
        """Unit camera ray directions ``float [rows, cols, 3]`` of a drone (slot or name) in the
        world frame."""
        k = self._slot[drone] if isinstance(drone, str) else int(drone)
        return self.config.camera.directions(float(self.core.heading[k]))

    def action_angles(self, action: Any) -> tuple[float, float]:
        """Normalised ``(yaw, pitch)`` of an action (either action space)."""
        if self.config.continuous_actions:
            return check_continuous("action", action)
        a = check_action("action", action, N_ACTIONS)
        return float(ACTION_TABLE[a, 0]), float(ACTION_TABLE[a, 1])

    # -- spaces --------------------------------------------------------------------------------
    def observation_space(self, agent: str) -> gymnasium.spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Space:
        return self.action_spaces[agent]

    # -- episode -------------------------------------------------------------------------------
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
        env0 = np.zeros(1, dtype=np.int64)
        if self.team:
            if options and options.get("task") is not None:
                raise ValueError(
                    "reset(options={'task': ...}) is for mode='shared'; in mode='team' drone "
                    "group g always flies task g. Build the env with mode='shared' to choose the "
                    "task of an episode"
                )
            self.core.reset(env0)
        else:
            self.task_id = self._task_from_options(options)
            self.core.reset(env0, np.array([self.task_id]))
        self.num_steps = 0
        self.agents = list(self.possible_agents)
        obs = self._observations(self.agents)
        infos = self._infos(self.agents, None, None)
        if self.render_mode == "human":
            self.render()
        return obs, infos

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
        live = self.agents
        if type(actions) is not dict:
            check_action_dict(actions, live)
        angles, slot = self._angles, self._slot
        continuous = self.config.continuous_actions
        for agent in live:
            try:
                a = actions[agent]
            except KeyError:
                raise ValueError(
                    f"missing action for live agent {agent!r}: expected one action for each of "
                    f"{live}"
                ) from None
            k = slot[agent]
            if continuous:
                angles[k] = check_continuous(agent, a)
            else:
                # Fast path for plain ints in range (never bools: type() is exact).
                if type(a) is not int or not 0 <= a < N_ACTIONS:
                    a = check_action(agent, a, N_ACTIONS)
                angles[k] = ACTION_TABLE[a]
        if len(actions) != len(live):
            # Actions of drones whose episode is over are ignored; unknown names are errors.
            unknown = [a for a in actions if a not in slot]
            if unknown:
                raise ValueError(
                    f"actions for unknown agent(s) {unknown}; possible agents are "
                    f"{self.possible_agents}"
                )
        reward, term, trunc, _acting = self.core.step(angles)
        self.num_steps += 1
        obs = self._observations(live)
        rew = {a: float(reward[slot[a]]) for a in live}
        term_d = {a: bool(term[slot[a]]) for a in live}
        trunc_d = {a: bool(trunc[slot[a]]) for a in live}
        infos = self._infos(live, term, trunc)
        active = self.core.active
        self.agents = [a for a in live if active[slot[a]]]
        if self.render_mode == "human":
            self.render()
        return obs, rew, term_d, trunc_d, infos

    def _observations(self, agents: list[str]) -> dict[str, np.ndarray]:
        # Every slot draws its lighting (also drones that are done), so the draws do not depend
        # on who is still flying; ``agents`` (the drones flying before this step, including those
        # whose episode just ended and see their final view) get their rows.
        slots = [self._slot[a] for a in agents]
        shown = np.zeros(self.core.B, dtype=bool)
        shown[slots] = True
        obs = self.core.observe(shown=shown)
        return {a: obs[k] for a, k in zip(agents, slots, strict=True)}

    def _infos(
        self, agents: list[str], term: np.ndarray | None, trunc: np.ndarray | None
    ) -> dict[str, dict[str, Any]]:
        core, slot, tasks = self.core, self._slot, self.task_set
        out: dict[str, dict[str, Any]] = {}
        continuous = self.config.continuous_actions
        for agent in agents:
            k = slot[agent]
            tid = int(core.task[k])
            # A fresh dict per agent and step (values are immutable or read-only).
            info: dict[str, Any] = {"task_id": tid, "task": tasks[tid]}
            if not continuous:
                info["action_mask"] = self._action_mask
            if term is not None and trunc is not None and (term[k] or trunc[k]):
                info["safe_flight"] = float(core.safe_flight[k])
                info["crashed"] = bool(core.crashed[k])
            out[agent] = info
        return out

    def state(self) -> np.ndarray:
        """Global state ``float32 [n_slots * 6 + 1]``: per drone slot x, y, z normalised by its
        map's bounds, floor and ceiling, cos and sin of the heading and 1 while flying; then the
        step count over the largest horizon."""
        return self.core.state()[0]

    @property
    def state_per_drone(self) -> int:
        """State columns per drone slot."""
        return STATE_PER_DRONE

    def scripted_policy(self) -> Any:
        """The family's scripted baseline (:class:`mt_envs.drone.policy.DeepestColumnPolicy`)."""
        from mt_envs.drone.policy import DeepestColumnPolicy

        return DeepestColumnPolicy.for_env(self)

    # -- rendering -----------------------------------------------------------------------------
    def render_rgb(self) -> np.ndarray:
        """The current moment as ``uint8 [H, W, 3]`` (top-down map, drones, rays, camera strip)."""
        from mt_envs.drone.rendering import render_frame

        return render_frame(self)

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gymnasium.logger.warn(
                "render() called with render_mode=None; build the env with render_mode="
                "'rgb_array' or 'human'"
            )
            return None
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
        return state
