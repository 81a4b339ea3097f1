"""Property-based tests of every env family (issue 9, item 1, env half).

Each example draws a random but valid configuration (task parameters from each task class's
documented ranges, a random task mix, env keywords, a seed and an action stream with boundary
actions; see ``tests/_strategies.py``) and checks, at every step of a short multi-episode rollout:

* observations inside their space with the space's dtype (and, where the family defines them,
  consistent with the simulation: own coordinates, visibility bits, one-hot cells);
* positions inside the world (read from the env's core arrays or views), moving at most one cell
  (grid families) or one ``step_length`` (drone) per step;
* rewards inside the family's documented set or range, paid as the rules say;
* agents never return after they are done; terminations and truncations consistent with
  ``agents`` and with the task's step limit;
* infos complete (the keys the family documents) and consistent (``task_id`` / ``task``,
  ``state_index`` of the observation, ``safe_flight`` / ``crashed`` at a drone's end);
* ``state()`` inside ``state_space`` (and equal to what the family documents it holds);

and, per example: the same seed gives the same trajectory (the env reset with the seed after it
played replays it; a new env when the task stream has its own fixed seed), an env pickled
mid-episode continues exactly like the original, the batched core (``mt_envs.make_vec``) at
``B = 1`` replays the ParallelEnv step for step across auto-resets, and ``B = 2..3`` batched
environments on the same random task mix keep the batched invariants (shapes, dtypes, bounds,
masks, padding, rewards, episode bookkeeping, moves between steps). For deterministic tabular
configurations every environment of the batch is replayed exactly by a ParallelEnv.

One test per family checks all of these on each example, so every property runs as many examples
as the hypothesis profile gives (``ci``: 1000, see ``tests/conftest.py``). Rollouts are short
(``*_STEPS`` iterations, a reset counting as one) to keep the CI cost near two minutes.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import pickle
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
from _strategies import (
    ActionStream,
    action_streams,
    capture_tasks,
    chain_tasks,
    corridor_layout_pool,
    corridor_tasks,
    drone_configs,
    drone_tasks,
    full_ranges,
    gridworld_task_sets,
    ints,
    mpe_tasks,
    optional,
    seeds,
)
from hypothesis import find, given, settings
from hypothesis import strategies as st

import mt_envs
from mt_envs.capture import CaptureTask
from mt_envs.corridor import CorridorTask
from mt_envs.corridor.model import GOAL_REWARD, STEP_REWARD
from mt_envs.corridor.task import LAYOUT
from mt_envs.drone import DroneTask
from mt_envs.mpe import GoodTeamEnv

#: Iterations of a ParallelEnv rollout (a reset after an episode's end counts as one).
STEPS = 10
#: Steps of a ``B > 1`` batched rollout.
MIX_STEPS = 8
#: The same for the drone and MPE families, whose steps cost a millisecond each.
DRONE_STEPS = 4
MPE_STEPS = 6
#: Iterations a pickled copy is followed after it was taken.
CLONE_STEPS = 4
#: Largest horizon drawn: long enough to see episodes run on, short enough to see truncations.
MAX_HORIZON = 12
#: Under the ``soak`` profile sizes go up to the documented limits; CI keeps them small (the
#: cost of a capture step grows with agents x targets, of a GridWorld env with its cells).
FULL = full_ranges()
CAPTURE_MAX_AGENTS = 32 if FULL else 8
GRID_MAX_SIDE = 256 if FULL else 12
DRONE_CAMERA = (8, 32) if FULL else (6, 12)
#: Largest one-hot lookup table (entries) of a batched tabular env the properties build: a
#: GridWorld's batched observation is one-hot over its cells, so its table has n_states x cells
#: entries per task (4 bytes each; 16 GiB for a 256 x 256 task). Only soak draws such grids.
BATCHED_TABLE_LIMIT = 2**26
#: Corridor layouts used by the properties (a new layout's joint model takes ~0.2 s to build).
CORRIDOR_LAYOUTS = corridor_layout_pool(64 if FULL else 12)


_REUSED: collections.OrderedDict[tuple, Any] = collections.OrderedDict()


def reused(env_id: str, kwargs: dict[str, Any], num_envs: int | None = None) -> Any:
    """``mt_envs.make(env_id, **kwargs)`` (or ``make_vec`` with ``num_envs``), reused across
    examples with the same arguments: a tabular or drone env costs milliseconds to build, and
    every property starts with ``reset(seed=...)``, which must restore everything (the replay
    property checks it). Envs with a fixed ``seed_task`` keep their task stream across resets,
    so they are always built anew."""
    if kwargs.get("seed_task") is not None:
        if num_envs is None:
            return mt_envs.make(env_id, **kwargs)
        return mt_envs.make_vec(env_id, num_envs, **kwargs)
    key = (env_id, num_envs, repr(sorted(kwargs.items())))
    env = _REUSED.get(key)
    if env is None:
        if num_envs is None:
            env = mt_envs.make(env_id, **kwargs)
        else:
            env = mt_envs.make_vec(env_id, num_envs, **kwargs)
        _REUSED[key] = env
        if len(_REUSED) > 64:
            _REUSED.popitem(last=False)
    else:
        _REUSED.move_to_end(key)
    return env


def same(a: Any, b: Any, what: str) -> None:
    """``a`` and ``b`` are equal arrays (shape and values)."""
    assert np.array_equal(a, b), f"{what}: {a} != {b}"


# -- generic helpers ------------------------------------------------------------------------


def assert_in_box(x: np.ndarray, space: gymnasium.spaces.Box, what: str) -> None:
    """``x`` (one element or a stack ``[..., *shape]``) has the space's dtype and lies inside."""
    assert isinstance(x, np.ndarray), f"{what}: {type(x).__name__}, not an ndarray"
    assert x.dtype == space.dtype, f"{what}: dtype {x.dtype} != {space.dtype}"
    assert x.shape[x.ndim - len(space.shape) :] == space.shape, f"{what}: shape {x.shape}"
    assert np.all(x >= space.low) and np.all(x <= space.high), f"{what} outside {space}: {x}"


def assert_obs_in_space(obs: Any, space: gymnasium.spaces.Space, what: str) -> None:
    """One agent's observation has the space's dtype and lies inside it."""
    if isinstance(space, gymnasium.spaces.Box):
        assert_in_box(obs, space, what)
        return
    assert np.asarray(obs).dtype == space.dtype, f"{what}: dtype {np.asarray(obs).dtype}"
    assert space.contains(obs), f"{what}: {obs!r} outside {space}"


def _info_key(info: dict) -> tuple:
    return tuple((k, v.tobytes() if isinstance(v, np.ndarray) else v) for k, v in info.items())


@dataclasses.dataclass
class Entry:
    """One reset or step of a ParallelEnv rollout (``key``: its comparable form)."""

    kind: str  # "reset" or "step"
    t: int
    obs: dict[str, Any]
    infos: dict[str, Any]
    state: np.ndarray | None
    agents_after: list[str]
    rew: dict[str, float] | None = None
    term: dict[str, bool] | None = None
    trunc: dict[str, bool] | None = None
    key: tuple = ()

    def __post_init__(self) -> None:
        self.key = (
            self.kind,
            self.t,
            tuple((a, np.asarray(o).tobytes()) for a, o in self.obs.items()),
            tuple((a, _info_key(i)) for a, i in self.infos.items()),
            tuple(self.agents_after),
            self.rew,
            self.term,
            self.trunc,
        )


