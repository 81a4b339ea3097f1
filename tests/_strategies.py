"""Hypothesis strategies for the property tests: valid task parameters of every task dataclass,
drawn from the ranges their docstrings document, and action streams with boundary actions.

Every task strategy builds the task through its constructor, so a draw the class refuses is a
bug of the strategy (or of the class): strategies never filter with ``assume``. Ranges follow
the task classes:

=================  =============================================================================
family             documented ranges (see the task class)
=================  =============================================================================
capture            ``grid_size`` 2..256, ``n_agents`` 1..32, ``n_targets`` 1 (MAST) or ``n``
                   (MAMT), ``flicker`` / ``slip`` / ``evasive`` in [0, 1], ``target_policy`` 5
                   probabilities summing to 1, ``assignment`` a permutation (MAMT),
                   ``horizon`` >= 1 or ``None``
corridor           ``starts`` / ``goals`` two distinct floor cells each, ``starts[i] != goals[i]``,
                   ``horizon`` >= 1, ``tag`` letters / digits / ``_``
gridworld          ``rows`` / ``cols`` 2..256, ``goal`` a cell, ``obstacles`` cells without the
                   goal, at least one free cell, ``start`` a name of ``START_NAMES`` whose corner is
                   free or free cells, ``horizon`` >= 1, ``label``
chain              ``variant`` 1 or 2, ``p`` ``None`` or in [0, 1], ``horizon`` >= 1
drone              ``map`` a built-in map, ``horizon`` >= 1, ``noise_std`` in [0, 1],
                   ``dropout`` in [0, 1), ``bias`` in [-0.5, 0.5], ``light`` in [0, 1] (each or
                   ``None``), ``angle_noise_deg`` in [0, 45], ``start_jitter`` in [0, 1] (and
                   what the map allows for the drone's radius and count), ``yaw_jitter_deg`` in
                   [0, 180]
mpe                ``game`` of ``GAMES``, ``max_cycles`` 1..100000, ``n_good`` 1..8
                   (``adversary``), ``opponent`` of ``OPPONENTS`` (adversarial games)
=================  =============================================================================

Sizes that only cost time (grid sides, horizons, agent counts, cameras) take optional upper
bounds so a property can keep each example small; the defaults are the documented limits. The
property tests use the documented limits under the random ``soak`` profile
(:func:`full_ranges`).

Speed: building a hypothesis strategy (validating its arguments) costs more than drawing from
it, so every factory here is cached (:func:`cached`) and composites draw only from cached
strategies; a permutation is one draw (a seed) rather than ``n``. A task costs about ten draws.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import string
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

from mt_envs.capture import CaptureTask
from mt_envs.capture.task import MAX_AGENTS, MAX_GRID_SIZE, TARGET_POLICIES
from mt_envs.chain import ChainTask
from mt_envs.corridor import CorridorTask
from mt_envs.corridor.task import FLOOR_CELLS
from mt_envs.drone import DroneTask
from mt_envs.drone.world import load_map, map_names
from mt_envs.gridworld import GridWorldTask
from mt_envs.gridworld.task import MAX_SIDE, MIN_SIDE, START_NAMES, corner
from mt_envs.mpe import GAMES, OPPONENTS, MPETask
from mt_envs.mpe.task import ADVERSARIAL_GAMES, MAX_CYCLES_LIMIT, MAX_N_GOOD

Draw = Any  # hypothesis' draw function inside @st.composite
F = TypeVar("F", bound=Callable[..., Any])


def cached(factory: F) -> F:
    """Build each strategy once per argument tuple (see the module docstring)."""
    return functools.lru_cache(maxsize=None)(factory)  # type: ignore[return-value]


def full_ranges() -> bool:
    """True under a randomised profile (``soak``, whatever its size): properties then draw
    sizes up to the documented limits instead of the small ones that keep CI (derandomised
    ``ci`` and ``dev``) fast."""
    current = settings.default
    return current is not None and not current.derandomize


@cached
def ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    """``st.integers(lo, hi)``."""
    return st.integers(lo, hi)


@cached
def choice(values: tuple[Hashable, ...]) -> st.SearchStrategy[Any]:
    """``st.sampled_from(values)``."""
    return st.sampled_from(values)


@cached
def unique_ints(n: int, min_size: int, max_size: int) -> st.SearchStrategy[list[int]]:
    """Distinct ints in ``[0, n)``, ``min_size`` to ``max_size`` of them."""
    return st.lists(st.integers(0, n - 1), min_size=min_size, max_size=max_size, unique=True)


@cached
def unit_floats(lo: float = 0.0, hi: float = 1.0) -> st.SearchStrategy[float]:
    """Floats in ``[lo, hi]`` with both ends (and the middle) drawn often."""
    inside = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return st.one_of(st.sampled_from(sorted({lo, hi, (lo + hi) / 2})), inside)


@cached
def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``None`` or a value of ``strategy``."""
    return st.one_of(st.none(), strategy)


