"""Property tests (hypothesis) for every wrapper stack of ``docs/wrappers.md``.

Stacks: :class:`~wrappers.MultiTaskEnv` with every sampler over drawn capture tasks (padded or
not, with agent / task indicators), heterogeneous padded stacks (capture + corridor, capture +
drone with a padded action set, the MPE group with both indicators), the padding wrappers alone,
native grid envs with ``Discrete`` observations, and on top of them
:class:`~mt_envs.vector.SyncVectorEnv`, the SB3 bridge, SuperSuit's ``frame_stack_v2`` and
:class:`~wrappers.RecordEpisodes`.

Invariants checked at every step of every rollout (:func:`check_step`): observations inside the
stack's space with its dtype; padded entries exactly zero and ``obs_mask`` saying exactly which
entries are real; ``action_mask`` ones on the slot's real actions and zeros on the padding;
``agent_mask`` True; indicator entries the one-hot agent id, the one-hot task id or the task's
context vector; ``task_id`` / ``task`` in every info and constant over the episode; the dict keys
of every step the agents that acted; agents never return after they are done and leave exactly
when terminated or truncated; rewards finite; ``state()`` inside ``state_space``.

Per example besides: the same seed gives the same trajectory (also after the pooled env played
other examples), an env pickled mid-episode continues exactly like the original, the sampler's
task stream follows its definition, the fused padding of ``MultiTaskEnv(pad=True)`` equals the
padding wrappers stacked by hand, the padding wrappers alone unpad to the raw env exactly, and
the batched faces (SyncVectorEnv, SB3 bridge), SuperSuit's frame stack and the recorder agree
step for step with plain copies of the stack driven by the same seeds and actions.

Examples per property come from the hypothesis profile (``ci``: 1000, see ``tests/conftest.py``).
Pooled stacks are built once per module and reused through seeded resets, so an example costs a
short rollout, not a construction.
"""

from __future__ import annotations

import functools
import math
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from _strategies import action_streams, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pettingzoo import ParallelEnv
from PIL import Image

import mt_envs
from mt_envs.capture import CaptureTask
from mt_envs.capture.task import TARGET_POLICIES
from mt_envs.chain import ChainTask
from mt_envs.corridor import CorridorTask
from mt_envs.drone import DroneTask
from mt_envs.mpe import MPETask
from mt_envs.tasks import TaskSampler, TaskSet, curriculum, fixed, weighted
from mt_envs.vector import SyncVectorEnv
from wrappers import (
    AgentIndicator,
    MultiTaskEnv,
    PadActions,
    PadAgents,
    PadObservations,
    RecordEpisodes,
    TaskIndicator,
    make_group_env,
)
from wrappers.base import BaseWrapper
from wrappers.indicators import _AppendWrapper
from wrappers.recording import HOLD_FRAMES

pytestmark = pytest.mark.filterwarnings(
    "ignore:No agents present but not all possible_agents:UserWarning",
    "ignore:.*is all zeros:UserWarning",
)

#: Rollouts stay short so 1000 examples fit the CI budget (episodes end inside them: the pooled
#: tasks have horizons of at most 9 steps, the drawn ones mostly of at most 8).
MAX_STEPS = 12


# -- the pooled stacks ---------------------------------------------------------------------------
def _capture_context(task_id: int, task: Any) -> list[float]:
    """Task-context vector of capture tasks: grid side, flicker, slip (module level: picklable)."""
    return [task.grid_size / 8, task.flicker, task.slip]


def _corridor_float(horizon: int = 8) -> ParallelEnv:
    tasks = [
        CorridorTask(starts=((3, 2), (3, 6)), goals=((3, 6), (3, 2)), horizon=horizon),
        CorridorTask(starts=((1, 1), (5, 7)), goals=((1, 2), (5, 6)), horizon=horizon),
    ]
    return mt_envs.make("corridor_v0", tasks=tasks, obs_type="float")


def _small_drone() -> ParallelEnv:
    tasks = [
        DroneTask("corridor", horizon=4),
        DroneTask("pillars", horizon=3, noise_std=0.05, dropout=0.1),
    ]
    return mt_envs.make("drone_nav_v0", tasks=tasks, rows=2, cols=4)


def hetero() -> ParallelEnv:
    """MAST 3x3 (2 agents), MAMT 4x4 (3 agents) and the corridor (float septuples), padded,
    with a one-hot agent id."""
    slots = [
        mt_envs.make("mast_v0", tasks=[CaptureTask.mast(3, 2, horizon=8)]),
        mt_envs.make("mamt_v0", tasks=[CaptureTask.mamt(4, 3, flicker=0.5, horizon=8)]),
        _corridor_float(),
    ]
    return AgentIndicator(MultiTaskEnv(slots, sampler="round_robin", pad=True))


def drone_mix() -> ParallelEnv:
    """A capture slot (Discrete(5)) and two drone maps (Discrete(25)): actions padded 5 -> 25,
    padded actions refused; the task id as one-hot."""
    drone = _small_drone()
    slots = [
        mt_envs.make("mast_v0", tasks=[CaptureTask.mast(3, 1, horizon=6)]),
        (drone, {"task": 0}),
        (drone, {"task": 1}),
    ]
    return TaskIndicator(MultiTaskEnv(slots, pad=True, invalid_action="raise"))