class Checker:
    """Per-family invariants of a ParallelEnv, called after every reset and step (``state``: the
    env's ``state()`` at that moment, read once by :func:`play`)."""

    state: np.ndarray

    def reset(self, env: Any, obs: dict, infos: dict) -> None:
        raise NotImplementedError

    def step(
        self, env: Any, prev: list[str], obs: dict, rew: dict, term: dict, trunc: dict, infos: dict
    ) -> None:
        raise NotImplementedError


def common_step_checks(
    env: Any, prev: list[str], obs: dict, rew: dict, term: dict, trunc: dict, infos: dict
) -> None:
    """What every family shares: one entry per agent that acted, Python types, no agent both
    terminated and truncated, ``agents`` = the acting agents minus the finished ones (so no agent
    returns), ``state()`` inside ``state_space``."""
    keys = set(prev)
    for name, d in (("rewards", rew), ("terminations", term), ("truncations", trunc)):
        assert set(d) == keys, f"{name} keys {list(d)} != agents {prev}"
    assert set(infos) == keys, f"infos keys {list(infos)} != agents {prev}"
    assert set(obs) >= keys, f"obs keys {list(obs)} lack agents of {prev}"
    for a in prev:
        r = rew[a]
        assert type(r) is float and math.isfinite(r), f"reward of {a} is {r!r}"
        assert type(term[a]) is bool and type(trunc[a]) is bool
        assert not (term[a] and trunc[a]), f"{a} both terminated and truncated"
        assert_obs_in_space(obs[a], env.observation_space(a), f"obs of {a}")
    assert env.agents == [a for a in prev if not (term[a] or trunc[a])], (
        f"agents {env.agents} after a step of {prev} with term {term} trunc {trunc}"
    )


def common_reset_checks(env: Any, obs: dict, infos: dict) -> None:
    """After a reset: live agents among the possible ones, with observations and infos."""
    assert env.agents, "reset() left no agent"
    assert set(env.agents) <= set(env.possible_agents)
    assert set(obs) >= set(env.agents) and set(infos) == set(env.agents)
    for a in env.agents:
        assert_obs_in_space(obs[a], env.observation_space(a), f"reset obs of {a}")


def discrete_actions(table: np.ndarray, slots: dict[str, int]) -> Callable[[Any, int], dict]:
    """Actions of the live agents at iteration ``t`` from ``table [steps, slots]``, as Python
    ints on even iterations and numpy ints on odd ones (both are valid actions)."""

    def act(env: Any, t: int) -> dict:
        row = table[t]
        if t % 2:
            return {a: row[slots[a]] for a in env.agents}
        return {a: int(row[slots[a]]) for a in env.agents}

    return act


def play(
    env: Any,
    act: Callable[[Any, int], dict],
    t0: int,
    t1: int,
    trace: list[Entry],
    checker: Checker | None,
) -> None:
    """Continue ``env`` from iteration ``t0`` to ``t1``, appending to ``trace`` (the global state
    is recorded when a ``checker`` runs)."""
    for t in range(t0, t1):
        if not env.agents:
            obs, infos = env.reset()
            state = None
            if checker is not None:
                state = checker.state = env.state()
                assert_in_box(state, env.state_space, "state() after a reset")
                checker.reset(env, obs, infos)
            trace.append(Entry("reset", t, obs, infos, state, list(env.agents)))
            continue
        prev = list(env.agents)
        obs, rew, term, trunc, infos = env.step(act(env, t))
        state = None
        if checker is not None:
            state = checker.state = env.state()
            assert_in_box(state, env.state_space, "state()")
            checker.step(env, prev, obs, rew, term, trunc, infos)
        trace.append(Entry("step", t, obs, infos, state, list(env.agents), rew, term, trunc))


def check_rollout_properties(
    env: Any,
    seed: int,
    act: Callable[[Any, int], dict],
    checker: Checker,
    snapshot: int,
    steps: int,
    fresh: Callable[[], Any] | None = None,
) -> list[Entry]:
    """The per-example properties of a ParallelEnv: invariants at every step (``checker``), a
    pickled copy taken at iteration ``snapshot`` continues exactly like the original, and the
    env reset with ``seed`` after playing replays the whole trajectory (or, with ``fresh``, a new
    env built by it: an env with a fixed ``seed_task`` keeps its task stream across reseeds).

    Returns the trajectory (for the batched-core comparison).
    """
    obs, infos = env.reset(seed=seed)
    checker.state = env.state()
    assert_in_box(checker.state, env.state_space, "state() after a reset")
    trace = [Entry("reset", -1, obs, infos, checker.state, list(env.agents))]
    checker.reset(env, obs, infos)
    play(env, act, 0, snapshot, trace, checker)
    clone = pickle.loads(pickle.dumps(env))
    play(env, act, snapshot, steps, trace, checker)
    stop = min(steps, snapshot + CLONE_STEPS)
    tail: list[Entry] = []
    play(clone, act, snapshot, stop, tail, None)
    want = [e.key for e in trace if snapshot <= e.t < stop]
    assert [e.key for e in tail] == want, "the env pickled mid-episode diverged from the original"
    replay = env if fresh is None else fresh()
    obs, infos = replay.reset(seed=seed)
    again = [Entry("reset", -1, obs, infos, None, list(replay.agents))]
    play(replay, act, 0, steps, again, None)
    assert [e.key for e in again] == [e.key for e in trace], (
        "the same seed and actions gave another trajectory"
    )
    return trace


def check_vector_replay(
    venv: Any,
    seed: int,
    trace: list[Entry],
    table: np.ndarray,
    slots: dict[str, int],
    vec_obs: Callable[[Any], np.ndarray],
    task_ids: Callable[[dict, dict], None],
) -> None:
    """The batched env at ``B = 1`` replays the ParallelEnv's trajectory ``trace``: observations
    (mapped by ``vec_obs``), rewards, flags, masks, states and task ids, across auto-resets.

    Args:
        venv: The batched env (``num_envs=1``) built like the ParallelEnv.
        seed: The reset seed of the trajectory.
        trace: The ParallelEnv's trajectory (states recorded).
        table: The action table the trajectory was played with (``[steps, slots]``, or
            ``[steps, slots, 2]`` continuous).
        slots: Agent name -> slot.
        vec_obs: One agent's ParallelEnv observation -> its row of the batched observation.
        task_ids: Checks the batched info's task ids against one ParallelEnv infos dict.
    """
    n_slots = venv.num_agents
    vobs, vinfo = venv.reset(seed=seed)

    def same_start(entry: Entry, vobs: np.ndarray, vinfo: dict) -> None:
        assert entry.kind == "reset"
        live = np.zeros(n_slots, dtype=bool)
        for a in entry.agents_after:
            same(vobs[0, slots[a]], vec_obs(entry.obs[a]), f"first obs of {a}")
            live[slots[a]] = True
        assert not vobs[0, ~live].any(), "slots without a live agent must observe zeros"
        same(vinfo["agent_mask"][0], live, "agent_mask after a reset")
        same(vinfo["state"][0], entry.state, "state after a reset")
        task_ids(entry.infos, vinfo)

    same_start(trace[0], vobs, vinfo)
    pending: tuple[np.ndarray, dict] | None = None
    for entry in trace[1:]:
        if entry.kind == "reset":
            assert pending is not None, "the ParallelEnv reset without an episode end"
            same_start(entry, *pending)
            pending = None
            continue
        assert entry.rew is not None and entry.term is not None and entry.trunc is not None
        vobs, vrew, vterm, vtrunc, vinfo = venv.step(table[entry.t][None])
        ended = not entry.agents_after
        assert bool(vinfo["_final"][0]) == ended, "batched episode end differs"
        final = vinfo["final_obs"] if ended else vobs
        acted = np.zeros(n_slots, dtype=bool)
        for a, r in entry.rew.items():
            k = slots[a]
            acted[k] = True
            if ended or a in entry.agents_after:
                same(final[0, k], vec_obs(entry.obs[a]), f"obs of {a} at iteration {entry.t}")
            else:  # done while others play on: the batched env shows zeros from now on
                assert not final[0, k].any(), f"{a} is done but observes {final[0, k]}"
            assert vrew[0, k] == np.float32(r), f"reward of {a}: {vrew[0, k]} != {r}"
            assert bool(vterm[0, k]) == entry.term[a] and bool(vtrunc[0, k]) == entry.trunc[a]
        assert not vrew[0, ~acted].any(), "slots that did not act were paid"
        same((vinfo["final_state"] if ended else vinfo["state"])[0], entry.state, "state")
        if ended:
            pending = (vobs, vinfo)
        else:
            live = np.zeros(n_slots, dtype=bool)
            live[[slots[a] for a in entry.agents_after]] = True
            same(vinfo["agent_mask"][0], live, "agent_mask")
            task_ids(entry.infos, vinfo)


