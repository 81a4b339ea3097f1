"""The tabular engine (mt_envs.tabular): tables validation, agents leaving one by one, draws,
single/batched parity, the vector API and the checkers, on the chain and on a toy 2-agent family
built here."""

from __future__ import annotations

import dataclasses
import itertools
import pickle
from typing import Any, ClassVar

import gymnasium
import numpy as np
import pytest

from mt_envs import chain_v0
from mt_envs.chain import ChainEnv, ChainTask
from mt_envs.tabular import TabularEnv, TabularModel, TabularTaskTables, TabularVectorEnv
from mt_envs.tabular.env import RENDER_MODES
from mt_envs.tasks import Task, TaskSet
from mt_envs.test import (
    check_determinism,
    check_env,
    check_pickle,
    check_render,
    check_spaces_and_types,
    check_truncation,
    check_vector_env,
    rollout,
)

# -- a toy family: two agents walk right along a line of L cells to its end -----------------------
RIGHT, LEFT, STAY = 0, 1, 2


@dataclasses.dataclass(frozen=True)
class WalkTask(Task):
    """Two agents on cells 0..length-1; reaching the last cell pays +1 and ends that agent.

    ``slip``: probability that a move fails (the agent stays); ``starts``: start cells, drawn
    uniformly and independently per agent."""

    family: ClassVar[str] = "test-walk"
    length: int = 3
    slip: float = 0.0
    starts: tuple[int, ...] = (0,)
    horizon: int = 12

    @property
    def name(self) -> str:
        return f"walk-{self.length}-s{self.slip:g}-{''.join(map(str, self.starts))}"

    @property
    def max_steps(self) -> int:
        return self.horizon


def walk_tables(task: WalkTask) -> TabularTaskTables:
    n_cells = task.length
    goal = n_cells - 1
    cells = list(itertools.product(range(n_cells), repeat=2))
    index = {c: i for i, c in enumerate(cells)}
    s_count, a_count = len(cells), 9
    ns = np.zeros((s_count, a_count, 4), dtype=np.int64)
    prob = np.zeros((s_count, a_count, 4))
    rew = np.zeros((s_count, a_count, 4, 2))
    for (p0, p1), (a0, a1) in itertools.product(cells, itertools.product(range(3), repeat=2)):
        s, a = index[(p0, p1)], a0 * 3 + a1
        outcomes = []
        for ok0, ok1 in itertools.product((True, False), repeat=2):
            pr = (1 - task.slip if ok0 else task.slip) * (1 - task.slip if ok1 else task.slip)
            new = []
            for p, act, ok in ((p0, a0, ok0), (p1, a1, ok1)):
                if p == goal or not ok or act == STAY:
                    new.append(p)
                else:
                    new.append(min(max(p + (1 if act == RIGHT else -1), 0), goal))
            outcomes.append((tuple(new), pr))
        for k, (new, pr) in enumerate(outcomes):
            ns[s, a, k] = index[new]
            prob[s, a, k] = pr
            for i in range(2):
                rew[s, a, k, i] = 1.0 if (new[i] == goal and (p0, p1)[i] != goal) else 0.0
    alive = np.array([[p0 != goal, p1 != goal] for p0, p1 in cells])
    start = np.zeros(s_count)
    for c in itertools.product(task.starts, repeat=2):
        start[index[c]] += 1.0 / len(task.starts) ** 2
    model = TabularModel.from_transitions(ns, prob, rew, start, ~alive.any(axis=1), (3, 3))
    obs = np.array([[[p0, p1], [p1, p0]] for p0, p1 in cells], dtype=np.int64)
    return TabularTaskTables(model, obs, alive, task.horizon)