def context_stack() -> ParallelEnv:
    """A native MAST set through MultiTaskEnv without padding, a task-context vector appended."""
    tasks = [CaptureTask.mast(m, 2, flicker=f, horizon=h) for m, f, h in ((3, 0.0, 6), (4, 0.3, 9))]
    return TaskIndicator(MultiTaskEnv.from_task_set("mast_v0", tasks), context=_capture_context)


def explicit_pads() -> ParallelEnv:
    """The padding wrappers alone on the corridor: 7 -> 10 entries, 5 -> 7 actions, 2 -> 3
    agents."""
    return PadAgents(PadActions(PadObservations(_corridor_float(), 10), 7), 3)


def chain_set() -> ParallelEnv:
    """The chain pair in sampled mode (``Discrete`` observations, no padding)."""
    tasks = [ChainTask(1, horizon=5), ChainTask(2, p=0.75, horizon=7)]
    return MultiTaskEnv.from_task_set("chain_v0", tasks, sampler="uniform", mode="sampled")


def mpe_group() -> ParallelEnv:
    """The MPE group of docs/wrappers.md, short episodes, both indicators."""
    tasks = TaskSet(
        "mpe-short",
        (
            MPETask("speaker_listener", max_cycles=6),
            MPETask("push", max_cycles=5),
            MPETask("adversary", max_cycles=4, opponent="random"),
        ),
    )
    return make_group_env(tasks, agent_indicator=True, task_indicator=True)


STACKS: dict[str, Callable[[], ParallelEnv]] = {
    "hetero": hetero,
    "drone_mix": drone_mix,
    "context": context_stack,
    "explicit_pads": explicit_pads,
    "chain": chain_set,
    "mpe_group": mpe_group,
}
#: Stacks batched by SyncVectorEnv and the SB3 bridge (every agent shares one flat Box or
#: Discrete observation and a Discrete action space). The drone and MPE stacks batch the same
#: way but step 10-20 times slower; their padding is covered by the properties above and by
#: tests/test_mpe_group.py.
BATCHABLE = ("hetero", "context", "explicit_pads", "chain")
#: Stacks pickled mid-episode (an mpe2 env takes ~25 ms to pickle and unpickle: left to
#: tests/test_mpe_group.py and the env properties).
PICKLED = ("hetero", "drone_mix", "context", "explicit_pads", "chain")
#: Stacks whose steps are slow (ray casting, mpe2 physics: 0.4-0.7 ms) play shorter rollouts.
SLOW = {"drone_mix": 6, "mpe_group": 6}


@functools.cache
def pooled(kind: str, copy: int = 0) -> ParallelEnv:
    """Copy ``copy`` of stack ``kind``, built once per module."""
    return STACKS[kind]()


# -- anatomy of a stack and the expected values ------------------------------------------------
class Anatomy:
    """The layers of a stack this package built: indicators (innermost first), the
    MultiTaskEnv, or the explicit padding wrappers."""

    def __init__(self, env: ParallelEnv) -> None:
        self.env = env
        self.tails: list[_AppendWrapper] = []
        self.mt: MultiTaskEnv | None = None
        self.pobs: PadObservations | None = None
        self.pact: PadActions | None = None
        self.pagents: PadAgents | None = None
        e: Any = env
        while True:
            if isinstance(e, _AppendWrapper):
                self.tails.append(e)
            elif isinstance(e, PadAgents):
                self.pagents = e
            elif isinstance(e, PadActions):
                self.pact = e
            elif isinstance(e, PadObservations):
                self.pobs = e
            elif isinstance(e, MultiTaskEnv):
                self.mt = e
                break
            elif not isinstance(e, BaseWrapper):
                break
            e = e.env
        self.tails.reverse()
        self.base: Any = e
        self.n_extra = sum(w._n_extra for w in self.tails)
        self.padded = (self.mt is not None and self.mt.pad) or self.pobs is not None
        self.task_set: TaskSet | None = getattr(env.unwrapped, "task_set", None)

    def real(self, agent: str) -> tuple[int, int, int] | None:
        """``(real observation size, real actions, padded actions)`` of ``agent`` in the current
        episode, read from the padding wrappers (``None`` where nothing is padded)."""
        if self.mt is not None and self.mt.pad:
            t = self.mt.task_id
            padded = self.mt.padded_envs[t]  # type: ignore[index]
            pact, pobs = padded.env, padded.env.env
            base = {c: a for a, c in self.mt.agent_maps[t].items()}[agent]
        elif self.pobs is not None and self.pact is not None:
            pact, pobs, base = self.pact, self.pobs, agent
        else:
            return None
        # the wrappers' bookkeeping matches the env they wrap
        assert pobs.original_spaces[base] == pobs.env.observation_space(base)
        assert pact.n_actions[base] == int(pact.env.action_space(base).n)
        return (
            int(pobs.original_spaces[base].shape[0]),
            pact.n_actions[base],
            int(pact.padded_space.n),
        )

    def tail(self, w: _AppendWrapper, agent: str, task_id: int) -> np.ndarray:
        """What indicator ``w`` appends for ``agent`` playing task ``task_id``."""
        dtype = w.observation_space(agent).dtype
        if isinstance(w, AgentIndicator):
            return np.eye(len(w.possible_agents), dtype=dtype)[w.possible_agents.index(agent)]
        assert isinstance(w, TaskIndicator)
        if w.context is None:
            return np.eye(w.n_tasks, dtype=dtype)[task_id]
        assert self.task_set is not None
        return np.asarray(w.context(task_id, self.task_set[task_id]), dtype=dtype)