class BatchTracker:
    """Checks of a ``B > 1`` batched rollout that hold for every family: shapes, dtypes, bounds,
    masks, zero rows for slots without a live agent, no pay for them, both flags never together,
    ended episodes flag every slot and are reported in ``info["episode"]`` with the return and
    length tracked here, task ids change only at an episode's end."""

    def __init__(self, venv: Any, obs: np.ndarray, info: dict) -> None:
        self.venv = venv
        b, n = venv.num_envs, venv.num_agents
        self.ret = np.zeros((b, n))
        self.length = np.zeros(b, dtype=np.int64)
        self.check_obs(obs, info)
        self.task = info["task_id"].copy()

    def check_obs(self, obs: np.ndarray, info: dict) -> None:
        venv = self.venv
        b, n = venv.num_envs, venv.num_agents
        assert obs.shape == (b, n, *venv.single_observation_space.shape)
        assert_in_box(obs, venv.single_observation_space, "batched obs")
        mask = info["agent_mask"]
        assert mask.shape == (b, n) and mask.dtype == np.bool_
        assert mask.any(1).all(), "an environment with no live agent"
        assert not obs[~mask].any(), "slots without a live agent must observe zeros"
        assert_in_box(info["state"], venv.state_space, "batched state")
        tid = info["task_id"]
        assert tid.shape == (b,) and tid.dtype == np.int64
        assert tid.min() >= 0 and tid.max() < len(venv.task_set)
        if "action_mask" in info:
            am = info["action_mask"]
            assert am.shape == (b, n, int(venv.single_action_space.n)) and am.dtype == np.bool_
            assert am[mask].all(), "live agents may take every action"
            assert am.any(-1).all(), "every slot needs one legal action"

    def step(
        self,
        obs: np.ndarray,
        rew: np.ndarray,
        term: np.ndarray,
        trunc: np.ndarray,
        info: dict,
        live_before: np.ndarray,
    ) -> np.ndarray:
        """Check one step; returns ``done [B]``."""
        b, n = self.venv.num_envs, self.venv.num_agents
        self.check_obs(obs, info)
        assert rew.shape == term.shape == trunc.shape == (b, n)
        assert rew.dtype == np.float32 and term.dtype == trunc.dtype == np.bool_
        assert np.isfinite(rew).all()
        assert not rew[~live_before].any(), "a slot without a live agent was paid"
        assert not (term & trunc).any(), "a slot both terminated and truncated"
        done = info["_final"]
        assert done.shape == (b,) and done.dtype == np.bool_
        assert (term | trunc)[done].all(), "an ended episode must flag every slot"
        assert_in_box(info["final_obs"], self.venv.single_observation_space, "final_obs")
        assert_in_box(info["final_state"], self.venv.state_space, "final_state")
        keep = ~done
        same(info["final_obs"][keep], obs[keep], "final_obs of running episodes")
        same(info["final_info"]["task_id"], self.task, "final_info task_id")
        self.ret += rew
        self.length += 1
        ep = info["episode"]
        same(ep["mask"], done, "episode mask")
        assert np.allclose(ep["r"][done], self.ret[done], rtol=1e-6, atol=1e-4), "returns"
        same(ep["l"][done], self.length[done], "episode lengths")
        same(ep["task_id"][done], self.task[done], "episode task ids")
        assert not ep["r"][keep].any() and not ep["l"][keep].any()
        same(info["task_id"][keep], self.task[keep], "task ids of running episodes")
        self.ret[done] = 0.0
        self.length[done] = 0
        self.task = info["task_id"].copy()
        return done


# -- capture (mast_v0, mamt_v0) ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CaptureCase:
    env_id: str
    tasks: tuple[CaptureTask, ...]
    obs_encoding: str
    sampler: str
    seed_task: int | None
    seed: int
    stream: ActionStream
    snapshot: int
    num_envs: int

    def kwargs(self) -> dict[str, Any]:
        return {
            "tasks": list(self.tasks),
            "obs_encoding": self.obs_encoding,
            "sampler": self.sampler,
            "seed_task": self.seed_task,
        }


#: Task mixes per (variant, encoding): 1-3 tasks; one-hot observations on small grids only.
_CAPTURE_MIXES = {
    (variant, encoding): st.lists(
        capture_tasks(
            variant,
            max_grid=6 if encoding == "onehot" else 256,
            max_agents=3 if encoding == "onehot" else CAPTURE_MAX_AGENTS,
            max_horizon=MAX_HORIZON,
        ),
        min_size=1,
        max_size=3,
    )
    for variant in ("mast", "mamt")
    for encoding in ("coords", "onehot")
}
_SEED_TASK = optional(ints(0, 2**16))
_SAMPLERS = st.sampled_from(["uniform", "round_robin"])


@st.composite
def capture_cases(draw: Any) -> CaptureCase:
    variant = draw(st.sampled_from(["mast", "mamt"]))
    encoding = draw(st.sampled_from(["coords", "coords", "onehot"]))
    return CaptureCase(
        env_id=f"{variant}_v0",
        tasks=tuple(draw(_CAPTURE_MIXES[variant, encoding])),
        obs_encoding=encoding,
        sampler=draw(_SAMPLERS),
        seed_task=draw(_SEED_TASK),
        seed=draw(seeds()),
        stream=draw(action_streams()),
        snapshot=draw(ints(0, STEPS - 1)),
        num_envs=draw(ints(2, 3)),
    )


def _torus(d: np.ndarray, m: Any) -> np.ndarray:
    """Toroidal Manhattan length of cell differences ``d [..., 2]`` on ``m x m`` grids."""
    d = np.abs(d) % m
    return np.minimum(d, m - d).sum(-1)