@cached
def horizons(max_horizon: int | None = None) -> st.SearchStrategy[int]:
    """Step limits ``>= 1`` (1, the boundary where every episode is truncated after one step, is
    drawn about one time in four)."""
    hi = 10**6 if max_horizon is None else max_horizon
    some = st.integers(1, hi)
    return st.one_of(st.just(1), some, some, some)


@cached
def words(alphabet: str = string.ascii_letters + string.digits + "_") -> st.SearchStrategy[str]:
    """Short labels made of ``alphabet`` (possibly empty)."""
    return st.text(alphabet, max_size=6)


def _nth_free(j: int, blocked: list[int]) -> int:
    """The ``j``-th index (from 0) not in the sorted list ``blocked``."""
    for b in blocked:
        if b <= j:
            j += 1
        else:
            break
    return j


def _permutation(draw: Draw, n: int) -> tuple[int, ...]:
    """A permutation of ``0..n-1`` in one draw: identity, reversal or a seeded shuffle."""
    k = draw(ints(0, 2**32 - 1))
    if k < 2**30:
        return tuple(range(n))
    if k < 2**31:
        return tuple(range(n - 1, -1, -1))
    return tuple(np.random.default_rng(k).permutation(n).tolist())


# -- capture (mast_v0, mamt_v0) -------------------------------------------------------------

_NAMED_POLICIES = tuple(sorted(TARGET_POLICIES.values()))


@st.composite
def _target_policies(draw: Draw) -> tuple[float, ...]:
    kind = draw(ints(0, 2))
    if kind == 0:
        named: tuple[float, ...] = draw(choice(_NAMED_POLICIES))
        return named
    if kind == 1:
        k = draw(ints(0, 4))
        return tuple(1.0 if i == k else 0.0 for i in range(5))
    w = [draw(ints(0, 100)) for _ in range(5)]
    if not any(w):
        w[draw(ints(0, 4))] = 1
    total = sum(w)
    return tuple(x / total for x in w)


@cached
def target_policies() -> st.SearchStrategy[tuple[float, ...]]:
    """Five probabilities (N, S, E, W, STAY) summing to 1: named policies, one-hot (a target
    that always makes one move) or random weights."""
    return _target_policies()


@st.composite
def _capture_tasks(
    draw: Draw, variant: str, max_grid: int, max_agents: int, max_horizon: int | None
) -> CaptureTask:
    m = draw(ints(2, max_grid))
    n = draw(ints(1, max_agents))
    kwargs: dict[str, Any] = {
        "flicker": draw(unit_floats()),
        "slip": draw(unit_floats()),
        "evasive": draw(unit_floats()),
        "target_policy": draw(target_policies()),
        "horizon": draw(optional(horizons(max_horizon))),
    }
    if variant == "mast":
        return CaptureTask.mast(m, n, **kwargs)
    return CaptureTask.mamt(m, n, assignment=_permutation(draw, n), **kwargs)


@cached
def capture_tasks(
    variant: str = "mamt",
    max_grid: int = MAX_GRID_SIZE,
    max_agents: int = MAX_AGENTS,
    max_horizon: int | None = None,
) -> st.SearchStrategy[CaptureTask]:
    """One :class:`CaptureTask` of ``variant`` ``"mast"`` (``n_targets = 1``) or ``"mamt"``
    (``n_targets = n_agents``, a random assignment permutation)."""
    return _capture_tasks(variant, max_grid, max_agents, max_horizon)


# -- corridor ------------------------------------------------------------------------------

Layout = tuple[tuple[tuple[int, int], tuple[int, int]], tuple[tuple[int, int], tuple[int, int]]]


@st.composite
def _corridor_tasks(
    draw: Draw, max_horizon: int | None, layouts: tuple[Layout, ...] | None
) -> CorridorTask:
    if layouts is not None:
        starts, goals = draw(choice(layouts))
    else:
        cells = FLOOR_CELLS
        s0, s1 = (cells[i] for i in draw(unique_ints(len(cells), 2, 2)))
        g0 = cells[_nth_free(draw(ints(0, len(cells) - 2)), [cells.index(s0)])]
        avoid = sorted({cells.index(s1), cells.index(g0)})
        g1 = cells[_nth_free(draw(ints(0, len(cells) - 1 - len(avoid))), avoid)]
        starts, goals = (s0, s1), (g0, g1)
    return CorridorTask(
        starts=starts,
        goals=goals,
        horizon=draw(horizons(max_horizon)),
        tag=draw(words()),
    )