class Expect:
    """What one agent's observation and info must be during one episode (computed once at the
    episode's reset, checked at every step)."""

    def __init__(self, an: Anatomy, agent: str, task_id: int) -> None:
        space = an.env.observation_space(agent)
        self.box = isinstance(space, gymnasium.spaces.Box)
        self.space = space
        if self.box:
            self.low, self.high = space.low, space.high
            self.shape, self.dtype = space.shape, space.dtype
        self.task_id = task_id
        self.task = None if an.task_set is None else an.task_set[task_id]
        self.padded = an.padded
        real = an.real(agent)
        assert (real is not None) == an.padded
        if real is not None:
            n_obs, n_act, n_pad = real
            inner = int(space.shape[0]) - an.n_extra
            self.zeros = slice(n_obs, inner)
            self.obs_mask = np.concatenate(
                [np.ones(n_obs, bool), np.zeros(inner - n_obs, bool), np.ones(an.n_extra, bool)]
            )
            self.action_mask = (np.arange(n_pad) < n_act).astype(np.int8)
        self.tail: np.ndarray | None = None
        if an.tails:
            self.tail = np.concatenate([an.tail(w, agent, task_id) for w in an.tails])
            self.tail_at = slice(int(space.shape[0]) - an.n_extra, None)

    def check(self, agent: str, obs: Any, info: dict[str, Any]) -> None:
        """Observation, masks, indicator entries and task identity of one live agent."""
        if self.box:
            assert isinstance(obs, np.ndarray) and obs.dtype == self.dtype, (agent, obs)
            assert obs.shape == self.shape, (agent, obs.shape, self.shape)
            assert (obs >= self.low).all() and (obs <= self.high).all(), (agent, obs)
        else:
            assert self.space.contains(np.int64(obs)), (agent, obs, self.space)
        # task identity: always in infos, constant over the episode, a task of the set
        tid = info["task_id"]
        assert isinstance(tid, (int, np.integer)) and not isinstance(tid, bool)
        assert tid == self.task_id, (agent, tid, self.task_id)
        if self.task is not None:
            assert info["task"] == self.task, (agent, info["task"], self.task)
        # padding: exact zeros, masks saying exactly which entries and actions are real
        if self.padded:
            assert not obs[self.zeros].any(), (agent, obs)
            mask = info["obs_mask"]
            assert mask.dtype == np.bool_ and not mask.flags.writeable
            assert np.array_equal(mask, self.obs_mask), (agent, mask, self.obs_mask)
            amask = info["action_mask"]
            assert amask.dtype == np.int8 and not amask.flags.writeable
            assert np.array_equal(amask, self.action_mask), (agent, amask)
            assert info["agent_mask"] is True
        else:
            assert "obs_mask" not in info and "agent_mask" not in info
        # indicators: one-hot agent id, one-hot task id or task context, innermost first
        if self.tail is not None:
            assert np.array_equal(obs[self.tail_at], self.tail), (agent, obs, self.tail)


class Episode:
    """Per-episode bookkeeping of :func:`check_step`: who is gone, what each agent must see."""

    def __init__(self, an: Anatomy, obs: dict[str, Any], infos: dict[str, Any]) -> None:
        self.an = an
        self.gone: set[str] = set()
        env = an.env
        assert set(obs) == set(env.agents) == set(infos), (set(obs), env.agents, set(infos))
        assert set(env.agents) <= set(env.possible_agents)
        self.expect = {}
        for agent in env.agents:
            tid = int(infos[agent]["task_id"])
            if an.mt is not None:
                assert tid == an.mt.task_id and infos[agent]["task"] == an.mt.task
            if an.task_set is not None:
                assert 0 <= tid < len(an.task_set)
            self.expect[agent] = e = Expect(an, agent, tid)
            e.check(agent, obs[agent], infos[agent])
        self.state = None
        if hasattr(env, "state_space"):
            sp = env.state_space
            self.state = (sp.low, sp.high, sp.shape, sp.dtype)
        self.check_state()

    def check_state(self) -> None:
        if self.state is not None:
            low, high, shape, dtype = self.state
            s = self.an.env.state()
            assert s.dtype == dtype and s.shape == shape, s
            assert (s >= low).all() and (s <= high).all(), s


def check_step(ep: Episode, acted: list[str], out: tuple) -> None:
    """Every invariant of one step of ``ep.an.env`` whose live agents were ``acted``."""
    obs, rew, term, trunc, infos = out
    env = ep.an.env
    keys = set(acted)
    assert set(obs) == set(rew) == set(term) == set(trunc) == set(infos) == keys, (
        acted,
        set(obs),
        set(rew),
        set(infos),
    )
    assert not keys & ep.gone
    now = env.agents
    assert set(now) <= keys, "an agent joined or came back within the episode"
    for agent in acted:
        t, u = term[agent], trunc[agent]
        assert isinstance(t, (bool, np.bool_)) and isinstance(u, (bool, np.bool_))
        assert (agent not in now) == bool(t or u), (agent, t, u, now)
        r = rew[agent]
        assert isinstance(r, (float, np.floating)) and math.isfinite(r), (agent, r)
        ep.expect[agent].check(agent, obs[agent], infos[agent])
        if agent not in now:
            ep.gone.add(agent)
    ep.check_state()


# -- actions ---------------------------------------------------------------------------------------
_LEGAL: dict[bytes, tuple[int, ...]] = {}