class CaptureChecker(Checker):
    """Capture rules: cells on the torus, one-cell moves, observations built from the cells
    (own coordinates, then each target's coordinates and visibility bit, or zeros for a hidden
    or padded target; one-hot cells), ``state()`` the unhidden coordinates and ``t / horizon``,
    reward 1 exactly at a capture (every agent on its own target), truncation exactly at
    ``max_steps``."""

    def __init__(self, env: Any) -> None:
        self.coords: dict[int, np.ndarray] = {}
        self.cells: np.ndarray | None = None

    def _coord(self, m: int) -> np.ndarray:
        if m not in self.coords:
            self.coords[m] = (np.arange(m, dtype=np.float64) / (m - 1)).astype(np.float32)
        return self.coords[m]

    def _check(self, env: Any, obs: dict, agents: list[str]) -> np.ndarray:
        """Positions, observations and state; returns the live cells ``[n + nt, 2]``."""
        task, core = env.task, env.core
        m, n, nt = task.grid_size, task.n_agents, task.n_targets
        big_n, big_t = core.N, core.T
        pos, tpos = np.array(core.pos), np.array(core.tpos)
        assert pos.min() >= 0 and pos.max() < m and tpos.min() >= 0 and tpos.max() < m, (
            f"cells outside the {m}x{m} grid: agents {pos.tolist()}, targets {tpos.tolist()}"
        )
        assert not pos[n:].any() and not tpos[nt:].any(), "padded agents or targets moved"
        assert agents == env.possible_agents[:n]
        got = np.stack([obs[a] for a in agents])
        coord = self._coord(m)
        if env.obs_encoding == "coords":
            seen = got[:, 4] == 1.0
            want = np.zeros_like(got)
            want[:, 0], want[:, 1] = coord[pos[:n, 1]], coord[pos[:n, 0]]
            block = np.zeros((big_t, 3), dtype=np.float32)
            block[:nt, 0], block[:nt, 1] = coord[tpos[:nt, 1]], coord[tpos[:nt, 0]]
            block[:nt, 2] = 1.0
            want[seen, 2:] = block.reshape(-1)
        else:
            big = core.M
            grids = got.reshape(n, 1 + big_t, big * big)
            seen = grids[:, 1].any(1)
            want = np.zeros_like(grids)
            want[np.arange(n), 0, pos[:n, 0] * big + pos[:n, 1]] = 1.0
            for j in range(nt):
                want[seen, 1 + j, tpos[j, 0] * big + tpos[j, 1]] = 1.0
            want = want.reshape(n, -1)
        same(got, want, "capture observations (agents x features)")
        s = self.state
        xy = np.concatenate([pos, tpos])[:, ::-1] / (m - 1)
        want_s = np.append(xy.reshape(-1), env.num_steps / task.max_steps).astype(np.float32)
        same(s, want_s, "capture state")
        assert s.shape == (2 * big_n + 2 * big_t + 1,)
        return np.concatenate([pos[:n], tpos[:nt]])

    def _infos(self, env: Any, infos: dict) -> None:
        task_id, task = env.task_id, env.task
        assert task == env.task_set[task_id]
        for info in infos.values():
            assert set(info) == {"task_id", "task", "action_mask"}, set(info)
            assert type(info["task_id"]) is int and info["task_id"] == task_id
            assert info["task"] == task
            mask = info["action_mask"]
            assert mask.dtype == np.int8 and mask.shape == (5,) and mask.all()

    def reset(self, env: Any, obs: dict, infos: dict) -> None:
        common_reset_checks(env, obs, infos)
        assert env.num_steps == 0
        self.cells = self._check(env, obs, env.agents)
        self._infos(env, infos)
        assert not env.core.captured(), "the team starts captured"

    def step(
        self, env: Any, prev: list[str], obs: dict, rew: dict, term: dict, trunc: dict, infos: dict
    ) -> None:
        common_step_checks(env, prev, obs, rew, term, trunc, infos)
        task = env.task
        a0 = prev[0]
        r, tm, tr = rew[a0], term[a0], trunc[a0]
        assert all(rew[a] == r and term[a] == tm and trunc[a] == tr for a in prev), "team"
        assert r in (0.0, 1.0), f"reward {r} outside {{0, 1}}"
        assert (r == 1.0) == tm, f"reward {r} with termination {tm}"
        assert tr == (not tm and env.num_steps == task.max_steps), (
            f"truncated={tr} at step {env.num_steps} of {task.max_steps}"
        )
        cells = self._check(env, obs, prev)
        n = task.n_agents
        if tm:
            asg = np.array(task.assignment)
            same(cells[:n], cells[n + asg], "a capture pays only with every agent on its target")
        assert self.cells is not None
        moved = _torus(cells - self.cells, task.grid_size)
        assert moved.max() <= 1, f"a cell moved {moved.max()} steps at once"
        self.cells = cells
        self._infos(env, infos)


def _capture_batched(case: CaptureCase) -> None:
    """B = 2..3 capture environments on the case's task mix."""
    venv: Any = mt_envs.make_vec(case.env_id, case.num_envs, **case.kwargs())
    tasks: Any = venv.task_set
    b, n, nt = venv.num_envs, venv.num_agents, venv.core.T
    obs, info = venv.reset(seed=case.seed)
    tracker = BatchTracker(venv, obs, info)
    table = case.stream.discrete(MIX_STEPS, b * n, 5).reshape(MIX_STEPS, b, n)
    m = np.array([t.grid_size for t in tasks])
    horizon = np.array([t.max_steps for t in tasks])
    n_agents = np.array([t.n_agents for t in tasks])
    n_targets = np.array([t.n_targets for t in tasks])
    slot = np.arange(n)
    # Which cells of the state rows belong to a live agent / target of each task, and each
    # live agent's own target (as a state cell index).
    live_cells = np.concatenate(
        [slot[None, :] < n_agents[:, None], np.arange(nt)[None, :] < n_targets[:, None]], axis=1
    )
    own = np.zeros((len(tasks), n), dtype=np.int64)
    for k, t in enumerate(tasks):
        own[k, : t.n_agents] = n + np.array(t.assignment)

    def cells(state: np.ndarray, tid: np.ndarray) -> np.ndarray:
        """Integer (col, row) of the agents then targets, from the normalised state."""
        xy = state[:, :-1].reshape(b, n + nt, 2).astype(np.float64)
        return np.rint(xy * (m[tid] - 1)[:, None, None]).astype(np.int64)

    before = cells(info["state"], info["task_id"])
    for t in range(MIX_STEPS):
        live = info["agent_mask"].copy()
        tid = info["task_id"].copy()
        obs, rew, term, trunc, info = venv.step(table[t])
        done = tracker.step(obs, rew, term, trunc, info, live)
        assert ((rew == 0.0) | (rew == 1.0)).all(), f"rewards {np.unique(rew)}"
        same(rew[live] == 1.0, term[live], "reward 1 exactly at termination")
        assert (term == term[:, :1]).all() and (trunc == trunc[:, :1]).all()
        same(trunc[:, 0], done & ~term[:, 0], "truncation ends an episode without a capture")
        length = info["episode"]["l"]
        ended_trunc = trunc[:, 0]
        same(length[ended_trunc], horizon[tid[ended_trunc]], "truncated at the horizon")
        assert (length[done] <= horizon[tid[done]]).all(), "an episode outlived its horizon"
        after = cells(info["final_state"], tid)
        lc = live_cells[tid]
        assert not after[~lc].any(), "padded agents or targets moved"
        assert (after >= 0).all() and (after < m[tid][:, None, None]).all()
        moved = _torus(after - before, m[tid][:, None, None])
        assert moved[lc].max() <= 1, "a cell moved more than one step"
        for e in np.flatnonzero(term[:, 0]):
            k = int(tid[e])
            na = int(n_agents[k])
            same(after[e, :na], after[e, own[k, :na]], f"env {e}: reward without capture")
        steps_now = np.where(done, 0, tracker.length)
        tid_now = info["task_id"]
        want = (steps_now / horizon[tid_now]).astype(np.float32)
        same(info["state"][:, -1], want, "t / horizon in the state")
        same(info["agent_mask"].sum(1), n_agents[tid_now], "live agents per environment")
        before = cells(info["state"], tid_now)


