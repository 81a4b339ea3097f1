"""Padding wrappers: exact round trips, exact masks, dummy agents that never act, bad input.

``ToyEnv`` (also used by the other ``test_wrappers_*`` files) is a small heterogeneous ParallelEnv:
agents with different observation sizes and action counts, optional action masks in infos,
agents that terminate on their own, and a record of the actions it received.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pettingzoo import ParallelEnv

import mt_envs
from mt_envs.test import check_env
from wrappers import (
    PadActions,
    PadAgents,
    PadObservations,
    action_mask,
    observation_mask,
    pad_observation,
    padded_box,
    padded_discrete,
    unpad_action,
    unpad_observation,
)


class ToyEnv(ParallelEnv):
    """Agents with their own observation sizes and action counts; seeded; records actions.

    Each step, agent ``a`` observes fresh uniform floats; its reward is ``action / 10``; with
    ``deaths`` it terminates alone with probability 0.1; everyone is truncated after ``horizon``
    steps. With ``masks``, infos carry a random ``int8`` action mask with at least one legal
    action (with ``reuse_masks``, one writable array per agent edited in place each step), and
    taking an illegal action raises.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "toy_v0",
        "render_modes": ["rgb_array"],
        "is_parallelizable": True,
        "render_fps": 4,
    }

    def __init__(
        self,
        names: Sequence[str] = ("speaker", "listener", "mover"),
        obs_sizes: Sequence[int] = (2, 5, 3),
        n_actions: Sequence[int] = (2, 5, 3),
        *,
        masks: bool = False,
        reuse_masks: bool = False,
        deaths: bool = True,
        horizon: int = 12,
        render_mode: str | None = None,
    ) -> None:
        self.possible_agents = list(names)
        self.agents: list[str] = []
        self.render_mode = render_mode
        self.masks, self.deaths, self.horizon = masks, deaths, horizon
        self.reuse_masks = reuse_masks
        self.sizes = dict(zip(names, obs_sizes, strict=True))
        self.n = dict(zip(names, n_actions, strict=True))
        self._obs_spaces = {
            a: gymnasium.spaces.Box(0.0, 1.0, (d,), np.float32) for a, d in self.sizes.items()
        }
        self._act_spaces = {a: gymnasium.spaces.Discrete(n) for a, n in self.n.items()}
        self.state_space = gymnasium.spaces.Box(0.0, 1.0, (sum(obs_sizes),), np.float32)
        self.rng = np.random.default_rng()
        self.received: list[dict[str, Any]] = []
        self._obs: dict[str, np.ndarray] = {}
        self._masks: dict[str, np.ndarray] = {}
        self.t = 0

    def observation_space(self, agent: str) -> gymnasium.spaces.Space:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Space:
        return self._act_spaces[agent]

    def _observe(self) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        self._obs = {
            a: self.rng.random(self.sizes[a], dtype=np.float64).astype(np.float32)
            for a in self.agents
        }
        infos: dict[str, dict[str, Any]] = {a: {"t": self.t} for a in self.agents}
        if self.masks:
            for a in self.agents:
                m = (self.rng.random(self.n[a]) < 0.6).astype(np.int8)
                m[self.rng.integers(self.n[a])] = 1
                if self.reuse_masks and a in self._masks:
                    self._masks[a][:] = m
                else:
                    self._masks[a] = m
                infos[a]["action_mask"] = self._masks[a]
        return dict(self._obs), infos

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.t = 0
        return self._observe()

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        for a, x in actions.items():
            if a not in self.agents:
                raise ValueError(f"ToyEnv: action for {a!r}, which is not live ({self.agents})")
            if not 0 <= int(x) < self.n[a]:
                raise ValueError(f"ToyEnv: action {x} of {a} outside Discrete({self.n[a]})")
            if self.masks and not self._masks[a][int(x)]:
                raise ValueError(f"ToyEnv: masked action {x} of {a}")
        self.received.append(dict(actions))
        self.t += 1
        live = list(self.agents)
        rew = {a: float(actions.get(a, 0)) / 10 for a in live}
        trunc = dict.fromkeys(live, self.t >= self.horizon)
        term = {a: (not trunc[a]) and self.deaths and bool(self.rng.random() < 0.1) for a in live}
        self.agents = [a for a in live if not (term[a] or trunc[a])]
        obs, infos = self._observe()
        for a in live:
            if a not in obs:  # a finished agent gets its last observation and an info
                obs[a] = np.zeros(self.sizes[a], np.float32)
                infos[a] = {"t": self.t}
        return obs, rew, term, trunc, infos

    def state(self) -> np.ndarray:
        return np.concatenate(
            [self._obs.get(a, np.zeros(self.sizes[a], np.float32)) for a in self.possible_agents]
        )

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        frame = np.zeros((8 + 4 * len(self.possible_agents), 16, 3), dtype=np.uint8)
        frame[: 4 * len(self.agents), : self.t + 1] = 200
        return frame

    def close(self) -> None:
        pass