@cached
def corridor_tasks(
    max_horizon: int | None = None, layouts: tuple[Layout, ...] | None = None
) -> st.SearchStrategy[CorridorTask]:
    """One :class:`CorridorTask`: starts and goals drawn from the 23 floor cells (or, with
    ``layouts``, one of the given ``(starts, goals)`` pairs: building a new layout's joint model
    takes about 0.2 s, so properties that need many examples reuse a pool of layouts)."""
    return _corridor_tasks(max_horizon, layouts)


def corridor_layout_pool(size: int, seed: int = 0) -> tuple[Layout, ...]:
    """``size`` valid ``(starts, goals)`` layouts drawn uniformly with a fixed seed, always
    including the paper's crossing task (the agents swap chambers through the corridor)."""
    rng = np.random.default_rng(seed)
    cells = list(FLOOR_CELLS)
    pool: list[Layout] = [(((1, 1), (1, 7)), ((5, 7), (5, 1)))]
    while len(pool) < size:
        i = rng.choice(len(cells), 4, replace=False)
        s0, s1, g0, g1 = (cells[k] for k in i)
        if rng.random() < 0.3:
            g0 = s1  # an agent may start on the other's goal
        layout = ((s0, s1), (g0, g1))
        if layout not in pool:
            pool.append(layout)
    return tuple(pool)


# -- gridworld -----------------------------------------------------------------------------


@st.composite
def _gridworld_tasks(
    draw: Draw, rows: int, cols: int, max_horizon: int | None, max_obstacles: int
) -> GridWorldTask:
    n = rows * cols
    goal_i = draw(ints(0, n - 1))
    # Obstacles: distinct cells other than the goal, leaving at least one free cell.
    picks = draw(unique_ints(n - 1, 0, min(max_obstacles, n - 2)))
    obst_i = [i + (i >= goal_i) for i in picks]
    blocked = sorted({goal_i, *obst_i})
    n_free = n - len(blocked)
    start: str | tuple[tuple[int, int], ...]
    if draw(ints(0, 1)) == 0:
        names = tuple(
            s
            for s in START_NAMES
            if s == "uniform"
            or corner(s, rows, cols)[0] * cols + corner(s, rows, cols)[1] not in blocked
        )
        start = draw(choice(names))
    else:
        cells_i = [_nth_free(j, blocked) for j in draw(unique_ints(n_free, 1, min(6, n_free)))]
        start = tuple(divmod(i, cols) for i in cells_i)
    return GridWorldTask(
        goal=divmod(goal_i, cols),
        obstacles=tuple(divmod(i, cols) for i in obst_i),
        start=start,
        rows=rows,
        cols=cols,
        horizon=draw(horizons(max_horizon)),
        label=draw(words(string.ascii_letters + string.digits + "-_.")),
    )


@cached
def gridworld_tasks(
    rows: int, cols: int, max_horizon: int | None = None, max_obstacles: int = 64
) -> st.SearchStrategy[GridWorldTask]:
    """One :class:`GridWorldTask` on a ``rows x cols`` grid: a goal, obstacles (up to every cell
    but the goal and one free cell), and a start name or start cells that are free."""
    return _gridworld_tasks(rows, cols, max_horizon, max_obstacles)


@st.composite
def _gridworld_task_sets(
    draw: Draw, max_tasks: int, max_side: int, max_horizon: int | None
) -> list[GridWorldTask]:
    rows, cols = draw(ints(MIN_SIDE, max_side)), draw(ints(MIN_SIDE, max_side))
    k = draw(ints(1, max_tasks))
    return [draw(gridworld_tasks(rows, cols, max_horizon)) for _ in range(k)]


@cached
def gridworld_task_sets(
    max_tasks: int = 4, max_side: int = MAX_SIDE, max_horizon: int | None = None
) -> st.SearchStrategy[list[GridWorldTask]]:
    """1..``max_tasks`` GridWorld tasks on one grid size (an env needs one size), sides in
    ``[2, max_side]``."""
    return _gridworld_task_sets(max_tasks, max_side, max_horizon)


# -- chain ---------------------------------------------------------------------------------