def legal_actions(
    env: ParallelEnv, infos: dict[str, Any], rng: np.random.Generator, style: str
) -> dict[str, int]:
    """One legal action per live agent (from its ``action_mask``) in the style of
    :class:`_strategies.ActionStream`: uniform, boundary (the first or last legal action),
    mixed (boundary one time in two) or constant (the last legal action, the no-op)."""
    out = {}
    for agent in env.agents:
        mask = infos[agent].get("action_mask") if agent in infos else None
        if mask is None:
            legal: Any = range(int(env.action_space(agent).n))
        else:
            key = np.asarray(mask, dtype=bool).tobytes()
            legal = _LEGAL.get(key)
            if legal is None:
                legal = _LEGAL[key] = tuple(np.flatnonzero(mask).tolist())
        u = rng.random()
        if style == "constant":
            out[agent] = legal[-1]
        elif style == "boundary" or (style == "mixed" and u < 0.5):
            out[agent] = legal[0] if rng.random() < 0.5 else legal[-1]
        else:
            out[agent] = legal[int(u * len(legal))]
    return out


def freeze(out: tuple) -> tuple:
    """A comparable record of a reset or step (arrays as bytes; tasks by their ids, which are
    compared, and checked against the set by :class:`Expect`)."""
    return tuple(
        tuple(
            (
                k,
                tuple((key, _frozen(x)) for key, x in v.items())
                if type(v) is not np.ndarray and isinstance(v, dict)
                else _frozen(v),
            )
            for k, v in d.items()
        )
        for d in out
    )