@given(capture_cases())
def test_capture_env_properties(case: CaptureCase) -> None:
    """mast_v0 / mamt_v0 on random task mixes: ParallelEnv invariants, determinism, pickling,
    the native batched env replaying it at B = 1 and its invariants at B = 2..3."""
    env = mt_envs.make(case.env_id, **case.kwargs())
    slots = {a: i for i, a in enumerate(env.possible_agents)}
    table = case.stream.discrete(STEPS, len(slots), 5)
    fresh = None
    if case.seed_task is not None:
        fresh = lambda: mt_envs.make(case.env_id, **case.kwargs())  # noqa: E731
    trace = check_rollout_properties(
        env,
        case.seed,
        discrete_actions(table, slots),
        CaptureChecker(env),
        case.snapshot,
        STEPS,
        fresh,
    )
    venv = mt_envs.make_vec(case.env_id, 1, **case.kwargs())

    def task_ids(infos: dict, vinfo: dict) -> None:
        for info in infos.values():
            assert vinfo["task_id"][0] == info["task_id"]

    check_vector_replay(venv, case.seed, trace, table, slots, lambda o: o, task_ids)
    _capture_batched(case)


# -- tabular families (corridor_v0, gridworld_v0, chain_v0) -------------------------------------


@dataclasses.dataclass(frozen=True)
class TabularCase:
    env_id: str
    tasks: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]
    seed: int
    stream: ActionStream
    snapshot: int
    num_envs: int

    def env_kwargs(self) -> dict[str, Any]:
        return {"tasks": list(self.tasks), **dict(self.kwargs)}


def _corridor_sets(n_sets: int, seed: int = 0) -> tuple[tuple[CorridorTask, ...], ...]:
    """``n_sets`` corridor task mixes (1-4 tasks of the layout pool, horizons from 1 to the
    default 200, tags), fixed by ``seed``. Building an env for a new mix costs about 80 ms per
    task (the tables of 7,000 joint states), so CI draws its mixes from these; the soak profile
    draws new tasks."""
    rng = np.random.default_rng(seed)
    horizons = (1, 2, 3, 5, 8, 13, 21, 30, 200)
    tags = ("", "", "copy", "x_1")
    out = []
    for i in range(n_sets):
        mix = []
        for _ in range(1 + i % 4):
            starts, goals = CORRIDOR_LAYOUTS[int(rng.integers(len(CORRIDOR_LAYOUTS)))]
            horizon, tag = int(rng.choice(horizons)), str(rng.choice(tags))
            mix.append(CorridorTask(starts=starts, goals=goals, horizon=horizon, tag=tag))
        out.append(tuple(mix))
    return tuple(out)


_CORRIDOR_MIX = (
    st.lists(
        corridor_tasks(max_horizon=MAX_HORIZON, layouts=CORRIDOR_LAYOUTS), min_size=1, max_size=3
    )
    if FULL
    else st.sampled_from(_corridor_sets(16))
)
_GRIDWORLD_MIX = gridworld_task_sets(max_tasks=4, max_side=GRID_MAX_SIDE, max_horizon=MAX_HORIZON)
_CHAIN_MIX = st.lists(chain_tasks(max_horizon=MAX_HORIZON), min_size=1, max_size=4)
_CHAIN_P = st.one_of(st.none(), st.none(), st.floats(0.0, 1.0))


@st.composite
def tabular_cases(draw: Any, family: str) -> TabularCase:
    kwargs: dict[str, Any] = {}
    if family == "corridor":
        tasks = draw(_CORRIDOR_MIX)
        kwargs["obs_type"] = draw(st.sampled_from(["multidiscrete", "float"]))
    elif family == "gridworld":
        tasks = draw(_GRIDWORLD_MIX)
        kwargs["mode"] = draw(st.sampled_from(["team", "sampled"]))
    else:
        tasks = draw(_CHAIN_MIX)
        kwargs["mode"] = draw(st.sampled_from(["team", "sampled"]))
        p = draw(_CHAIN_P)
        if p is not None:
            kwargs["p"] = p
    if kwargs.get("mode", "sampled") == "sampled":
        kwargs["sampler"] = draw(_SAMPLERS)
        kwargs["seed_task"] = draw(_SEED_TASK)
    return TabularCase(
        env_id=f"{family}_v0",
        tasks=tuple(tasks),
        kwargs=tuple(kwargs.items()),
        seed=draw(seeds()),
        stream=draw(action_streams()),
        snapshot=draw(ints(0, STEPS - 1)),
        num_envs=draw(ints(2, 3)),
    )


def _corridor_floor(cell: tuple[int, int]) -> bool:
    r, c = cell
    return 0 <= r < len(LAYOUT) and 0 <= c < len(LAYOUT[0]) and LAYOUT[r][c] == "."


#: Divisors of the corridor's ``obs_type="float"`` observation.
_CORRIDOR_SCALE = np.array([6, 8, 6, 8, 5, 5, 1])