class WalkEnv(TabularEnv):
    metadata: ClassVar[dict[str, Any]] = {**TabularEnv.metadata, "name": "walk_v0"}
    task_class: ClassVar[type[Task]] = WalkTask
    modes: ClassVar[tuple[str, ...]] = ("sampled", "team")

    def __init__(self, tasks: Any = None, **kwargs: Any) -> None:
        super().__init__(tasks if tasks is not None else WALK_SET, **kwargs)

    def build_tables(self, task: Any) -> TabularTaskTables:
        return walk_tables(task)

    def _agent_observation_space(self) -> gymnasium.spaces.Space:
        return gymnasium.spaces.MultiDiscrete([3, 3])

    def render_rgb(self) -> np.ndarray:
        frame = np.zeros((8, 8 * len(self.model_states), 3), dtype=np.uint8)
        for g, s in enumerate(self.model_states):
            frame[:, 8 * g : 8 * g + 8] = 20 * s
        return frame

    def render_ansi(self) -> str:
        return " ".join(str(s) for s in self.model_states)


WALK_SET = TaskSet(
    "walk",
    (
        WalkTask(),
        WalkTask(slip=0.3, starts=(0, 1)),
        WalkTask(slip=0.5, horizon=6),
    ),
)


def walk_env(**kwargs: Any) -> WalkEnv:
    return WalkEnv(**kwargs)


# -- tables validation ------------------------------------------------------------------------
def _tiny(**over: Any) -> dict[str, Any]:
    """A 2-state single-agent model: state 0 --(any action)--> state 1 (terminal), reward 1."""
    ns = np.array([[[1], [1]], [[1], [1]]])
    model = TabularModel(ns, np.ones((2, 2, 1)), np.array([[1.0, 1.0], [0, 0]]), [1, 0], [0, 1])
    base = {
        "model": model,
        "obs": np.array([[0], [1]]),
        "alive": np.array([[True], [False]]),
        "horizon": 5,
    }
    base.update(over)
    return base


def test_tables_accept_a_valid_model_and_are_read_only():
    t = TabularTaskTables(**_tiny())
    assert t.n_agents == 1 and t.obs.dtype == np.int64 and not t.obs.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        t.alive[0, 0] = False


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"alive": np.array([[True], [True]])}, "terminal exactly when no agent is alive"),
        ({"obs": np.array([0, 1])}, "obs must have shape"),
        ({"alive": np.array([[1], [0]])}, "alive must be bool"),
        ({"horizon": 0}, "horizon=0 is invalid"),
        ({"horizon": 2.5}, "horizon=2.5 is invalid"),
        ({"obs": np.array([["a"], ["b"]])}, "integer or float"),
    ],
)
def test_tables_reject_bad_input(over, match):
    with pytest.raises(ValueError, match=match):
        TabularTaskTables(**_tiny(**over))


def test_tables_reject_rewards_to_done_agents_and_revived_agents():
    good = walk_tables(WalkTask())
    m = good.model
    # Pay agent 0 for acting after it reached its goal (state (2, 0) has agent 0 done).
    tr = np.array(m.successor_reward)
    s_done = 2 * 3 + 0
    tr[s_done, :, 0, 0] = 1.0
    bad = TabularModel.from_transitions(m.next_state, m.prob, tr, m.start, m.terminal, (3, 3))
    with pytest.raises(ValueError, match="not alive in state 6 but is paid"):
        TabularTaskTables(bad, good.obs, good.alive, 5)
    ns = np.array(m.next_state)
    ns[s_done, :, :] = 0  # back to (0, 0): agent 0 alive again
    revived = TabularModel(ns, m.prob, np.zeros((9, 9, 2)), m.start, m.terminal, (3, 3))
    with pytest.raises(ValueError, match="alive in a successor"):
        TabularTaskTables(revived, good.obs, good.alive, 5)


def test_tables_reject_a_start_with_done_agents():
    m = walk_tables(WalkTask()).model
    start = np.zeros(9)
    start[2 * 3 + 1] = 1.0  # agent 0 already on its goal
    model = TabularModel(m.next_state, m.prob, m.reward, start, m.terminal, (3, 3))
    with pytest.raises(ValueError, match="alive in every start state"):
        TabularTaskTables(model, walk_tables(WalkTask()).obs, walk_tables(WalkTask()).alive, 5)