def _frozen(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return (x.dtype.str, x.tobytes())
    if isinstance(x, (int, float, bool, str, np.generic)) or x is None:
        return x
    return type(x).__name__


def record(out: tuple) -> tuple:
    """A light record of a reset or step for replay comparisons: observations as bytes, the
    other dicts' values, the task id of each agent (the rest of the infos is checked by
    :class:`Expect` at every step)."""
    obs, infos = out[0], out[-1]
    return (
        tuple((k, o.tobytes() if isinstance(o, np.ndarray) else o) for k, o in obs.items()),
        *(tuple(d.items()) for d in out[1:-1]),
        tuple((k, i.get("task_id")) for k, i in infos.items()),
    )


def play(
    env: ParallelEnv, seed: int, stream: Any, steps: int, check: bool = True
) -> tuple[list[tuple], list[int]]:
    """A multi-episode rollout (first reset seeded) checking every invariant; returns the
    records and the task id of every episode."""
    an = Anatomy(env) if check else None
    rng = np.random.default_rng(stream.seed)
    out = env.reset(seed=seed)
    records = [record(out)]
    task_ids = [_task_of(env, out[1])]
    ep = Episode(an, *out) if an is not None else None
    infos = out[1]
    for _ in range(steps):
        if not env.agents:
            out = env.reset()
            records.append(record(out))
            task_ids.append(_task_of(env, out[1]))
            ep = Episode(an, *out) if an is not None else None
            infos = out[1]
            continue
        acted = list(env.agents)
        step = env.step(legal_actions(env, infos, rng, stream.style))
        if ep is not None:
            check_step(ep, acted, step)
        records.append(record(step))
        infos = step[-1]
    return records, task_ids


def _task_of(env: ParallelEnv, infos: dict[str, Any]) -> int:
    return int(next(iter(infos.values()))["task_id"])


# -- 1. MultiTaskEnv over drawn capture tasks, every sampler, padding and indicators ---------------
def _schedule(n: int, episode: int) -> int:
    """A curriculum schedule: task ``3 * episode mod n`` (module level: picklable)."""
    return (3 * episode) % n


# Strategies are built once: building them inside each draw costs more than the rollout.
_PROB = st.floats(0.0, 1.0)  # hypothesis draws 0, 1 and other edge values often
_POLICY = st.one_of(
    st.sampled_from(sorted(TARGET_POLICIES.values())),
    st.lists(st.integers(0, 10), min_size=5, max_size=5)
    .filter(lambda w: sum(w) > 0)
    .map(lambda w: tuple(x / sum(w) for x in w)),
)
_HORIZON = st.one_of(st.integers(1, 8), st.none())
_PERMUTATIONS = {n: st.permutations(range(n)) for n in range(1, 4)}
_SMALL = {
    "grid": st.integers(2, 5),
    "agents": st.integers(1, 3),
    "n_tasks": st.integers(1, 3),
    "variant": st.sampled_from(["mast", "mamt"]),
    "sampler": st.sampled_from(["uniform", "round_robin", "weighted", "fixed", "curriculum"]),
    "weights": {
        n: st.lists(st.integers(0, 4), min_size=n, max_size=n).filter(lambda v: sum(v) > 0)
        for n in range(1, 4)
    },
    "slot": {n: st.integers(0, n - 1) for n in range(1, 4)},
    "sampler_seed": st.one_of(st.none(), st.integers(0, 2**31 - 1)),
    "bool": st.booleans(),
    "encoding": st.sampled_from(["coords", "onehot"]),
    "indicator": st.sampled_from([None, "onehot", "context"]),
}


@st.composite
def small_capture_tasks(draw: Any, variant: str) -> CaptureTask:
    """A valid capture task of ``variant`` kept small for rollouts (sides 2..5, 1..3 agents,
    horizons <= 12 or the default); every other field over its documented range."""
    m, n = draw(_SMALL["grid"]), draw(_SMALL["agents"])
    kwargs: dict[str, Any] = {
        "flicker": draw(_PROB),
        "slip": draw(_PROB),
        "evasive": draw(_PROB),
        "target_policy": draw(_POLICY),
        "horizon": draw(_HORIZON),
    }
    if variant == "mast":
        return CaptureTask.mast(m, n, **kwargs)
    return CaptureTask.mamt(m, n, assignment=tuple(draw(_PERMUTATIONS[n])), **kwargs)


_TASKS = {v: small_capture_tasks(v) for v in ("mast", "mamt")}


@st.composite
def capture_stacks(draw: Any) -> tuple[ParallelEnv, str, Any, int | None]:
    """A MultiTaskEnv over 1-3 drawn capture tasks, a drawn sampler and sampler seed, padding or
    not, observation encoding, agent and task indicators or not."""
    variant = draw(_SMALL["variant"])
    tasks: list[CaptureTask] = []
    for _ in range(draw(_SMALL["n_tasks"])):
        task = draw(_TASKS[variant])
        if task not in tasks:
            tasks.append(task)
    n = len(tasks)
    kind = draw(_SMALL["sampler"])
    sampler: str | TaskSampler = kind
    if kind == "weighted":
        w = draw(_SMALL["weights"][n])  # type: ignore[index]
        sampler = weighted([x / sum(w) for x in w])
    elif kind == "fixed":
        sampler = fixed(draw(_SMALL["slot"][n]))  # type: ignore[index]
    elif kind == "curriculum":
        sampler = curriculum(functools.partial(_schedule, n))
    seed = draw(_SMALL["sampler_seed"])
    env: ParallelEnv = MultiTaskEnv.from_task_set(
        f"{variant}_v0",
        tasks,
        sampler,
        seed,
        pad=draw(_SMALL["bool"]),
        obs_encoding=draw(_SMALL["encoding"]),
    )
    if draw(_SMALL["bool"]):
        env = AgentIndicator(env)
    indicator = draw(_SMALL["indicator"])
    if indicator == "onehot":
        env = TaskIndicator(env)
    elif indicator == "context":
        env = TaskIndicator(env, context=_capture_context)
    return env, kind, sampler, seed


@given(stack=capture_stacks(), seed=seeds(), stream=action_streams(), steps=st.integers(1, 12))
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_multitask_capture_stacks_keep_every_invariant(
    stack: tuple[ParallelEnv, str, Any, int | None], seed: int, stream: Any, steps: int
) -> None:
    env, kind, sampler, _ = stack
    _, task_ids = play(env, seed, stream, steps)
    n = len(env.unwrapped.task_set)
    # the task stream follows the sampler (reseeded by the seeded first reset)
    if kind == "round_robin":
        assert task_ids == [k % n for k in range(len(task_ids))]
    elif kind == "fixed":
        assert set(task_ids) == {sampler.index}
    elif kind == "curriculum":
        assert task_ids == [(3 * k) % n for k in range(len(task_ids))]
    elif kind == "weighted":
        assert all(sampler.p[t] > 0 for t in task_ids)


# -- 2. pooled heterogeneous stacks: invariants, pickling mid-episode, determinism --------------
@given(
    kind=st.sampled_from(sorted(STACKS)),
    seed=seeds(),
    stream=action_streams(),
    steps=st.integers(1, MAX_STEPS),
    cut=st.integers(0, MAX_STEPS),
)
def test_pooled_stacks_keep_every_invariant_pickle_and_replay(
    kind: str, seed: int, stream: Any, steps: int, cut: int
) -> None:
    env = pooled(kind)
    steps = min(steps, SLOW.get(kind, steps))
    records, _ = play(env, seed, stream, steps)
    # same seed, same trajectory: also after the pooled env played other examples
    assert play(env, seed, stream, steps, check=False)[0] == records
    if kind not in PICKLED:
        return
    # pickled mid-episode, the copy continues exactly like the original
    rng = np.random.default_rng(stream.seed)
    out = env.reset(seed=seed)
    for _ in range(min(cut, steps)):
        if not env.agents:
            break
        out = env.step(legal_actions(env, out[-1], rng, stream.style))
    if not env.agents:
        return
    clone = pickle.loads(pickle.dumps(env))
    assert clone.agents == env.agents
    infos = out[-1]
    for _ in range(steps):
        if not env.agents:
            assert not clone.agents
            a, b = env.reset(), clone.reset()
            assert freeze(a) == freeze(b)
            infos = a[-1]
            continue
        actions = legal_actions(env, infos, rng, stream.style)
        a, b = env.step(dict(actions)), clone.step(dict(actions))
        assert freeze(a) == freeze(b)
        if hasattr(env, "state_space"):
            assert env.state().tobytes() == clone.state().tobytes()
        infos = a[-1]


# -- 3. fused padding equals the padding wrappers by hand; explicit padding unpads exactly ------
@functools.cache
def by_hand(kind: str) -> tuple[ParallelEnv, ParallelEnv]:
    """(fused, manual): ``MultiTaskEnv(pad=True)`` over the pooled stack's slots, and the same
    slots padded by stacking PadObservations / PadActions / PadAgents per slot."""
    fused = Anatomy(STACKS[kind]()).mt
    assert fused is not None and fused.padded_envs is not None
    box, state = fused.observation_space("agent_0"), fused.state_space
    assert isinstance(box, gymnasium.spaces.Box)
    act = fused.action_space("agent_0")
    assert isinstance(act, gymnasium.spaces.Discrete)
    n_act, n = int(act.n), len(fused.possible_agents)
    again = Anatomy(STACKS[kind]()).mt
    assert again is not None
    invalid = fused.padded_envs[0].env.invalid_action
    slots = []
    seen: dict[int, ParallelEnv] = {}
    for env, options in zip(again.slot_envs, again.slot_options, strict=True):
        if id(env) not in seen:
            pobs = PadObservations(env, box, state_target=state)
            seen[id(env)] = PadAgents(PadActions(pobs, n_act, invalid_action=invalid), n)
        slots.append((seen[id(env)], dict(options)))
    manual = MultiTaskEnv(slots, fused.sampler, fused.sampler_seed, tasks=fused.task_set)
    return fused, manual


@given(
    kind=st.sampled_from(["hetero", "drone_mix", "mpe_group", "explicit_pads"]),
    seed=seeds(),
    stream=action_streams(),
    steps=st.integers(1, MAX_STEPS),
)
def test_padding_is_exact_against_a_twin(kind: str, seed: int, stream: Any, steps: int) -> None:
    steps = min(steps, SLOW.get(kind, steps))
    if kind == "explicit_pads":
        padded, raw = pooled(kind), pooled("raw_corridor_twin")
    else:
        padded, raw = by_hand(kind)
    an = Anatomy(padded)
    rng = np.random.default_rng(stream.seed)
    a, b = padded.reset(seed=seed), raw.reset(seed=seed)
    for _ in range(steps + 1):
        if kind == "explicit_pads":
            # unpadding gives the raw env's values back bit for bit; dummies never appear
            assert an.pobs is not None and an.pagents is not None
            assert set(a[0]) == set(b[0]) and not set(a[0]) & set(an.pagents.padded_agents)
            for agent, o in a[0].items():
                u = an.pobs.unpad(agent, o)
                assert u.dtype == b[0][agent].dtype and u.tobytes() == b[0][agent].tobytes()
            for d, e in zip(a[1:-1], b[1:-1], strict=True):
                assert d == e
            assert padded.state().tobytes() == raw.state().tobytes()
        else:
            assert freeze(a) == freeze(b)
            assert padded.state().tobytes() == raw.state().tobytes()
        if not padded.agents:
            assert not raw.agents
            a, b = padded.reset(), raw.reset()
            continue
        actions = legal_actions(padded, a[-1], rng, stream.style)
        a, b = padded.step(dict(actions)), raw.step(dict(actions))


STACKS["raw_corridor_twin"] = _corridor_float


# -- 4. SyncVectorEnv over the stacks agrees with plain copies -------------------------------------
B = 2


@functools.cache
def sync(kind: str) -> SyncVectorEnv:
    return SyncVectorEnv(STACKS[kind], num_envs=B)


def _encode(space: gymnasium.spaces.Space, obs: Any) -> np.ndarray:
    if isinstance(space, gymnasium.spaces.Discrete):
        return np.eye(int(space.n), dtype=np.float32)[int(obs) - int(space.start)]
    return np.asarray(obs, dtype=np.float32)


def _check_rows(
    venv: SyncVectorEnv,
    b: int,
    twin: ParallelEnv,
    obs: np.ndarray,
    info: dict[str, Any],
    t_obs: dict[str, Any],
    t_info: dict[str, Any],
) -> None:
    """Row ``b`` of a batched observation and masks against copy ``twin``."""
    space = twin.observation_space(twin.possible_agents[0])
    n_act = int(venv.single_action_space.n)
    for i, agent in enumerate(venv.possible_agents):
        live = agent in twin.agents
        assert info["agent_mask"][b, i] == live
        if live:
            assert np.array_equal(obs[b, i], _encode(space, t_obs[agent]))
            mask = t_info[agent].get("action_mask")
            want = np.ones(n_act, bool) if mask is None else np.asarray(mask, bool)
            assert np.array_equal(info["action_mask"][b, i], want)
        else:
            assert not obs[b, i].any()
            assert np.array_equal(info["action_mask"][b, i], np.arange(n_act) == n_act - 1)
    state = np.asarray(twin.state(), np.float32) if hasattr(twin, "state_space") else np.zeros(0)
    assert np.array_equal(info["state"][b], state)


@given(
    kind=st.sampled_from(BATCHABLE),
    seed=st.integers(0, 2**31),
    stream=action_streams(),
    steps=st.integers(1, 8),
)
def test_sync_vector_env_over_stacks_replays_plain_copies(
    kind: str, seed: int, stream: Any, steps: int
) -> None:
    steps = min(steps, SLOW.get(kind, steps))
    venv = sync(kind)
    twins = [pooled(kind, c) for c in range(B)]
    slot = {a: i for i, a in enumerate(venv.possible_agents)}
    rng = np.random.default_rng(stream.seed)
    obs, info = venv.reset(seed=seed)
    assert obs.shape == (B, venv.num_agents, venv.single_observation_space.shape[0])
    assert obs.dtype == np.float32
    for b, twin in enumerate(twins):
        t_obs, t_info = twin.reset(seed=seed + b)
        assert info["task_id"][b] == _task_of(twin, t_info)
        _check_rows(venv, b, twin, obs, info, t_obs, t_info)
    returns = np.zeros((B, venv.num_agents))
    for _ in range(steps):
        mask = info["action_mask"]
        acts = np.zeros((B, venv.num_agents), dtype=np.int64)
        for b in range(B):
            for i in range(venv.num_agents):
                acts[b, i] = rng.choice(np.flatnonzero(mask[b, i]))
        obs, rew, term, trunc, info = venv.step(acts)
        assert obs.dtype == np.float32 and rew.dtype == np.float32
        for b, twin in enumerate(twins):
            live = list(twin.agents)
            t_obs, t_rew, t_term, t_trunc, t_info = twin.step(
                {a: int(acts[b, slot[a]]) for a in live}
            )
            for a in live:
                i = slot[a]
                assert rew[b, i] == np.float32(t_rew[a])
                assert term[b, i] == t_term[a] and trunc[b, i] == t_trunc[a]
                returns[b, i] += np.float32(t_rew[a])
            ended = not twin.agents
            assert info["_final"][b] == ended
            if ended:
                for a in live:
                    want = _encode(twin.observation_space(a), t_obs[a])
                    assert np.array_equal(info["final_obs"][b, slot[a]], want)
                ep = info["episode"]
                assert ep["mask"][b] and ep["task_id"][b] == info["final_info"]["task_id"][b]
                np.testing.assert_allclose(ep["r"][b], returns[b], rtol=1e-5, atol=1e-5)
                returns[b] = 0.0
                t_obs, t_info = twin.reset()
                assert info["task_id"][b] == _task_of(twin, t_info)
            _check_rows(venv, b, twin, obs, info, t_obs, t_info)


# -- 5. the SB3 bridge over the stacks agrees with plain copies -----------------------------------
@functools.cache
def bridge(kind: str) -> Any:
    from wrappers.sb3 import to_sb3_vec_env

    return to_sb3_vec_env(STACKS[kind], n_copies=B)


def _live(twin: ParallelEnv, infos: dict[str, Any]) -> list[str]:
    return [a for a in twin.agents if infos.get(a, {}).get("agent_mask", True) is not False]


def _check_slots(venv: Any, twins: list[ParallelEnv], obs: np.ndarray, state: list) -> None:
    """Observations, masks and live flags of every SB3 index against the copies."""
    masks, live_mask = venv.action_masks(), venv.live_mask
    n = venv.n_agents
    for c, twin in enumerate(twins):
        t_obs, t_info = state[c]
        live = set(_live(twin, t_info))
        for i, agent in enumerate(venv.possible_agents):
            k = c * n + i
            assert live_mask[k] == (agent in live)
            if agent in live:
                assert np.array_equal(obs[k], np.asarray(t_obs[agent], dtype=obs.dtype))
                m = t_info[agent].get("action_mask")
                want = np.ones(masks.shape[1], bool) if m is None else np.asarray(m, bool)
                assert np.array_equal(masks[k], want)
            else:
                assert np.array_equal(obs[k], venv.filler_obs)
                assert np.array_equal(masks[k], np.arange(masks.shape[1]) == venv.noop_action)


@given(
    kind=st.sampled_from(BATCHABLE),
    seed=st.integers(0, 2**31),
    stream=action_streams(),
    steps=st.integers(1, 8),
)
def test_sb3_bridge_over_stacks_replays_plain_copies(
    kind: str, seed: int, stream: Any, steps: int
) -> None:
    steps = min(steps, SLOW.get(kind, steps))
    venv = bridge(kind)
    twins = [pooled(kind, c) for c in range(B)]
    n = venv.n_agents
    rng = np.random.default_rng(stream.seed)
    venv.seed(seed)
    obs = venv.reset()
    state = [twin.reset(seed=seed + c) for c, twin in enumerate(twins)]
    _check_slots(venv, twins, obs, state)
    ret = np.zeros(venv.num_envs)
    length = np.zeros(venv.num_envs, dtype=np.int64)
    for _ in range(steps):
        masks = venv.action_masks()
        acts = np.array([rng.choice(np.flatnonzero(m)) for m in masks], dtype=np.int64)
        fill = ~venv.live_mask
        # what SB3 picks for a filler index is never sent to the env: any action will do
        acts[fill] = rng.integers(0, masks.shape[1], int(fill.sum()))
        live_before = venv.live_mask
        obs, rew, dones, infos = venv.step(acts)
        for c, twin in enumerate(twins):
            live = _live(twin, state[c][1])
            slot = {a: i for i, a in enumerate(venv.possible_agents)}
            t_obs, t_rew, t_term, t_trunc, t_info = twin.step(
                {a: int(acts[c * n + slot[a]]) for a in live}
            )
            for i, agent in enumerate(venv.possible_agents):
                k = c * n + i
                if not live_before[k]:
                    assert rew[k] == 0.0 and dones[k] and infos[k]["filler"] is True
                    assert "episode" not in infos[k] and "terminal_observation" not in infos[k]
                    continue
                assert rew[k] == np.float32(t_rew[agent])
                ret[k] += float(t_rew[agent])
                length[k] += 1
                over = bool(t_term[agent] or t_trunc[agent] or agent not in twin.agents)
                assert dones[k] == over
                if over:
                    info = infos[k]
                    assert info["TimeLimit.truncated"] == (
                        bool(t_trunc[agent]) and not bool(t_term[agent])
                    )
                    assert np.array_equal(
                        info["terminal_observation"], np.asarray(t_obs[agent], obs.dtype)
                    )
                    assert info["episode"]["l"] == length[k]
                    assert info["episode"]["task_id"] == int(t_info[agent]["task_id"])
                    assert abs(info["episode"]["r"] - round(ret[k], 6)) < 1e-5
                    ret[k], length[k] = 0.0, 0
            if not _live(twin, t_info):
                state[c] = twin.reset()
            else:
                state[c] = (t_obs, t_info)
        _check_slots(venv, twins, obs, state)


# -- 6. SuperSuit's frame stack on top of a stack -------------------------------------------------
@functools.cache
def frame_stacked(kind: str, k: int) -> ParallelEnv:
    import supersuit

    return supersuit.frame_stack_v2(STACKS[kind](), k)


@given(
    kind=st.sampled_from(["hetero", "context", "explicit_pads"]),
    k=st.integers(2, 4),
    seed=seeds(),
    stream=action_streams(),
    steps=st.integers(1, MAX_STEPS),
)
def test_supersuit_frame_stack_on_a_stack_keeps_infos_and_stacks_exactly(
    kind: str, k: int, seed: int, stream: Any, steps: int
) -> None:
    env, twin = frame_stacked(kind, k), pooled(kind)
    rng = np.random.default_rng(stream.seed)
    a, b = env.reset(seed=seed), twin.reset(seed=seed)
    history: dict[str, list[np.ndarray]] = {}
    for _ in range(steps + 1):
        for agent, o in b[0].items():
            frames = history.setdefault(agent, [])
            frames.append(np.asarray(o))
            # SuperSuit fills the stack with the episode's first observation
            recent = [frames[0]] * (k - len(frames)) + frames[-k:]
            want = np.concatenate(recent)
            got = a[0][agent]
            assert got.dtype == o.dtype and env.observation_space(agent).contains(got)
            assert np.array_equal(got, want), (agent, got, want)
        assert freeze(a[1:]) == freeze(b[1:])  # rewards, flags and infos pass through untouched
        if not twin.agents:
            assert not env.agents
            a, b = env.reset(), twin.reset()
            history = {}
            continue
        actions = legal_actions(twin, b[-1], rng, stream.style)
        a, b = env.step(dict(actions)), twin.step(dict(actions))


# -- 7. RecordEpisodes passes everything through and records the triggered episodes ----------------
def recorded_chain() -> ParallelEnv:
    tasks = [ChainTask(1, horizon=3), ChainTask(2, horizon=2)]
    return MultiTaskEnv.from_task_set("chain_v0", tasks, mode="sampled", render_mode="rgb_array")


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videos")


class Recorder:
    """A recording stack, its plain twin, and the episodes the trigger asks for."""

    def __init__(self, folder: str) -> None:
        self.calls: list[int] = []
        self.record: frozenset[int] = frozenset()
        self.env = RecordEpisodes(
            recorded_chain(), folder, episode_trigger=self.trigger, name_prefix="prop"
        )
        self.twin = recorded_chain()

    def trigger(self, i: int) -> bool:
        self.calls.append(i)
        return i in self.record


@functools.cache
def recorder(folder: str) -> Recorder:
    return Recorder(folder)


@given(
    seed=seeds(),
    stream=action_streams(),
    episodes=st.integers(1, 4),
    # about one example in 40 writes a GIF (a GIF costs ~0.1 s)
    record=st.sampled_from([frozenset[int]()] * 39 + [frozenset({0})]),
)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_record_episodes_is_transparent_and_saves_the_triggered_episodes(
    video_dir: Path, seed: int, stream: Any, episodes: int, record: frozenset[int]
) -> None:
    rec = recorder(str(video_dir))
    env, twin = rec.env, rec.twin
    rec.record = record
    rec.calls.clear()
    env.episode = -1  # episode indices restart for this example
    saved = len(env.saved)
    rng = np.random.default_rng(stream.seed)
    lengths = []
    for e in range(episodes):
        s = seed if e == 0 else None
        a, b = env.reset(seed=s), twin.reset(seed=s)
        assert freeze(a) == freeze(b)
        infos = b[-1]
        steps = 0
        while twin.agents:
            actions = legal_actions(twin, infos, rng, stream.style)
            c, d = env.step(dict(actions)), twin.step(dict(actions))
            assert freeze(c) == freeze(d) and env.agents == twin.agents
            infos = d[-1]
            steps += 1
        lengths.append(steps)
    assert rec.calls == list(range(episodes))
    new = env.saved[saved:]
    assert [p.name for p in new] == [f"prop-{i:05d}.gif" for i in sorted(record)]
    for path, i in zip(new, sorted(record), strict=True):
        with Image.open(path) as img:
            # the reset frame, one per step and the held last frame (a GIF merges equal
            # consecutive frames, so at most that many)
            assert 1 <= getattr(img, "n_frames", 1) <= lengths[i] + 1 + HOLD_FRAMES


def test_pooled_stacks_are_what_the_docs_describe() -> None:
    """The pooled stacks cover what docs/wrappers.md lists: padding with all three masks,
    both indicators, a padded action set, Discrete observations, the MPE group."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        het = Anatomy(pooled("hetero"))
        assert het.mt is not None and het.mt.pad and len(het.mt.possible_agents) == 3
        assert [type(w) for w in het.tails] == [AgentIndicator]
        mix = Anatomy(pooled("drone_mix"))
        assert mix.mt is not None and mix.mt.action_space("agent_0") == gymnasium.spaces.Discrete(
            25
        )
        assert mix.mt.padded_envs is not None
        assert mix.mt.padded_envs[0].env.n_actions["agent_0"] == 5
        group = Anatomy(pooled("mpe_group"))
        assert [type(w) for w in group.tails] == [AgentIndicator, TaskIndicator]
        chain = pooled("chain")
        assert isinstance(chain.observation_space("agent_0"), gymnasium.spaces.Discrete)
        ctx = Anatomy(pooled("context"))
        assert ctx.mt is not None and not ctx.mt.pad and ctx.tails[0].context is not None