def toy(render_mode: str | None = None, **kwargs: Any) -> ToyEnv:
    return ToyEnv(render_mode=render_mode, **kwargs)


def lockstep(inner: ParallelEnv, wrapped: ParallelEnv, seed: int, steps: int = 200):
    """Yield ``(inner outputs, wrapped outputs, actions)`` of two envs stepped alike.

    ``inner`` is a separate copy of the wrapped env's base, seeded the same; actions are random
    real actions of the live agents.
    """
    rng = np.random.default_rng(seed)
    a = inner.reset(seed=seed)
    b = wrapped.reset(seed=seed)
    yield a, b, None
    for _ in range(steps):
        if not inner.agents:
            assert not wrapped.agents
            a, b = inner.reset(), wrapped.reset()
            yield a, b, None
            continue
        infos = a[-1]
        acts = {}
        for agent in inner.agents:
            mask = infos[agent].get("action_mask")
            legal = np.flatnonzero(mask) if mask is not None else np.arange(inner.n[agent])
            acts[agent] = int(rng.choice(legal))
        a, b = inner.step(acts), wrapped.step(dict(acts))
        yield a, b, acts


# -- helpers ------------------------------------------------------------------------------------
shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), shape=shapes)
def test_pad_unpad_round_trip_is_exact(data: Any, shape: tuple[int, ...]) -> None:
    extra = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape)))
    target = tuple(s + e for s, e in zip(shape, extra, strict=True))
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.int64, np.uint8]))
    obs = data.draw(hnp.arrays(dtype, shape))
    padded = pad_observation(obs, target)
    assert padded.shape == target and padded.dtype == obs.dtype
    back = unpad_observation(padded, shape)
    np.testing.assert_array_equal(back, obs)  # NaNs compare equal here
    assert back.tobytes() == obs.tobytes()
    mask = observation_mask(shape, target)
    assert mask.sum() == obs.size and not np.any(padded[~mask])
    assert padded[mask].tobytes() == obs.reshape(-1).tobytes()  # C order of the real block


@settings(max_examples=30, deadline=None)
@given(batch=hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 6))))
def test_unpad_works_on_batches(batch: np.ndarray) -> None:
    d = batch.shape[1]
    padded = np.stack([pad_observation(row, d + 3) for row in batch])
    assert unpad_observation(padded, d).tobytes() == batch.tobytes()


def test_pad_helpers_refuse_bad_sizes() -> None:
    with pytest.raises(ValueError, match="cannot pad an observation of shape"):
        pad_observation(np.zeros(5), 3)
    with pytest.raises(ValueError, match="must fit inside"):
        unpad_observation(np.zeros(3), 5)
    with pytest.raises(ValueError, match=">= 1"):
        pad_observation(np.zeros(2), 0)
    with pytest.raises(ValueError, match="padded action"):
        unpad_action(4, 3)
    assert unpad_action(np.int64(2), 3) == 2
    with pytest.raises(ValueError, match="expected \\(3,\\)"):
        action_mask(3, 5, np.ones(4))
    np.testing.assert_array_equal(action_mask(3, 5, [1, 0, 1]), [1, 0, 1, 0, 0])
    assert action_mask(3, 5).dtype == np.int8 and not action_mask(3, 5).flags.writeable