def test_model_transition_reward_must_match_reward():
    m = walk_tables(WalkTask(slip=0.3)).model
    reward = np.array(m.reward)
    reward[0, 0, 0] += 1.0
    with pytest.raises(ValueError, match="expectation of transition_reward"):
        TabularModel(
            m.next_state, m.prob, reward, m.start, m.terminal, (3, 3), (), m.successor_reward
        )


# -- env behaviour ----------------------------------------------------------------------------
def test_agents_leave_one_by_one_and_done_agents_play_the_noop():
    env = walk_env(tasks=[WalkTask()])
    obs, infos = env.reset(seed=0)
    assert env.agents == ["agent_0", "agent_1"]
    np.testing.assert_array_equal(obs["agent_0"], [0, 0])
    assert infos["agent_1"]["state_index"] == 0
    _, rew, term, _, _ = env.step({"agent_0": RIGHT, "agent_1": STAY})
    assert rew == {"agent_0": 0.0, "agent_1": 0.0}
    obs, rew, term, _, infos = env.step({"agent_0": RIGHT, "agent_1": RIGHT})
    assert rew == {"agent_0": 1.0, "agent_1": 0.0} and term == {"agent_0": True, "agent_1": False}
    assert env.agents == ["agent_1"]
    np.testing.assert_array_equal(obs["agent_0"], [2, 1])
    np.testing.assert_array_equal(obs["agent_1"], [1, 2])
    assert infos["agent_1"]["state_index"] == 1 * 3 + 2
    with pytest.raises(ValueError, match="unknown agent"):
        env.step({"agent_9": RIGHT, "agent_1": RIGHT})
    # the finished agent_0's action is ignored (policies mapping over observations send one)
    obs, rew, term, _trunc, infos = env.step({"agent_0": RIGHT, "agent_1": RIGHT})
    assert set(obs) == {"agent_1"} and rew["agent_1"] == 1.0 and term["agent_1"]
    assert env.agents == [] and env.num_steps == 3
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})


def test_truncation_at_the_horizon_of_each_group_in_team_mode():
    # Group 2 (horizon 6) is truncated while group 0 (horizon 12) plays on.
    env = walk_env(mode="team")
    assert env.possible_agents == [f"agent_{k}" for k in range(6)]
    env.reset(seed=1)
    for t in range(1, 13):
        _, _rew, term, trunc, _ = env.step(dict.fromkeys(env.agents, STAY))
        if t == 6:
            assert trunc["agent_4"] and trunc["agent_5"] and not trunc["agent_0"]
            assert not any(term.values())
            assert "agent_4" not in env.agents and "agent_0" in env.agents
    assert env.agents == [] and all(trunc.values())


def test_team_mode_refuses_a_reset_task_and_sampled_mode_checks_it():
    env = walk_env(mode="team")
    with pytest.raises(ValueError, match="mode='sampled'"):
        env.reset(options={"task": 1})
    env = walk_env()
    with pytest.raises(ValueError, match="out of range"):
        env.reset(options={"task": 3})
    with pytest.raises(ValueError, match="not in this env's task set"):
        env.reset(options={"task": WalkTask(length=3, slip=0.9)})
    _, infos = env.reset(seed=0, options={"task": WALK_SET[2], "other": 1})
    assert infos["agent_0"]["task_id"] == 2 and infos["agent_0"]["task"] == WALK_SET[2]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"mode": "both"}, ValueError),
        ({"render_mode": "video"}, ValueError),
        ({"tasks": [ChainTask(1)]}, TypeError),
    ],
)
def test_bad_constructor_arguments(kwargs, error):
    with pytest.raises(error):
        walk_env(**kwargs)


def test_sets_with_different_agent_counts_are_refused():
    class Mixed(WalkEnv):
        def build_tables(self, task: Any) -> TabularTaskTables:
            if task.length == 3:
                return walk_tables(task)
            return TabularTaskTables(**_tiny())

    with pytest.raises(ValueError, match="must agree"):
        Mixed(tasks=[WalkTask(), WalkTask(length=4)])


