"""The MPE group of paper 001: tasks, good-team env, scripted adversaries, padded group."""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
import sys

import numpy as np
import pytest

from mt_envs.mpe import (
    GoodTeamEnv,
    LandmarkGuesser,
    MPETask,
    PushBlocker,
    RandomOpponent,
    good_agent_names,
    make_opponent,
    move_towards,
    mpe_mkt,
)
from mt_envs.mpe.scripted import goal_seeking_actions
from mt_envs.tasks import TaskSet, task_from_dict
from mt_envs.test import check_env

pytest.importorskip("mpe2")

GAMES = ("speaker_listener", "push", "adversary")
#: Spaces of each game's good agents: (obs size, action count), in possible_agents order.
SPACES = {
    "speaker_listener": {"speaker_0": (3, 3), "listener_0": (11, 5)},
    "push": {"agent_0": (19, 5)},
    "adversary": {"agent_0": (10, 5), "agent_1": (10, 5)},
}
STATE = {"speaker_listener": 14, "push": 27, "adversary": 28}


# -- tasks ---------------------------------------------------------------------------------------
def test_task_names_defaults_and_normalisation():
    assert [MPETask(g).name for g in GAMES] == ["mpe-speaker-listener", "mpe-push", "mpe-adversary"]
    t = MPETask("adversary", max_cycles=40, n_good=3, opponent="random")
    assert t.name == "mpe-adversary-3g-c40-vs-random"
    assert (t.good_count, t.max_steps, t.opponent_policy) == (3, 40, "random")
    assert t.mpe2_kwargs() == {"max_cycles": 40, "continuous_actions": False, "N": 3}
    # game defaults are stored as None, so replace() of the game keeps a valid task
    assert MPETask("adversary", n_good=2, opponent="scripted") == MPETask("adversary")
    assert MPETask("push", n_good=1).n_good is None
    push = dataclasses.replace(MPETask("adversary"), game="push")
    assert push == MPETask("push") and push.opponent_policy == "scripted"
    assert MPETask("speaker_listener").opponent_policy is None
    assert MPETask("push").mpe2_kwargs() == {"max_cycles": 25, "continuous_actions": False}
    assert [t.good_count for t in mpe_mkt()] == [2, 1, 2]


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"game": "spread"}, KeyError, "Valid names"),
        ({"game": "pusj"}, KeyError, "'push'"),
        ({"game": "push", "max_cycles": 0}, ValueError, "max_cycles=0"),
        ({"game": "push", "max_cycles": True}, ValueError, "[1, 100000]"),
        ({"game": "push", "max_cycles": 2.5}, ValueError, "max_cycles=2.5"),
        ({"game": "push", "n_good": 2}, ValueError, "always has 1"),
        ({"game": "speaker_listener", "n_good": 3}, ValueError, "leave n_good=None"),
        ({"game": "adversary", "n_good": 0}, ValueError, "[1, 8]"),
        ({"game": "adversary", "n_good": 9}, ValueError, "n_good=9"),
        ({"game": "speaker_listener", "opponent": "random"}, ValueError, "no adversary"),
        ({"game": "push", "opponent": "smart"}, KeyError, "scripted"),
    ],
)
def test_bad_tasks_say_what_to_change(kwargs, error, words):
    with pytest.raises(error) as info:
        MPETask(**kwargs)
    assert words in str(info.value)


def test_task_json_round_trip():
    tasks = [*mpe_mkt(), MPETask("adversary", n_good=4, max_cycles=7, opponent="noop")]
    for t in tasks:
        back = task_from_dict(json.loads(t.to_json()))
        assert back == t and back.name == t.name and type(back) is MPETask
    ts = mpe_mkt()
    assert TaskSet.from_dict(json.loads(json.dumps(ts.to_dict()))) == ts
    assert ts.names == ["mpe-speaker-listener", "mpe-push", "mpe-adversary"]
    with pytest.raises(ValueError, match="unknown field"):
        MPETask.from_dict({"family": "mpe", "game": "push", "N": 2})