@st.composite
def _chain_tasks(draw: Draw, max_horizon: int | None) -> ChainTask:
    return ChainTask(
        variant=draw(ints(1, 2)),
        p=draw(optional(unit_floats())),
        horizon=draw(horizons(max_horizon)),
    )


@cached
def chain_tasks(max_horizon: int | None = None) -> st.SearchStrategy[ChainTask]:
    """One :class:`ChainTask`: variant 1 or 2, deterministic or ``p`` in [0, 1]."""
    return _chain_tasks(max_horizon)


# -- drone ---------------------------------------------------------------------------------

#: Built-in maps (their start poses bound the start jitter and the drone count).
DRONE_MAPS: tuple[str, ...] = tuple(map_names())


@functools.lru_cache(maxsize=4096)
def drone_jitter_limit(map_name: str, radius: float, n_drones: int) -> float:
    """The largest ``start_jitter`` the env accepts for a drone of ``radius`` on ``map_name``
    with ``n_drones`` drones (what :meth:`~mt_envs.drone.world.World.validate` requires),
    capped at the documented 1 m; negative when even no jitter is enough."""
    w = load_map(map_name)
    clear, _ = w.clearance(w.starts[:, :3])
    room = min(
        float(clear.min()),
        float((w.starts[:, 2] - w.floor).min()),
        float((w.ceiling - w.starts[:, 2]).min()),
    )
    limit = (room - radius) / math.sqrt(2.0)
    if n_drones > 1:
        d = np.linalg.norm(w.starts[:, None, :3] - w.starts[None, :, :3], axis=-1)
        d[np.diag_indices(len(d))] = np.inf
        limit = min(limit, (float(d.min()) / 2.0 - radius) / math.sqrt(2.0))
    # A margin below the exact limit: validation compares with strict inequalities.
    return min(1.0, limit * 0.999)


_DROPOUT = st.one_of(st.just(0.0), st.floats(0.0, 1.0, exclude_max=True))


@st.composite
def _drone_tasks(
    draw: Draw, maps: tuple[str, ...], radius: float, n_drones: int, max_horizon: int | None
) -> DroneTask:
    name = draw(choice(maps))
    jitter_hi = round(max(0.0, drone_jitter_limit(name, radius, n_drones)), 3)
    return DroneTask(
        map=name,
        horizon=draw(horizons(max_horizon)),
        noise_std=draw(optional(unit_floats())),
        dropout=draw(optional(_DROPOUT)),
        bias=draw(optional(unit_floats(-0.5, 0.5))),
        light=draw(optional(unit_floats())),
        angle_noise_deg=draw(unit_floats(0.0, 45.0)),
        start_jitter=draw(unit_floats(0.0, jitter_hi)),
        yaw_jitter_deg=draw(unit_floats(0.0, 180.0)),
    )


@cached
def drone_tasks(
    maps: tuple[str, ...] = DRONE_MAPS,
    radius: float = 0.2,
    n_drones: int = 1,
    max_horizon: int | None = None,
) -> st.SearchStrategy[DroneTask]:
    """One :class:`DroneTask` whose start jitter suits a drone of ``radius`` and ``n_drones``
    drones (the env validates the map with them)."""
    return _drone_tasks(maps, radius, n_drones, max_horizon)


_EXTRAS = ((), ("altitude",), ("last_action",), ("altitude", "last_action"))
_FOV = st.one_of(st.sampled_from([80.0, 45.0, 0.5, 179.5]), st.floats(0.5, 179.5))
_RANGE = st.one_of(st.just(10.0), st.floats(0.5, 50.0))
_STEP = st.one_of(st.sampled_from([0.4, 0.01, 20.0]), st.floats(0.01, 20.0))
#: Radii kept to a few values: the start jitter limit depends on the radius (cached per value).
_RADIUS = st.sampled_from([0.2, 0.1, 0.35, 0.5])
_CRASH = st.one_of(st.sampled_from([0.3, 0.0]), st.floats(0.0, 2.0))


@st.composite
def _drone_configs(draw: Draw, max_rows: int, max_cols: int) -> dict[str, Any]:
    rows = draw(ints(1, max_rows))
    cols = draw(ints(1, max_cols))
    window = None
    if draw(ints(0, 1)):
        window = (draw(ints(1, rows)), draw(ints(1, cols)))
    return {
        "rows": rows,
        "cols": cols,
        "fov_h": draw(_FOV),
        "fov_v": draw(_FOV),
        "max_range": draw(_RANGE),
        "obs_type": draw(choice(("depth", "image"))),
        "extras": draw(choice(_EXTRAS)),
        "continuous_actions": bool(draw(ints(0, 1))),
        "step_length": draw(_STEP),
        "radius": draw(_RADIUS),
        "crash_distance": draw(_CRASH),
        "centre_window": window,
    }