def test_padded_box_follows_supersuit_and_checks_input() -> None:
    from supersuit.utils.action_transforms.homogenize_ops import homogenize_spaces

    spaces = [
        gymnasium.spaces.Box(-1.0, 2.0, (3,), np.float32),
        gymnasium.spaces.Box(0.0, 1.0, (5,), np.float32),
        gymnasium.spaces.Box(-np.inf, np.inf, (2,), np.float32),
    ]
    ours, theirs = padded_box(spaces), homogenize_spaces(spaces)
    assert ours == theirs  # same shape, dtype and bounds
    bigger = padded_box(spaces, 7)
    assert bigger.shape == (7,) and all(
        bigger.contains(pad_observation(s.sample(), 7)) for s in spaces
    )
    with pytest.raises(
        ValueError, match=r"smaller than the observation of space 1 \(shape \(5,\)\)"
    ):
        padded_box(spaces, 4)
    with pytest.raises(TypeError, match="padding needs Box"):
        padded_box([gymnasium.spaces.Discrete(3)])
    with pytest.raises(ValueError, match="one dtype"):
        padded_box([spaces[0], gymnasium.spaces.Box(0, 1, (3,), np.float64)])
    assert padded_discrete([gymnasium.spaces.Discrete(2), gymnasium.spaces.Discrete(5)]).n == 5
    with pytest.raises(ValueError, match="smaller than the action space"):
        padded_discrete([gymnasium.spaces.Discrete(5)], 3)
    with pytest.raises(TypeError, match="Discrete"):
        padded_discrete([gymnasium.spaces.Discrete(3, start=1)])


# -- PadObservations ----------------------------------------------------------------------------
def test_pad_observations_exact_masks_and_round_trip() -> None:
    env = PadObservations(toy(), state_target=gymnasium.spaces.Box(0.0, 1.0, (12,), np.float32))
    space = env.observation_space("speaker")
    assert space.shape == (5,) and all(
        env.observation_space(a) is space for a in env.possible_agents
    )
    assert env.state_space.shape == (12,)
    for (o0, *_, i0), (o1, *_, i1), _acts in lockstep(toy(), env, seed=3):
        assert set(o0) == set(o1)
        for agent, o in o0.items():
            d = env.env.sizes[agent]
            assert o1[agent].shape == (5,) and o1[agent].dtype == np.float32
            assert env.unpad(agent, o1[agent]).tobytes() == o.tobytes()
            assert not np.any(o1[agent][d:])
            np.testing.assert_array_equal(i1[agent]["obs_mask"], np.arange(5) < d)
            assert i1[agent]["t"] == i0[agent]["t"]
        if env.agents:
            s = env.state()
            assert s.shape == (12,) and env.unpad_state(s).tobytes() == env.env.state().tobytes()


def test_pad_observations_target_and_errors() -> None:
    assert PadObservations(toy(), 9).observation_space("mover").shape == (9,)
    with pytest.raises(ValueError, match="pad target \\(4,\\) is smaller than the observation of"):
        PadObservations(toy(), 4)
    small = gymnasium.spaces.Box(0.0, 0.5, (5,), np.float32)
    with pytest.raises(ValueError, match="does not contain every padded observation"):
        PadObservations(toy(), small)
    with pytest.raises(TypeError, match="AEC env"):
        PadObservations(mt_envs.make("mamt_v0", aec=True))


# -- PadActions ---------------------------------------------------------------------------------
def test_pad_actions_masks_combine_with_the_env_mask() -> None:
    env = PadActions(toy(masks=True, deaths=False), 6)
    assert env.action_space("speaker") == gymnasium.spaces.Discrete(6)
    for (_o0, *_, i0), (_o1, *_, i1), _acts in lockstep(toy(masks=True, deaths=False), env, 5):
        for agent, info in i0.items():
            n = env.n_actions[agent]
            mask = i1[agent]["action_mask"]
            assert mask.dtype == np.int8 and mask.shape == (6,)
            # the env's own mask where it gives one (finished agents get none: all real actions)
            np.testing.assert_array_equal(mask[:n], info.get("action_mask", np.ones(n)))
            assert not mask[n:].any()


def test_pad_actions_padded_action_becomes_the_documented_noop_or_raises() -> None:
    env = PadActions(toy(deaths=False))  # Discrete(5) for all; speaker has 2 real actions
    base = env.env
    _, infos = env.reset(seed=0)
    np.testing.assert_array_equal(infos["speaker"]["action_mask"], [1, 1, 0, 0, 0])
    env.step({"speaker": 4, "listener": 4, "mover": 2})
    assert base.received[-1] == {"speaker": 0, "listener": 4, "mover": 2}
    with pytest.raises(ValueError, match="outside Discrete\\(5\\)"):
        env.step({"speaker": 5, "listener": 0, "mover": 0})
    strict = PadActions(toy(deaths=False), invalid_action="raise")
    strict.reset(seed=0)
    with pytest.raises(ValueError, match="padded action: the real actions are 0..1"):
        strict.step({"speaker": 3, "listener": 0, "mover": 0})
    assert strict.unpad("mover", 2) == 2
    with pytest.raises(ValueError, match="padded action"):
        strict.unpad("speaker", 2)
    with pytest.raises(ValueError, match="not a real action of every agent"):
        PadActions(toy(), invalid_action=3)
    with pytest.raises(ValueError, match="smaller than the action space of listener"):
        PadActions(toy(), 4)