def test_tables_are_cached_and_shared_between_envs():
    a, b = walk_env(), walk_env(mode="team")
    assert a.tables[1] is b.tables[1] and a.compiled is b.compiled
    assert not a.compiled.next_flat.flags.writeable


def test_checkers_on_the_toy_family_both_modes():
    check_env(lambda render_mode=None: walk_env(render_mode=render_mode))
    # Team mode refuses options["task"] by design (check_task_switching does not apply), and
    # check_truncation reads one task's horizon, so the team set shares one horizon.
    team = [WalkTask(), WalkTask(slip=0.3, starts=(0, 1))]

    def fn(render_mode: str | None = None) -> WalkEnv:
        return walk_env(tasks=team, mode="team", render_mode=render_mode)

    check_spaces_and_types(fn())
    check_determinism(fn)
    check_pickle(fn)
    check_truncation(fn())
    check_render(fn)
    for mode in ("sampled", "team"):
        check_vector_env(TabularVectorEnv(32, WalkEnv, mode=mode), steps=150)


# -- draws and parity -------------------------------------------------------------------------
def _parity(make_env: Any, make_vec: Any, seed: int, steps: int = 120) -> None:
    """A ParallelEnv and a B = 1 vector env with the same seed follow the same trajectory."""
    env, venv = make_env(), make_vec()
    rng = np.random.default_rng(seed + 1000)
    env.reset(seed=seed)
    venv.reset(seed=seed)
    n, n_act = venv.num_agents, venv.single_action_space.n
    for _ in range(steps):
        if not env.agents:
            env.reset()
        assert env.core.s == venv.core.s[0].tolist()
        assert env.core.task_id == venv.core.task_id[0]
        acts = rng.integers(0, n_act, size=(1, n))
        obs, rew, term, trunc, infos = env.step({a: int(acts[0, env._slot[a]]) for a in env.agents})
        _vobs, vrew, vterm, vtrunc, vinfo = venv.step(acts)
        for agent in rew:
            k = env._slot[agent]
            assert np.float32(rew[agent]) == vrew[0, k]
            assert (term[agent], trunc[agent]) == (vterm[0, k], vtrunc[0, k])
            assert infos[agent]["state_index"] == env.state_index(obs[agent])
            expect = env.vector_observation(np.asarray(obs[agent])[None])[0]
            if agent not in env.agents and not vinfo["_final"][0]:
                expect = 0 * expect  # a done agent of a running env observes zeros (vector API)
            np.testing.assert_array_equal(vinfo["final_obs"][0, k], expect)


@pytest.mark.parametrize("mode", ["sampled", "team"])
def test_single_and_batched_cores_draw_identically_on_the_toy_family(mode):
    assert WalkEnv().compiled.stochastic and WalkEnv().compiled.random_start
    for seed in range(12):
        _parity(
            lambda: walk_env(mode=mode),
            lambda: TabularVectorEnv(1, WalkEnv, mode=mode),
            seed,
        )


@pytest.mark.parametrize("mode", ["sampled", "team"])
@pytest.mark.parametrize("tasks", ["chain-2", "chain-2-stochastic"])
def test_single_and_batched_cores_draw_identically_on_the_chain(tasks, mode):
    for seed in range(12):
        _parity(
            lambda: chain_v0.parallel_env(tasks=tasks, mode=mode),
            lambda: chain_v0.vector_env(1, tasks=tasks, mode=mode),
            seed,
        )


def test_draw_layout_deterministic_sets_draw_nothing_stochastic_ones_one_per_group():
    for tasks, per_step in (("chain-2", 0), ("chain-2-stochastic", 2)):
        venv = chain_v0.vector_env(5, tasks=tasks, mode="team", seed=3)
        venv.reset()
        before = dict(venv.core.rng.bit_generator.state)
        reference = np.random.default_rng()
        reference.bit_generator.state = before
        for _ in range(7):
            venv.step(np.zeros((5, 2), dtype=np.int64))
        reference.random(7 * 5 * per_step)
        assert venv.core.rng.bit_generator.state == reference.bit_generator.state