class TabularChecker(Checker):
    """Rules of the tabular families: rewards in the family's set, paid as the rules say,
    positions inside the world moving one cell at most (corridor: on the floor, never two live
    agents on one cell; GridWorld: live agents off goal and obstacles; chain: live agents inside
    S2..S4), ``state_index`` of the observation, ``state()`` = every slot's observation (a done
    agent's slot frozen where it plays alone), truncation exactly at the agent's task horizon."""

    def __init__(self, env: Any) -> None:
        self.family = env.metadata["name"]
        self.slot = {a: i for i, a in enumerate(env.possible_agents)}
        self.last: dict[str, np.ndarray] = {}
        self.where: dict[str, Any] = {}

    def _task_of(self, env: Any, agent: str) -> Any:
        return env.task_set[env.group_tasks[self.slot[agent] // env.n_group]]

    def _where(self, env: Any, agent: str, o: Any, alive: bool) -> Any:
        """The agent's position (cell or chain state) from its observation, checked against the
        world and the env's own views."""
        task = self._task_of(env, agent)
        if self.family == "corridor_v0":
            arr = np.asarray(o, dtype=np.float64)
            if env.obs_type == "float":
                arr = np.rint(arr * _CORRIDOR_SCALE)
            own, other = (int(arr[0]), int(arr[1])), (int(arr[2]), int(arr[3]))
            assert _corridor_floor(own) and _corridor_floor(other), f"{agent} sees a wall cell"
            i = self.slot[agent]
            frame = env.frame()
            assert frame.pos[i] == own and frame.pos[1 - i] == other, "obs and frame disagree"
            assert frame.done[1 - i] == bool(arr[6]), "other-done bit"
            if alive and not arr[6]:
                assert own != other, f"{agent} shares a cell with the other agent"
            assert (own == task.goals[i]) == (not alive), f"{agent} alive={alive} at {own}"
            return own
        if self.family == "gridworld_v0":
            rows, cols = env.grid_shape
            cell = divmod(int(o), cols)
            assert 0 <= cell[0] < rows
            if alive:
                assert cell != task.goal and cell not in task.obstacles, f"{agent} at {cell}"
            return cell
        s = int(o)
        assert 0 <= s <= 4 and (1 <= s <= 3) == alive, f"{agent} alive={alive} in state {s}"
        return (0, s)

    def _infos(self, env: Any, infos: dict, obs: dict) -> None:
        for a, info in infos.items():
            assert set(info) == {"task_id", "task", "action_mask", "state_index"}, set(info)
            assert type(info["task_id"]) is int
            assert info["task"] == env.task_set[info["task_id"]] == self._task_of(env, a)
            mask = info["action_mask"]
            assert mask.dtype == np.int8 and mask.shape == (env.n_actions,) and mask.all()
            idx = info["state_index"]
            assert type(idx) is int and 0 <= idx < env.n_states
            assert idx == env.state_index(obs[a]), f"{a}: state_index {idx}"

    def _state(self, env: Any, obs: dict) -> None:
        s = self.state
        d = s.shape[0] // len(self.slot)
        for a, k in self.slot.items():
            if a in obs:
                self.last[a] = np.asarray(obs[a], dtype=np.float32).reshape(-1)
            elif env.n_group > 1:
                continue  # a done corridor agent's slot follows its group's joint state
            same(s[k * d : (k + 1) * d], self.last[a], f"state slot of {a}")

    def reset(self, env: Any, obs: dict, infos: dict) -> None:
        common_reset_checks(env, obs, infos)
        assert env.num_steps == 0
        assert env.agents == env.possible_agents, "every agent plays from the start"
        self.where = {a: self._where(env, a, obs[a], True) for a in env.agents}
        self._infos(env, infos, obs)
        self._state(env, obs)

    def step(
        self, env: Any, prev: list[str], obs: dict, rew: dict, term: dict, trunc: dict, infos: dict
    ) -> None:
        common_step_checks(env, prev, obs, rew, term, trunc, infos)
        self._infos(env, infos, obs)
        for a in prev:
            task = self._task_of(env, a)
            where = self._where(env, a, obs[a], not term[a])
            r = rew[a]
            if self.family == "corridor_v0":
                assert r in (STEP_REWARD, STEP_REWARD + GOAL_REWARD), f"reward {r}"
                assert (r > 0) == term[a], f"{a}: reward {r} with termination {term[a]}"
            else:
                assert r in (-1.0, 0.0, 1.0), f"reward {r}"
                assert (r != 0.0) == term[a], f"{a}: reward {r} with termination {term[a]}"
                if term[a] and self.family == "gridworld_v0":
                    assert (where == task.goal) == (r == 1.0), f"{a}: {r} entering {where}"
                elif term[a]:
                    sign = 1.0 if task.variant == 1 else -1.0
                    want = sign if where[1] == 0 else -sign
                    assert r == want, f"{a}: {r} entering S{where[1] + 1}"
            old = self.where[a]
            assert abs(where[0] - old[0]) + abs(where[1] - old[1]) <= 1, f"{a} jumped"
            self.where[a] = where
            assert trunc[a] == (not term[a] and env.num_steps == task.max_steps), (
                f"{a}: truncated={trunc[a]} at step {env.num_steps} of {task.max_steps}"
            )
        self._state(env, obs)


def _deterministic(env: Any) -> bool:
    """Whether every episode of ``env`` is a function of its task and actions alone."""
    c = env.compiled
    return not (c.stochastic or c.random_start)


def _tabular_batched(case: TabularCase, env: Any) -> None:
    """B = 2..3 environments of a tabular family on the case's task mix; deterministic
    configurations are replayed environment by environment with ``env`` (a ParallelEnv built
    like them)."""
    venv: Any = reused(case.env_id, case.env_kwargs(), case.num_envs)
    b, n = venv.num_envs, venv.num_agents
    obs, info = venv.reset(seed=case.seed)
    tracker = BatchTracker(venv, obs, info)
    table = case.stream.discrete(MIX_STEPS, b * n, venv.n_actions).reshape(MIX_STEPS, b, n)
    corridor = venv.metadata["name"] == "corridor_v0"
    allowed = np.array(
        [STEP_REWARD, STEP_REWARD + GOAL_REWARD, 0.0] if corridor else [-1.0, 0.0, 1.0],
        dtype=np.float32,
    )
    # Per environment: the episodes (task, first observation, steps) the batch played.
    episodes: list[list[dict]] = [[] for _ in range(b)]
    current = [{"task": int(info["task_id"][e]), "obs": obs[e], "steps": []} for e in range(b)]
    for t in range(MIX_STEPS):
        live = info["agent_mask"].copy()
        obs, rew, term, trunc, info = venv.step(table[t])
        done = tracker.step(obs, rew, term, trunc, info, live)
        assert np.isin(rew, allowed).all(), f"rewards {np.unique(rew)}"
        paid = rew > 0.0 if corridor else rew != 0.0
        same(paid[live], term[live], "paid exactly at termination")
        if corridor:
            assert (rew[live] != 0.0).all(), "every playing corridor agent pays the step cost"
        for e in range(b):
            current[e]["steps"].append(
                (table[t, e], live[e], info["final_obs"][e], rew[e], term[e], trunc[e])
            )
            if done[e]:
                episodes[e].append(current[e])
                current[e] = {"task": int(info["task_id"][e]), "obs": obs[e], "steps": []}
    if not _deterministic(venv.template):
        return

    def vec(o: Any) -> np.ndarray:
        return env.vector_observation(np.asarray(o)[None])[0]

    for e in range(b):
        for ep in [*episodes[e], current[e]]:
            o, _ = env.reset(seed=0, options=None if env.team else {"task": ep["task"]})
            want = np.stack([vec(o[a]) for a in env.possible_agents])
            same(ep["obs"], want, f"env {e}: first observation of an episode")
            for acts, live, fobs, r, tm, tr in ep["steps"]:
                agents = list(env.agents)
                same([a in agents for a in env.possible_agents], live, f"env {e}: live agents")
                act = {a: int(acts[i]) for i, a in enumerate(env.possible_agents) if a in agents}
                o, rr, tt, uu, _ = env.step(act)
                for i, a in enumerate(env.possible_agents):
                    if a not in agents:
                        continue
                    want_i = vec(o[a])
                    if env.agents and a not in env.agents:  # done while others play on
                        want_i = np.zeros_like(want_i)
                    same(fobs[i], want_i, f"env {e}: obs of {a}")
                    assert r[i] == np.float32(rr[a]) and tm[i] == tt[a] and tr[i] == uu[a]


def _tabular_properties(case: TabularCase) -> None:
    env = reused(case.env_id, case.env_kwargs())
    slots = {a: i for i, a in enumerate(env.possible_agents)}
    table = case.stream.discrete(STEPS, len(slots), env.n_actions)
    fresh = None
    if dict(case.kwargs).get("seed_task") is not None:
        fresh = lambda: mt_envs.make(case.env_id, **case.env_kwargs())  # noqa: E731
    trace = check_rollout_properties(
        env,
        case.seed,
        discrete_actions(table, slots),
        TabularChecker(env),
        case.snapshot,
        STEPS,
        fresh,
    )
    table_size = env.compiled.n_total * env.n_group * env.vector_observation_space().shape[0]
    if table_size > BATCHED_TABLE_LIMIT:
        return  # the batched env's one-hot table would not fit (see BATCHED_TABLE_LIMIT)
    venv = reused(case.env_id, case.env_kwargs(), 1)
    assert venv.single_observation_space == env.vector_observation_space()

    def vec_obs(o: Any) -> np.ndarray:
        return env.vector_observation(np.asarray(o)[None])[0]

    def task_ids(infos: dict, vinfo: dict) -> None:
        for a, info in infos.items():
            assert vinfo["agent_task_id"][0, slots[a]] == info["task_id"]
            assert vinfo["task_id"][0] == (0 if env.team else info["task_id"])
            assert vinfo["state_index"][0, slots[a]] == info["state_index"]

    check_vector_replay(venv, case.seed, trace, table, slots, vec_obs, task_ids)
    _tabular_batched(case, env)


@given(tabular_cases("corridor"))
def test_corridor_env_properties(case: TabularCase) -> None:
    """corridor_v0 (both observation types): ParallelEnv invariants, determinism, pickling,
    the batched env replaying it at B = 1, B = 2..3 replayed env by env."""
    _tabular_properties(case)


@given(tabular_cases("gridworld"))
def test_gridworld_env_properties(case: TabularCase) -> None:
    """gridworld_v0 (team and sampled modes, random maps and start distributions): the same
    properties as the corridor's."""
    _tabular_properties(case)


@given(tabular_cases("chain"))
def test_chain_env_properties(case: TabularCase) -> None:
    """chain_v0 (team and sampled modes, deterministic and stochastic): the same properties as
    the corridor's."""
    _tabular_properties(case)


# -- drone_nav_v0 ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DroneCase:
    tasks: tuple[DroneTask, ...]
    kwargs: tuple[tuple[str, Any], ...]
    seed: int
    stream: ActionStream
    snapshot: int
    num_envs: int

    def env_kwargs(self) -> dict[str, Any]:
        return {"tasks": list(self.tasks), **dict(self.kwargs)}


@st.composite
def drone_cases(draw: Any) -> DroneCase:
    config = draw(drone_configs(*DRONE_CAMERA))
    mode = draw(st.sampled_from(["shared", "team"]))
    n_drones = draw(ints(1, 3))
    k = draw(ints(1, 2 if mode == "team" else 3))
    task = drone_tasks(radius=config["radius"], n_drones=n_drones, max_horizon=DRONE_STEPS)
    kwargs = {**config, "mode": mode, "n_drones": n_drones}
    if mode == "shared":
        kwargs["sampler"] = draw(_SAMPLERS)
        kwargs["seed_task"] = draw(_SEED_TASK)
    return DroneCase(
        tasks=tuple(draw(task) for _ in range(k)),
        kwargs=tuple(kwargs.items()),
        seed=draw(seeds()),
        stream=draw(action_streams()),
        snapshot=draw(ints(0, DRONE_STEPS - 1)),
        num_envs=2,
    )


class DroneChecker(Checker):
    """Drone rules: centres inside the map's bounds, floor and ceiling; horizontal moves of at
    most ``step_length`` adding up to ``safe_flight``; reward -1 exactly at a crash, otherwise the
    centre statistic in [crash_distance / max_range, 1]; ``safe_flight`` / ``crashed`` in the
    infos at a drone's end; the state's flying flags; truncation exactly at the horizon."""

    def __init__(self, env: Any) -> None:
        self.slot = {a: i for i, a in enumerate(env.possible_agents)}
        tb = env.core.table
        self.lo = np.concatenate([tb.bounds[:, :2], tb.floor[:, None]], axis=1)
        self.hi = np.concatenate([tb.bounds[:, 2:], tb.ceiling[:, None]], axis=1)
        self.pos = np.zeros(0)
        self.flight = np.zeros(0)

    def _positions(self, env: Any) -> np.ndarray:
        pos = env.positions
        tid = np.array(env.drone_task_ids)
        inside = (pos >= self.lo[tid]) & (pos <= self.hi[tid])
        assert inside.all(), f"drones at {pos.tolist()} outside their maps"
        return pos

    def _infos(self, env: Any, infos: dict, ended: set[str]) -> None:
        tids = env.drone_task_ids
        discrete = not env.config.continuous_actions
        for a, info in infos.items():
            keys = {"task_id", "task"} | ({"action_mask"} if discrete else set())
            if a in ended:
                keys |= {"safe_flight", "crashed"}
            assert set(info) == keys, f"{a}: info keys {set(info)} != {keys}"
            if discrete:
                mask = info["action_mask"]
                assert mask.dtype == np.int8 and mask.shape == (25,) and mask.all()
            assert info["task_id"] == tids[self.slot[a]]
            assert info["task"] == env.task_set[info["task_id"]]

    def _state(self, env: Any) -> None:
        flying = self.state[:-1].reshape(-1, 6)[:, 5]
        same(flying, [float(a in env.agents) for a in self.slot], "flying flags of the state")

    def reset(self, env: Any, obs: dict, infos: dict) -> None:
        common_reset_checks(env, obs, infos)
        assert env.agents == env.possible_agents
        self._infos(env, infos, set())
        self.pos = self._positions(env)
        self.flight = env.safe_flight
        assert not self.flight.any()
        self._state(env)

    def step(
        self, env: Any, prev: list[str], obs: dict, rew: dict, term: dict, trunc: dict, infos: dict
    ) -> None:
        common_step_checks(env, prev, obs, rew, term, trunc, infos)
        cfg = env.config
        floor = cfg.crash_distance / cfg.camera.max_range
        ended = {a for a in prev if term[a] or trunc[a]}
        self._infos(env, infos, ended)
        pos = self._positions(env)
        flight, crashed, tids = env.safe_flight, env.crashed, env.drone_task_ids
        for a in prev:
            k = self.slot[a]
            r = rew[a]
            if term[a]:
                assert r == -1.0 and crashed[k], f"{a}: terminated with reward {r}"
            else:
                assert floor - 1e-9 <= r <= 1.0, f"{a}: reward {r} outside [{floor}, 1]"
                assert not crashed[k]
            if a in ended:
                assert infos[a]["safe_flight"] == flight[k]
                assert infos[a]["crashed"] is term[a]
            horizon = env.task_set[tids[k]].max_steps
            assert trunc[a] == (not term[a] and env.num_steps == horizon), (
                f"{a}: truncated={trunc[a]} at step {env.num_steps} of {horizon}"
            )
        horizontal = np.hypot(*(pos[:, :2] - self.pos[:, :2]).T)
        acted = np.array([a in prev for a in self.slot])
        assert (horizontal[acted] <= cfg.step_length * (1 + 1e-9)).all(), f"flew {horizontal}"
        assert np.allclose(flight - self.flight, horizontal, rtol=1e-9, atol=1e-9), (
            f"safe_flight grew by {flight - self.flight}, drones flew {horizontal}"
        )
        assert not horizontal[~acted].any(), "a done drone moved"
        self.pos, self.flight = pos, flight
        self._state(env)


def _drone_actions(case: DroneCase, env: Any) -> tuple[np.ndarray, Callable[[Any, int], dict]]:
    slots = {a: i for i, a in enumerate(env.possible_agents)}
    if env.config.continuous_actions:
        table = case.stream.continuous(DRONE_STEPS, len(slots))

        def act(env: Any, t: int) -> dict:
            return {a: table[t, slots[a]] for a in env.agents}

        return table, act
    table = case.stream.discrete(DRONE_STEPS, len(slots), 25)
    return table, discrete_actions(table, slots)


def _drone_batched(case: DroneCase) -> None:
    """B = 2 drone environments: batched invariants, rewards (-1 exactly at a crash, else in
    [crash_distance / max_range, 1]), safe flight growing by at most ``step_length`` per step and
    reported with the crash flags at episode ends."""
    venv: Any = reused("drone_nav_v0", case.env_kwargs(), case.num_envs)
    b, n = venv.num_envs, venv.num_agents
    cfg = venv.config
    obs, info = venv.reset(seed=case.seed)
    tracker = BatchTracker(venv, obs, info)
    table: np.ndarray
    if cfg.continuous_actions:
        table = case.stream.continuous(DRONE_STEPS, b * n).reshape(DRONE_STEPS, b, n, 2)
    else:
        table = case.stream.discrete(DRONE_STEPS, b * n, 25).reshape(DRONE_STEPS, b, n)
    floor = np.float32(cfg.crash_distance / cfg.camera.max_range)
    flight = info["safe_flight"]
    for t in range(DRONE_STEPS):
        live = info["agent_mask"].copy()
        obs, rew, term, trunc, info = venv.step(table[t])
        done = tracker.step(obs, rew, term, trunc, info, live)
        same((rew == -1.0) & live, term & live, "reward -1 exactly at a crash")
        flown = rew[live & ~term]
        assert ((flown >= floor - 1e-6) & (flown <= 1.0)).all(), f"rewards {flown}"
        grown = info["final_info"]["safe_flight"] - flight
        assert (grown >= -1e-12).all() and (grown <= cfg.step_length * (1 + 1e-9)).all()
        assert not grown[~live].any(), "a done drone flew"
        ep = info["episode"]
        same(ep["crashed"][done], info["final_info"]["crashed"][done], "episode crash flags")
        same(ep["crashed"] & live, term & live & done[:, None], "crash flags at episode ends")
        flight = np.where(done[:, None], 0.0, info["final_info"]["safe_flight"])
        same(info["safe_flight"], flight, "safe flight restarts with the episode")


@given(drone_cases())
def test_drone_env_properties(case: DroneCase) -> None:
    """drone_nav_v0 (shared and team modes, 1-3 drones, random cameras, bodies, lighting and
    maps, discrete and continuous actions): ParallelEnv invariants, determinism, pickling, the
    batched env replaying it at B = 1 and its invariants at B = 2."""
    env = reused("drone_nav_v0", case.env_kwargs())
    table, act = _drone_actions(case, env)
    fresh = None
    if dict(case.kwargs).get("seed_task") is not None:
        fresh = lambda: mt_envs.make("drone_nav_v0", **case.env_kwargs())  # noqa: E731
    trace = check_rollout_properties(
        env, case.seed, act, DroneChecker(env), case.snapshot, DRONE_STEPS, fresh
    )
    venv = reused("drone_nav_v0", case.env_kwargs(), 1)
    slots = {a: i for i, a in enumerate(env.possible_agents)}

    def task_ids(infos: dict, vinfo: dict) -> None:
        for a, info in infos.items():
            assert vinfo["agent_task_id"][0, slots[a]] == info["task_id"]
            assert vinfo["task_id"][0] == (0 if env.team else info["task_id"])

    check_vector_replay(venv, case.seed, trace, table, slots, lambda o: o, task_ids)
    _drone_batched(case)


# -- mpe (GoodTeamEnv) -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MPECase:
    task: Any
    seed: int
    stream: ActionStream
    snapshot: int


@st.composite
def mpe_cases(draw: Any) -> MPECase:
    return MPECase(
        task=draw(mpe_tasks(max_cycles=MPE_STEPS)),
        seed=draw(seeds()),
        stream=draw(action_streams()),
        snapshot=draw(ints(0, MPE_STEPS - 1)),
    )


class MPEChecker(Checker):
    """The good team of an mpe2 game: float32 observations and states of fixed shapes, finite;
    rewards finite (<= 0 in speaker_listener and push, minus a distance); no termination and
    truncation exactly after ``max_cycles`` steps; ``action_mask`` in the infos; entity positions
    and velocities finite."""

    def _common(self, env: Any, infos: dict) -> None:
        for a, info in infos.items():
            assert set(info) == {"action_mask"}
            mask = info["action_mask"]
            assert mask.dtype == np.int8 and mask.shape == (env.action_space(a).n,) and mask.all()
        assert np.isfinite(self.state).all()
        for entity in env._raw.world.entities:
            assert np.isfinite(entity.state.p_pos).all() and np.isfinite(entity.state.p_vel).all()

    def reset(self, env: Any, obs: dict, infos: dict) -> None:
        common_reset_checks(env, obs, infos)
        assert env.agents == env.possible_agents and env.num_steps == 0
        self._common(env, infos)

    def step(
        self, env: Any, prev: list[str], obs: dict, rew: dict, term: dict, trunc: dict, infos: dict
    ) -> None:
        common_step_checks(env, prev, obs, rew, term, trunc, infos)
        self._common(env, infos)
        task = env.task
        for a in prev:
            assert np.isfinite(obs[a]).all()
            if task.game in ("speaker_listener", "push"):
                assert rew[a] <= 0.0, f"{a}: reward {rew[a]} > 0 in {task.game}"
            assert term[a] is False, "mpe2 games never terminate"
            assert trunc[a] == (env.num_steps == task.max_cycles)
        assert all(math.isfinite(r) for r in env.adversary_rewards.values())


@given(mpe_cases())
def test_mpe_good_team_properties(case: MPECase) -> None:
    """The MPE group's GoodTeamEnv (every game, good-agent count and opponent): invariants,
    determinism and pickling (it has no batched core)."""
    env: Any = GoodTeamEnv(case.task)
    slots = {a: i for i, a in enumerate(env.possible_agents)}
    n_act = max(int(env.action_space(a).n) for a in env.possible_agents)
    table = case.stream.discrete(MPE_STEPS, len(slots), n_act)
    for a, k in slots.items():
        table[:, k] %= int(env.action_space(a).n)
    act = discrete_actions(table, slots)
    check_rollout_properties(env, case.seed, act, MPEChecker(), case.snapshot, MPE_STEPS)


def test_strategies_reach_documented_boundaries() -> None:
    """The task strategies reach the ends of the documented ranges (a guard against a strategy
    that silently narrows them)."""
    quick = settings(max_examples=2000, database=None, derandomize=True)
    for strategy, condition in [
        (capture_tasks(), lambda t: t.grid_size == 256),
        (capture_tasks(), lambda t: t.n_agents == 32),
        (capture_tasks(), lambda t: t.grid_size == 2 and t.flicker == 1.0),
        (capture_tasks("mast"), lambda t: t.slip == 1.0 and t.horizon is None),
        (corridor_tasks(), lambda t: t.horizon == 1),
        (chain_tasks(), lambda t: t.p == 1.0),
        (chain_tasks(), lambda t: t.p == 0.0),
        (gridworld_task_sets(max_side=3), lambda ts: len(ts[0].free_cells) == 1),
        (gridworld_task_sets(), lambda ts: ts[0].rows == 256),
        (drone_tasks(), lambda t: t.yaw_jitter_deg == 180.0 and t.angle_noise_deg == 45.0),
        (drone_tasks(), lambda t: t.bias == -0.5 and t.light == 0.0),
        (mpe_tasks(), lambda t: t.n_good == 8),
    ]:
        find(strategy, condition, settings=quick)