@cached
def drone_configs(max_rows: int = 8, max_cols: int = 32) -> st.SearchStrategy[dict[str, Any]]:
    """Env keywords of ``drone_nav_v0`` (camera, body, reward, observation, action type) from
    their documented ranges (rows and columns up to ``max_rows`` / ``max_cols``; fields of view in
    (0, 180), ranges and step lengths > 0, crash distance >= 0, centre window inside the image)."""
    return _drone_configs(max_rows, max_cols)


# -- mpe -----------------------------------------------------------------------------------


@st.composite
def _mpe_tasks(draw: Draw, max_cycles: int) -> MPETask:
    game = draw(choice(tuple(sorted(GAMES))))
    cycles = draw(horizons(max_cycles))
    n_good = draw(ints(1, MAX_N_GOOD)) if game == "adversary" else None
    opponent = draw(choice(OPPONENTS)) if game in ADVERSARIAL_GAMES else None
    return MPETask(game, max_cycles=cycles, n_good=n_good, opponent=opponent)


@cached
def mpe_tasks(max_cycles: int = MAX_CYCLES_LIMIT) -> st.SearchStrategy[MPETask]:
    """One :class:`MPETask`: any game, its good-agent count and opponent where it has them."""
    return _mpe_tasks(max_cycles)


# -- actions -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ActionStream:
    """A reproducible stream of actions: ``style`` picks how each action is drawn from a
    generator seeded with ``seed``.

    Styles: ``"uniform"`` (every action equally likely), ``"boundary"`` (only the first and last
    action, or -1 / +1 for continuous ones), ``"constant"`` (action ``k`` always, e.g. a grid's
    STAY or a drone flying straight), ``"mixed"`` (uniform with boundary actions one time in two;
    continuous: uniform, the ends and the discrete grid ``{-1, -0.5, 0, 0.5, 1}``).
    """

    seed: int
    style: str
    k: int = 0

    def discrete(self, steps: int, slots: int, n_actions: int) -> np.ndarray:
        """``int64 [steps, slots]`` actions in ``[0, n_actions)``."""
        if self.style == "constant":
            return np.full((steps, slots), self.k % n_actions, dtype=np.int64)
        rng = np.random.default_rng(self.seed)
        uniform = rng.integers(0, n_actions, (steps, slots))
        edge = np.where(rng.random((steps, slots)) < 0.5, 0, n_actions - 1)
        if self.style == "boundary":
            return edge.astype(np.int64)
        if self.style == "mixed":
            return np.where(rng.random((steps, slots)) < 0.5, edge, uniform).astype(np.int64)
        return uniform.astype(np.int64)

    def continuous(self, steps: int, slots: int) -> np.ndarray:
        """``float32 [steps, slots, 2]`` actions in ``[-1, 1]`` (exact -1, 0 and +1 included)."""
        if self.style == "constant":
            value = (-1.0, 0.0, 1.0)[self.k % 3]
            return np.full((steps, slots, 2), value, dtype=np.float32)
        rng = np.random.default_rng(self.seed)
        uniform = rng.uniform(-1.0, 1.0, (steps, slots, 2))
        edge = rng.choice(np.array([-1.0, 1.0]), (steps, slots, 2))
        if self.style == "boundary":
            out = edge
        elif self.style == "mixed":
            grid = rng.choice(np.array([-1.0, -0.5, 0.0, 0.5, 1.0]), (steps, slots, 2))
            out = np.choose(rng.integers(0, 3, (steps, slots, 2)), [uniform, edge, grid])
        else:
            out = uniform
        return out.astype(np.float32)


@cached
def action_streams() -> st.SearchStrategy[ActionStream]:
    """:class:`ActionStream` values (shrinking towards seed 0 and the uniform style)."""
    return st.builds(
        ActionStream,
        seed=st.integers(0, 2**32 - 1),
        style=st.sampled_from(["uniform", "boundary", "mixed", "constant"]),
        k=st.integers(0, 63),
    )


@cached
def seeds() -> st.SearchStrategy[int]:
    """Reset seeds (0 and the largest 32-bit seed included)."""
    return st.one_of(st.sampled_from([0, 2**32 - 1]), st.integers(0, 2**32 - 1))