def test_vector_env_team_mode_flags_masks_and_zero_observations():
    venv = chain_v0.vector_env(3, tasks="chain-2", mode="team", seed=0)
    obs, info = venv.reset()
    assert obs.shape == (3, 2, 5) and info["agent_task_id"].tolist() == [[0, 1]] * 3
    np.testing.assert_array_equal(info["state_index"], np.full((3, 2), 2))
    left = np.zeros((3, 2), dtype=np.int64)
    venv.step(left)
    obs, rew, term, trunc, info = venv.step(left)  # task 1 reaches S1; task 2 oscillates
    np.testing.assert_array_equal(rew, [[1.0, 0.0]] * 3)
    np.testing.assert_array_equal(term, [[True, False]] * 3)
    np.testing.assert_array_equal(info["agent_mask"], [[False, True]] * 3)
    assert not obs[:, 0].any() and info["action_mask"][:, 0].tolist() == [[False, True]] * 3
    for _ in range(97):
        obs, rew, term, trunc, info = venv.step(left)
        assert not info["_final"].any() and not term.any() and not trunc.any()
    obs, rew, term, trunc, info = venv.step(left)  # step 100: truncation; agent 0 follows it
    assert info["_final"].all()
    np.testing.assert_array_equal(trunc, [[True, True]] * 3)
    np.testing.assert_array_equal(info["episode"]["r"], [[1.0, 0.0]] * 3)
    np.testing.assert_array_equal(info["episode"]["l"], [100] * 3)
    np.testing.assert_array_equal(info["agent_mask"], [[True, True]] * 3)


def test_vector_env_sampled_mode_task_options():
    venv = chain_v0.vector_env(4, tasks="chain-2", mode="sampled", seed=0)
    _, info = venv.reset(options={"task": [0, 1, 1, 0]})
    assert info["task_id"].tolist() == [0, 1, 1, 0]
    _, info = venv.reset(options={"task": ChainTask(2)})
    assert info["task_id"].tolist() == [1] * 4
    with pytest.raises(ValueError, match="task ids must lie"):
        venv.reset(options={"task": 2})
    with pytest.raises(ValueError, match="invalid"):
        venv.reset(options={"task": [0, 1]})
    with pytest.raises(ValueError, match="num_envs"):
        chain_v0.vector_env(0)
    with pytest.raises(ValueError, match="mode='sampled'"):
        chain_v0.vector_env(2, mode="team").reset(options={"task": 0})


def test_pickled_env_continues_identically_and_renders():
    check_pickle(lambda: walk_env(mode="team"))
    env = walk_env(render_mode="rgb_array")
    env.reset(seed=0)
    clone = pickle.loads(pickle.dumps(env))
    assert np.array_equal(clone.render(), env.render())
    assert set(RENDER_MODES) == set(WalkEnv.metadata["render_modes"])


def test_seed_reproduces_and_changes_the_stochastic_toy():
    a = rollout(walk_env(), 5, 200)
    assert a == rollout(walk_env(), 5, 200)
    assert a != rollout(walk_env(), 6, 200)


def test_individual_checks_on_the_fully_deterministic_team_chain():
    # chain-2 in team mode has no randomness at all (fixed start, deterministic moves, no task
    # sampling): every seed gives the same trajectory, and options["task"] is refused by design,
    # so check_env's "different seeds differ" and task-switching checks do not apply.
    def fn(render_mode: str | None = None) -> ChainEnv:
        return chain_v0.parallel_env(tasks="chain-2", render_mode=render_mode)

    assert rollout(fn(), 0, 150) == rollout(fn(), 1, 150)
    check_spaces_and_types(fn())
    check_pickle(fn)
    check_truncation(fn())
    check_render(fn)