def test_mpe_mkt_is_registered_without_importing_mpe2():
    code = (
        "import sys, mt_envs; ts = mt_envs.task_sets.get('mpe-mkt'); "
        "assert [t.game for t in ts] == ['speaker_listener', 'push', 'adversary'], ts; "
        "bad = [m for m in ('mpe2', 'pygame', 'torch') if m in sys.modules]; assert not bad, bad"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_missing_mpe2_says_how_to_install(monkeypatch):
    for name in [m for m in sys.modules if m == "mpe2" or m.startswith("mpe2.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mpe2", None)  # what an uninstalled package looks like
    with pytest.raises(ImportError, match=r'pip install "mt-envs\[mpe\]"'):
        GoodTeamEnv("push")


# -- the good-team env ---------------------------------------------------------------------------
@pytest.mark.parametrize("game", GAMES)
def test_good_team_spaces_agents_and_metadata(game):
    env = GoodTeamEnv(MPETask(game))
    assert env.possible_agents == list(SPACES[game]) == list(good_agent_names(env.task))
    for agent, (d, n) in SPACES[game].items():
        assert env.observation_space(agent).shape == (d,)
        assert env.observation_space(agent).dtype == np.float32
        assert env.action_space(agent).n == n
    assert env.state_space.shape == (STATE[game],)
    assert env.metadata["name"] == f"mpe_{game}_good_team_v0"
    # mpe2's envs share one class-level metadata dict; ours is a separate dict, never mutated
    other = GoodTeamEnv("speaker_listener" if game != "speaker_listener" else "push")
    assert env.metadata["name"] == f"mpe_{game}_good_team_v0"
    assert env.metadata is not other.metadata
    assert env.metadata is not type(env._raw).metadata
    assert type(env).metadata["name"] == "mpe_good_team_v0"


def test_adversary_sizes_follow_n_good():
    env = GoodTeamEnv(MPETask("adversary", n_good=3))
    assert env.possible_agents == ["agent_0", "agent_1", "agent_2"]
    assert env.observation_space("agent_2").shape == (14,)  # goal 2 + landmarks 6 + others 6
    obs, infos = env.reset(seed=3)
    assert set(obs) == set(infos) == set(env.possible_agents)
    assert env.opponent is not None and env.opponent.n_good == 3  # type: ignore[attr-defined]


@pytest.mark.parametrize("game", GAMES)
def test_good_team_env_passes_check_env(game):
    # Human rendering sleeps in pygame's clock: render on one game only (all modes are equal).
    check_env(
        functools.partial(GoodTeamEnv, MPETask(game, max_cycles=20)),
        num_cycles=120,
        render=game == "push",
    )


def test_other_settings_pass_check_env():
    task = MPETask("adversary", n_good=3, max_cycles=9, opponent="random")
    check_env(functools.partial(GoodTeamEnv, task), num_cycles=80, render=False)


@pytest.mark.parametrize("game", GAMES)
def test_every_episode_is_truncated_at_max_cycles(game):
    env = GoodTeamEnv(MPETask(game, max_cycles=7))
    rng = np.random.default_rng(0)
    env.reset(seed=1)
    for _ in range(3):
        env.reset()
        for t in range(1, 8):
            assert env.agents == env.possible_agents
            acts = {a: int(rng.integers(env.action_space(a).n)) for a in env.agents}
            _, rew, term, trunc, _ = env.step(acts)
            assert set(rew) == set(term) == set(trunc) == set(env.possible_agents)
            assert all(type(v) is bool and v is False for v in term.values())
            assert all(v is (t == 7) for v in trunc.values())
            assert all(type(r) is float for r in rew.values())
            assert env.num_steps == t
        assert env.agents == []
        with pytest.raises(RuntimeError, match="call reset"):
            env.step(acts)


@pytest.mark.parametrize("game", GAMES)
def test_good_team_env_equals_mpe2_with_the_scripted_adversary(game):
    """Observations, rewards, flags and state are mpe2's, unchanged, step for step."""
    import importlib

    task = MPETask(game, max_cycles=15)
    mod = importlib.import_module(f"mpe2.{task.env_name}")
    ref = mod.parallel_env(**task.mpe2_kwargs())
    env = GoodTeamEnv(task)
    opponent = make_opponent(game, "scripted") if task.has_adversary else None
    rng = np.random.default_rng(5)
    for seed in (11, 12):
        ref_obs, _ = ref.reset(seed=seed)
        obs, _ = env.reset(seed=seed)
        if opponent is not None:
            opponent.reset(rng)
        while env.agents:
            for a in env.agents:
                np.testing.assert_array_equal(obs[a], ref_obs[a])
            np.testing.assert_array_equal(env.state(), ref.state())
            acts = {a: int(rng.integers(env.action_space(a).n)) for a in env.agents}
            ref_acts = dict(acts)
            if opponent is not None:
                ref_acts["adversary_0"] = opponent(ref_obs["adversary_0"])
            ref_obs, ref_rew, ref_term, ref_trunc, _ = ref.step(ref_acts)
            obs, rew, term, trunc, _ = env.step(acts)
            assert rew == {a: ref_rew[a] for a in rew}
            assert term == {a: ref_term[a] for a in term}
            assert trunc == {a: ref_trunc[a] for a in trunc}
            if opponent is not None:
                assert env.adversary_rewards == {"adversary_0": ref_rew["adversary_0"]}
        assert not ref.agents


def test_actions_are_checked_and_the_adversary_is_not_the_learners():
    env = GoodTeamEnv("push")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="unknown agent"):
        env.step({"agent_0": 1, "adversary_0": 2})
    with pytest.raises(ValueError, match="missing action"):
        env.step({})
    for bad in (5, -1, 1.0, True, "1"):
        with pytest.raises(ValueError, match="agent_0"):
            env.step({"agent_0": bad})
    env.step({"agent_0": np.int64(4)})
    sl = GoodTeamEnv("speaker_listener")
    sl.reset(seed=0)
    with pytest.raises(ValueError, match=r"Discrete\(3\)"):
        sl.step({"speaker_0": 3, "listener_0": 4})
    with pytest.raises(TypeError, match="MPETask"):
        GoodTeamEnv(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="render_mode"):
        GoodTeamEnv("push", render_mode="ansi")


def test_infos_hold_read_only_all_ones_masks():
    env = GoodTeamEnv("speaker_listener")
    _, infos = env.reset(seed=0)
    assert infos["speaker_0"]["action_mask"].tolist() == [1, 1, 1]
    assert infos["listener_0"]["action_mask"].tolist() == [1] * 5
    assert infos["listener_0"]["action_mask"].dtype == np.int8
    assert not infos["listener_0"]["action_mask"].flags.writeable


def test_rendering_survives_another_env_quitting_pygame():
    a = GoodTeamEnv("adversary", render_mode="rgb_array")
    a.reset(seed=0)
    frame = a.render()
    assert frame is not None and frame.shape == (700, 700, 3) and frame.dtype == np.uint8
    import mpe2.simple_v3

    other = mpe2.simple_v3.env()
    other.reset()
    other.close()  # mpe2's close calls pygame.quit()
    np.testing.assert_array_equal(a.render(), frame)
    a.close()


# -- scripted policies ---------------------------------------------------------------------------
def test_move_towards_accelerates_coasts_and_brakes():
    zero = np.zeros(2)
    assert move_towards(zero, zero) == 0  # at rest on the target: stay
    assert move_towards(np.array([1.0, 0.0]), zero) == 2  # +x
    assert move_towards(np.array([-1.0, 0.2]), zero) == 1  # -x
    assert move_towards(np.array([0.1, -2.0]), zero) == 3  # -y
    assert move_towards(np.array([0.0, 0.5]), zero) == 4  # +y
    # moving at 2 towards a target 0.3 ahead would overshoot by 0.5: brake
    assert move_towards(np.array([0.3, 0.0]), np.array([2.0, 0.0])) == 1
    # 0.8 ahead at speed 2: coasting alone comes to rest on it
    assert move_towards(np.array([0.8, 0.0]), np.array([2.0, 0.0])) == 0


def test_push_blocker_heads_for_the_landmark_nearest_the_good_agent():
    policy = PushBlocker()
    # landmark 0 at (-1, 0), landmark 1 at (+1, 0); the good agent stands near landmark 1
    obs = np.array([0, 0, -1, 0, 1, 0, 0.9, 0.1], dtype=np.float32)
    assert policy(obs) == 2
    obs[6:8] = [-0.8, 0.0]
    assert policy(obs) == 1
    with pytest.raises(ValueError, match=r"expected \(8,\)"):
        policy(np.zeros(10))


def test_landmark_guesser_recovers_its_exact_velocity():
    env = GoodTeamEnv(MPETask("adversary", max_cycles=25))
    guesser = env.opponent
    assert isinstance(guesser, LandmarkGuesser)
    rng = np.random.default_rng(0)
    env.reset(seed=4)
    adversary = env._raw.world.agents[0]
    assert adversary.name == "adversary_0"
    errors = []
    while env.agents:
        env.step({a: int(rng.integers(5)) for a in env.agents})
        # the velocity the guesser will use for its next move, from its observation alone
        lm = env._adv_obs[:4].astype(np.float64).reshape(2, 2)
        errors.append(np.abs(guesser.velocity(lm) - adversary.state.p_vel).max())
    assert max(errors) < 1e-5  # float32 observations
    with pytest.raises(ValueError, match=r"expected \(12,\)"):
        LandmarkGuesser(3)(np.zeros(8))


def test_random_opponent_follows_the_env_seed():
    a, b = (
        GoodTeamEnv(MPETask("push", opponent="random")),
        GoodTeamEnv(MPETask("push", opponent="random")),
    )
    assert isinstance(a.opponent, RandomOpponent)
    for env in (a, b):
        env.reset(seed=9)
    for _ in range(20):
        oa, *_ = a.step({"agent_0": 0})
        ob, *_ = b.step({"agent_0": 0})
        np.testing.assert_array_equal(oa["agent_0"], ob["agent_0"])
    assert np.abs(a.state()).sum() > 0


def _returns(task: MPETask, seeds: range, policy: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-episode return of one good agent and of the adversary."""
    env = GoodTeamEnv(task)
    good, adv = [], []
    for seed in seeds:
        rng = np.random.default_rng(seed + 77)
        obs, _ = env.reset(seed=seed)
        g = a = 0.0
        while env.agents:
            if policy == "random":
                acts = {x: int(rng.integers(env.action_space(x).n)) for x in env.agents}
            else:
                acts = goal_seeking_actions(task.game, obs)
            obs, rew, *_ = env.step(acts)
            g += rew[env.possible_agents[0]]
            a += sum(env.adversary_rewards.values())
        good.append(g)
        adv.append(a)
    return np.array(good), np.array(adv)


def _se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / np.sqrt(len(x)))


#: Documented in mt_envs.mpe.scripted (1000 episodes, seeds 0..999): (mean, standard error) of the
#: good agent's and the adversary's return, by (game, opponent, good team).
DOCUMENTED = {
    ("speaker_listener", None, "random"): ((-40.92, 1.03), None),
    ("speaker_listener", None, "seek"): ((-9.12, 0.29), None),
    ("push", "scripted", "random"): ((-28.50, 0.41), (11.48, 0.38)),
    ("push", "random", "random"): ((-28.52, 0.41), (0.72, 0.58)),
    ("push", "scripted", "seek"): ((-8.61, 0.16), (-3.09, 0.20)),
    ("adversary", "scripted", "random"): ((-4.39, 0.34), (-16.88, 0.34)),
    ("adversary", "random", "random"): ((7.47, 0.52), (-28.75, 0.41)),
    ("adversary", "scripted", "seek"): ((3.76, 0.19), (-11.21, 0.21)),
    ("adversary", "random", "seek"): ((21.30, 0.42), (-28.75, 0.41)),
}


def test_documented_returns_hold_on_fresh_seeds():
    """Every documented mean is reproduced on other seeds within a 99.9% bound (z = 3.3), and
    the scripted adversaries beat random ones at their own objective by a significant margin."""
    seeds = range(5000, 5120)
    means = {}
    for (game, opp, team), (good_doc, adv_doc) in DOCUMENTED.items():
        good, adv = _returns(MPETask(game, opponent=opp), seeds, team)
        means[game, opp, team] = (good, adv)
        for x, doc in ((good, good_doc), (adv, adv_doc)):
            if doc is None:
                assert not x.any()
                continue
            bound = 3.3 * np.hypot(doc[1], _se(x))
            assert abs(x.mean() - doc[0]) < bound, (game, opp, team, x.mean(), doc)
    for game in ("push", "adversary"):
        for team in ("random", "seek"):
            if (game, "random", team) not in means:
                continue
            scripted = means[game, "scripted", team][1]
            rand = means[game, "random", team][1]
            gain = scripted.mean() - rand.mean()
            assert gain > 3.3 * np.hypot(_se(scripted), _se(rand)) and gain > 5.0, (game, team)
    # the goal-seeking team is far better than random in every game
    for game, opp in (("speaker_listener", None), ("adversary", "scripted")):
        seek, rand = means[game, opp, "seek"][0], means[game, opp, "random"][0]
        assert seek.mean() - rand.mean() > 3.3 * np.hypot(_se(seek), _se(rand))


# -- the padded group ----------------------------------------------------------------------------
#: Per task id of mpe-mkt: canonical agent -> (real obs size, real action count, slice of the
#: real observation inside the slot env's state, which concatenates every mpe2 agent's obs).
GROUP = {
    0: {"agent_0": (3, 3, slice(0, 3)), "agent_1": (11, 5, slice(3, 14))},
    1: {"agent_0": (19, 5, slice(8, 27))},
    2: {"agent_0": (10, 5, slice(8, 18)), "agent_1": (10, 5, slice(18, 28))},
}


def _group(**kwargs):
    from wrappers.groups import make_group_env

    return make_group_env(mpe_mkt(), **kwargs)


def _check_group_env(env_fn, num_cycles: int = 100, render: bool = False) -> None:
    """Every check of mt_envs.test.check_env but check_truncation, whose assertion that a
    truncating step pays no reward holds for capture tasks only (MPE rewards are dense), and a
    truncation check of our own: every episode ends by truncation at exactly its task's
    max_cycles, none terminates."""
    from pettingzoo.test import api_test, parallel_api_test
    from pettingzoo.utils.conversions import parallel_to_aec

    from mt_envs.test import (
        check_determinism,
        check_pickle,
        check_render,
        check_spaces_and_types,
        check_task_switching,
        random_actions,
    )

    parallel_api_test(env_fn(), num_cycles=num_cycles)
    api_test(parallel_to_aec(env_fn()), num_cycles=num_cycles)
    check_spaces_and_types(env_fn(), steps=num_cycles)
    check_determinism(env_fn, steps=num_cycles)
    check_pickle(env_fn, steps=num_cycles)
    check_task_switching(env_fn)
    if render:
        check_render(env_fn)
    env, rng = env_fn(), np.random.default_rng(0)
    _, infos = env.reset(seed=0)
    for _ in range(9):
        horizon = next(iter(infos.values()))["task"].max_cycles
        for t in range(1, horizon + 1):
            _, _, term, trunc, infos = env.step(random_actions(env, rng, infos))
            assert not any(term.values())
            assert all(v is (t == horizon) for v in trunc.values()), (t, trunc)
        assert env.agents == []
        _, infos = env.reset()


def test_group_env_shapes_the_heterogeneous_tasks_into_one():
    env = _group()
    assert env.possible_agents == ["agent_0", "agent_1"]
    for a in env.possible_agents:
        assert env.observation_space(a).shape == (19,)
        assert env.action_space(a).n == 5
    assert env.state_space.shape == (28,)
    assert env.task_set == mpe_mkt()
    assert env.agent_maps == [
        {"speaker_0": "agent_0", "listener_0": "agent_1"},
        {"agent_0": "agent_0"},
        {"agent_0": "agent_0", "agent_1": "agent_1"},
    ]
    ind = _group(agent_indicator=True, task_indicator=True)
    assert ind.observation_space("agent_1").shape == (19 + 2 + 3,)
    obs, infos = ind.reset(seed=0, options={"task": 0})
    np.testing.assert_array_equal(obs["agent_1"][19:], [0, 1, 1, 0, 0])
    assert infos["agent_0"]["obs_mask"].tolist() == [True] * 3 + [False] * 16 + [True] * 5


def test_group_env_passes_the_env_checks():
    _check_group_env(lambda render_mode=None: _group(seed=0, render_mode=render_mode), render=True)


def test_group_env_with_indicators_passes_the_env_checks():
    _check_group_env(lambda: _group(agent_indicator=True, task_indicator=True), num_cycles=80)


@pytest.mark.parametrize("task_id", [0, 1, 2])
def test_group_masks_are_exactly_right(task_id):
    env = _group(seed=0)
    spec = GROUP[task_id]
    obs, infos = env.reset(seed=task_id, options={"task": task_id})
    slot = env.slot_envs[task_id]
    s_real = slot.state_space.shape[0]
    rng = np.random.default_rng(task_id)
    steps = 0
    while True:
        assert env.agents == list(spec)
        assert set(obs) == set(infos) == set(spec)
        slot_state = slot.state()
        state = env.state()
        np.testing.assert_array_equal(state[:s_real], slot_state)
        assert not state[s_real:].any()
        for a, (d, n, sl) in spec.items():
            info = infos[a]
            assert info["obs_mask"].tolist() == [True] * d + [False] * (19 - d)
            assert info["action_mask"].tolist() == [1] * n + [0] * (5 - n)
            assert info["action_mask"].dtype == np.int8
            assert info["agent_mask"] is True
            assert info["task_id"] == task_id and info["task"] == mpe_mkt()[task_id]
            np.testing.assert_array_equal(obs[a][:d], slot_state[sl])  # the real observation
            assert not obs[a][d:].any()  # padding is zeros
        if not env.agents:
            break
        acts = {a: int(rng.choice(np.flatnonzero(infos[a]["action_mask"]))) for a in env.agents}
        obs, rew, _, trunc, infos = env.step(acts)
        steps += 1
        assert set(rew) == set(spec)
        if any(trunc.values()):
            assert steps == 25
            assert env.agents == [] and infos == {a: infos[a] for a in spec}
            break


def _lockstep(task_id: int, actions_a, actions_b, steps: int = 25, **kwargs) -> None:
    """Two group envs on one seed stay identical under ``actions_a(t)`` and ``actions_b(t)``."""
    a, b = _group(seed=0, **kwargs), _group(seed=0, **kwargs)
    oa, _ = a.reset(seed=7, options={"task": task_id})
    ob, _ = b.reset(seed=7, options={"task": task_id})
    for t in range(steps):
        for agent in oa:
            np.testing.assert_array_equal(oa[agent], ob[agent])
        oa, ra, *_ = a.step(actions_a(t))
        ob, rb, *_ = b.step(actions_b(t))
        assert ra == rb and a.agents == b.agents
        assert "agent_1" not in a.agents or task_id != 1


def test_padded_agents_never_act():
    # push has one real agent: agent_1 is padding, never in agents; an action given for it is
    # dropped, whatever it is
    _lockstep(1, lambda t: {"agent_0": t % 5}, lambda t: {"agent_0": t % 5, "agent_1": 4 - t % 5})
    env = _group(seed=0)
    for _ in range(6):
        env.reset(options={"task": 1})
        while env.agents:
            assert env.agents == ["agent_0"]
            env.step({"agent_0": 2})


def test_padded_actions_are_the_no_op_or_refused():
    # the speaker's actions 3 and 4 are padding: taken anyway, they act as the no-op 0
    _lockstep(
        0,
        lambda t: {"agent_0": 0, "agent_1": t % 5},
        lambda t: {"agent_0": 3 + t % 2, "agent_1": t % 5},
    )
    env = _group(seed=0, invalid_action="raise")
    env.reset(seed=0, options={"task": 0})
    with pytest.raises(ValueError, match="padded action"):
        env.step({"agent_0": 3, "agent_1": 0})
    with pytest.raises(ValueError, match=r"Discrete\(5\)"):
        env.step({"agent_0": 5, "agent_1": 0})


def test_group_env_through_sync_vector_env():
    from mt_envs.test import check_vector_env
    from mt_envs.vector import SyncVectorEnv

    venv = SyncVectorEnv(lambda: _group(), num_envs=3)
    check_vector_env(venv, steps=120)
    assert venv.task_set == mpe_mkt()
    # masks of the batched API, task by task
    obs, info = venv.reset(seed=0)
    seen = set()
    for _ in range(80):
        for b in range(3):
            t = int(info["task_id"][b])
            seen.add(t)
            spec = GROUP[t]
            assert info["agent_mask"][b].tolist() == [f"agent_{j}" in spec for j in range(2)]
            for j in range(2):
                if f"agent_{j}" in spec:
                    n = spec[f"agent_{j}"][1]
                    assert info["action_mask"][b, j].tolist() == [True] * n + [False] * (5 - n)
                else:  # padded agent: zero observation, only the no-op (last action) is legal
                    assert not obs[b, j].any()
                    assert info["action_mask"][b, j].tolist() == [False] * 4 + [True]
        actions = np.where(info["action_mask"][..., 0], 0, 4).astype(np.int64)
        obs, rew, _, _, info = venv.step(actions)
        assert not rew[~info["final_info"]["agent_mask"]].any()
    assert seen == {0, 1, 2}
    venv.close()


def test_group_task_stream():
    env = _group(sampler="round_robin")
    env.reset(seed=3)
    ids = [env.task_id]
    for _ in range(5):
        env.reset()
        ids.append(env.task_id)
    assert ids == [0, 1, 2, 0, 1, 2]
    streams = []
    for dyn_seed in (1, 99):
        env = _group(seed=7)
        _, infos = env.reset(seed=dyn_seed)
        stream = [next(iter(infos.values()))["task_id"]]
        for _ in range(30):
            _, infos = env.reset()
            stream.append(next(iter(infos.values()))["task_id"])
        streams.append(stream)
    assert streams[0] == streams[1] and set(streams[0]) == {0, 1, 2}


def test_make_group_env_refuses_other_tasks():
    from mt_envs.capture import CaptureTask
    from wrappers.groups import make_group_env

    with pytest.raises(TypeError, match="MPETask"):
        make_group_env([MPETask("push"), CaptureTask.mast(4)])
    with pytest.raises(KeyError, match="mpe-mkt"):
        make_group_env("mpe-mk")


def test_maskable_ppo_example_runs_tiny():
    """``examples/maskable_ppo_mpe_group.py`` with a tiny budget (seeded, so deterministic)."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("sb3_contrib")
    path = Path(__file__).resolve().parents[1] / "examples" / "maskable_ppo_mpe_group.py"
    spec = importlib.util.spec_from_file_location("maskable_ppo_mpe_group", path)
    assert spec and spec.loader
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    table = example.main(timesteps=256, copies=2, n_steps=64, eval_episodes=3, seed=0)
    assert sorted(table) == sorted(mpe_mkt().names)
    for row in table.values():
        assert sorted(row) == ["random", "reference", "trained"]
        assert all(np.isfinite(v) for v in row.values())
    for task in ("mpe-speaker-listener", "mpe-push"):
        assert table[task]["reference"] > table[task]["random"] + 5.0