# -- PadAgents ----------------------------------------------------------------------------------
def test_pad_agents_dummies_never_act_or_appear() -> None:
    inner = PadActions(PadObservations(toy()))
    env = PadAgents(inner, 5)
    assert env.possible_agents == ["speaker", "listener", "mover", "pad_0", "pad_1"]
    assert env.padded_agents == ["pad_0", "pad_1"]
    assert env.observation_space("pad_1") is env.observation_space("speaker")
    assert env.action_space("pad_0") is env.action_space("mover")
    base = inner.env.env
    rng = np.random.default_rng(0)
    obs, infos = env.reset(seed=1)
    for _ in range(300):
        if not env.agents:
            obs, infos = env.reset()
        for dicts in (obs, infos):
            assert not set(dicts) & {"pad_0", "pad_1"}
        assert all(infos[a]["agent_mask"] is True for a in env.agents)
        assert not set(env.agents) & {"pad_0", "pad_1"}
        np.testing.assert_array_equal(
            env.agent_mask(), [a in env.agents for a in env.possible_agents]
        )
        acts = {a: int(rng.integers(5)) for a in [*env.agents, *env.padded_agents]}
        obs, rew, _, _, infos = env.step(acts)
        assert not set(rew) & {"pad_0", "pad_1"}
        assert set(base.received[-1]) <= {"speaker", "listener", "mover"}
    assert env.unpad({"speaker": 1, "pad_0": 2}) == {"speaker": 1}


def test_pad_agents_bad_input() -> None:
    with pytest.raises(ValueError, match="smaller than the env's 3 possible agents"):
        PadAgents(toy(), 2)
    with pytest.raises(ValueError, match="pad first"):
        PadAgents(toy(), 4)
    with pytest.raises(ValueError, match="collide"):
        PadAgents(PadActions(PadObservations(toy(names=("a", "pad_0", "c")))), 5)
    same = PadAgents(PadActions(PadObservations(toy())), 3)  # nothing to add
    assert same.possible_agents == same.real_agents


# -- every padding wrapper passes the checkers, alone and on the capture envs -------------------
PADDERS = {
    "obs": lambda e: PadObservations(e, 20),
    "act": lambda e: PadActions(e, 7),
    "agents": lambda e: PadAgents(e, len(e.possible_agents) + 2),
    "all": lambda e: PadAgents(PadActions(PadObservations(e, 20), 7), len(e.possible_agents) + 1),
}


@pytest.mark.parametrize("kind", list(PADDERS))
def test_padding_wrappers_pass_check_env_on_capture(kind: str) -> None:
    def make(render_mode: str | None = None) -> ParallelEnv:
        return PADDERS[kind](mt_envs.make("mamt_v0", tasks="mamt-3a", render_mode=render_mode))

    check_env(make, num_cycles=120, render=kind == "all")


def test_padding_stack_passes_check_env_on_heterogeneous_toy() -> None:
    def make(render_mode: str | None = None) -> ParallelEnv:
        return PadAgents(PadActions(PadObservations(toy(render_mode)), 6), 4)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "No agents present but not all ..."
        check_env(make, num_cycles=120)


def test_wrappers_keep_their_own_metadata_and_pickle() -> None:
    base = mt_envs.make("mast_v0")
    before = dict(type(base).metadata)
    env = PadAgents(PadActions(PadObservations(base, 9), 6), 3)
    env.metadata["name"] = "changed"
    assert type(base).metadata == before and base.metadata["name"] == "mast_v0"
    env.reset(seed=0)
    clone = pickle.loads(pickle.dumps(env))
    acts = dict.fromkeys(env.agents, 4)
    a, b = env.step(acts), clone.step(dict(acts))
    assert {k: v.tobytes() for k, v in a[0].items()} == {k: v.tobytes() for k, v in b[0].items()}


def test_term_and_trunc_stay_distinct_through_padding() -> None:
    env = PadAgents(PadActions(PadObservations(toy(horizon=30))), 4)
    seen_term = seen_trunc = False
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(400):
        if not env.agents:
            env.reset()
        _, _, term, trunc, _ = env.step({a: int(rng.integers(2)) for a in env.agents})
        assert not any(term[a] and trunc[a] for a in term)
        seen_term |= any(term.values())
        seen_trunc |= any(trunc.values())
    assert seen_term and seen_trunc
