"""The two-chamber corridor (SPECS.md section 3): task, step rule, joint model, observations,
scripted policy, rendering and the env."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np
import pytest

from mt_envs import task_sets
from mt_envs.corridor.model import (
    GOAL_REWARD,
    N_OBS_STATES,
    OBS_NVEC,
    STEP_REWARD,
    CorridorModel,
    StepOutcome,
    build_model,
    corridor_step,
    obs_index,
    observation_table,
)
from mt_envs.corridor.policy import CorridorPolicy, corridor_action, joint_actions
from mt_envs.corridor.rendering import (
    AGENT_COLOURS,
    HEIGHT_PX,
    WIDTH_PX,
    CorridorFrame,
    CorridorRenderer,
    render_ansi,
)
from mt_envs.corridor.task import (
    CORRIDOR_CELLS,
    EAST,
    FLOOR_CELLS,
    LAYOUT,
    NO_ACTION,
    NORTH,
    SOUTH,
    STAY,
    WEST,
    Cell,
    CorridorTask,
    is_wall,
)
from mt_envs.corridor.task_sets import corridor_5, corridor_symmetric, paper_task
from mt_envs.tasks import task_from_dict

GAMMA = 0.99


def _task(k: int = 1) -> CorridorTask:
    return paper_task(k)


def _tasks(name: str) -> list[CorridorTask]:
    ts = corridor_5() if name == "corridor-5" else corridor_symmetric()
    return [t for t in ts if isinstance(t, CorridorTask)]


def _ensure_sets() -> None:
    if "corridor-5" not in task_sets.names():
        from mt_envs.corridor.task_sets import register_all

        register_all()


# -- layout and tasks --------------------------------------------------------------------------
def test_layout_matches_specs() -> None:
    assert len(LAYOUT) == 7 and all(len(row) == 9 for row in LAYOUT)
    floor = set(FLOOR_CELLS)
    chambers = {(r, c) for r in range(1, 6) for c in (1, 2, 6, 7)}
    assert floor == chambers | set(CORRIDOR_CELLS)
    assert set(CORRIDOR_CELLS) == {(3, 3), (3, 4), (3, 5)}
    assert len(FLOOR_CELLS) == 23
    assert all(is_wall(0, c) and is_wall(6, c) for c in range(9))
    assert all(is_wall(r, 0) and is_wall(r, 8) for r in range(7))
    assert is_wall(-1, 4) and is_wall(3, 9)


def test_paper_tasks_and_sets() -> None:
    five = _tasks("corridor-5")
    assert [(t.starts, t.goals) for t in five] == [
        (((1, 1), (1, 7)), ((5, 7), (5, 1))),
        (((5, 1), (5, 7)), ((1, 7), (1, 1))),
        (((5, 1), (1, 7)), ((5, 7), (1, 1))),
        (((3, 2), (1, 7)), ((5, 7), (5, 1))),
        (((1, 7), (1, 1)), ((5, 7), (5, 1))),
    ]
    sym = corridor_symmetric()
    copy = dataclasses.replace(five[0], tag="copy")
    assert list(sym.tasks) == [five[0], five[1], five[2], copy, five[4]]
    assert copy.name == "corridor-11to57-17to51-copy" and sym.index(copy) == 3
    assert build_model(copy).model is build_model(five[0]).model  # same dynamics
    assert build_model(copy).task == copy
    assert all(t.horizon == 200 for t in five)
    assert five[0].name == "corridor-11to57-17to51"
    assert dataclasses.replace(five[0], horizon=50).name == "corridor-11to57-17to51-h50"
    assert [t.crosses(0) for t in five] == [True, True, True, True, False]
    _ensure_sets()
    assert list(task_sets.get("corridor-5").tasks) == five
    assert task_sets.env_id_of("corridor-symmetric") == "corridor_v0"


def test_task_round_trip() -> None:
    for t in [*corridor_symmetric(), dataclasses.replace(_task(2), horizon=7)]:
        assert task_from_dict(t.to_dict()) == t
        assert CorridorTask.from_dict(t.to_dict()) == t
    # lists (JSON) are accepted and stored as tuples
    t = CorridorTask(starts=[[1, 1], [1, 7]], goals=[[5, 7], [5, 1]])  # type: ignore[arg-type]
    assert t == _task(1) and t.starts == ((1, 1), (1, 7))


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"starts": ((1, 1), (1, 1)), "goals": ((5, 7), (5, 1))}, "same cell"),
        ({"starts": ((1, 1), (1, 7)), "goals": ((5, 7), (5, 7))}, "different goals"),
        ({"starts": ((1, 1), (1, 7)), "goals": ((1, 1), (5, 1))}, "own goal"),
        (
            {"starts": ((1, 3), (1, 7)), "goals": ((5, 7), (5, 1))},
            "starts[0]=(1, 3) (agent_0) is a wall",
        ),
        (
            {"starts": ((1, 1), (1, 7)), "goals": ((5, 7), (0, 1))},
            "goals[1]=(0, 1) (agent_1) is a wall",
        ),
        ({"starts": ((1, 1), (9, 9)), "goals": ((5, 7), (5, 1))}, "outside the 7x9 grid"),
        ({"starts": ((1, 1),), "goals": ((5, 7), (5, 1))}, "two (row, col) floor cells"),
        ({"starts": ((1, 1.0), (1, 7)), "goals": ((5, 7), (5, 1))}, "two (row, col)"),
        ({"starts": 3, "goals": ((5, 7), (5, 1))}, "CorridorTask.starts=3"),
        ({"starts": ((1, 1), (1, 7)), "goals": ((5, 7), (5, 1)), "horizon": 0}, "horizon=0"),
        ({"starts": ((1, 1), (1, 7)), "goals": ((5, 7), (5, 1)), "horizon": 2.0}, "horizon"),
        ({"starts": ((1, 1), (1, 7)), "goals": ((5, 7), (5, 1)), "tag": "a b"}, "tag='a b'"),
    ],
)
def test_bad_tasks(kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        CorridorTask(**kwargs)


def test_start_on_other_goal_is_allowed() -> None:
    t = CorridorTask(starts=((5, 1), (1, 1)), goals=((1, 1), (5, 7)))
    out = corridor_step(t, t.starts, (NORTH, EAST))
    assert out.pos == ((4, 1), (1, 2)) and out.done == (False, False)


def test_unknown_names() -> None:
    _ensure_sets()
    with pytest.raises(KeyError, match="corridor-5"):
        task_sets.get("corridor-6")
    with pytest.raises(ValueError, match="1..5"):
        paper_task(6)


# -- the step rule -----------------------------------------------------------------------------
T1 = _task(1)  # goals (5, 7) and (5, 1)


def _step(
    pos: tuple[Cell, Cell],
    actions: tuple[int, int],
    done: tuple[bool, bool] = (False, False),
    task: CorridorTask = T1,
) -> StepOutcome:
    return corridor_step(task, pos, actions, done)


def test_free_moves() -> None:
    out = _step(((2, 1), (2, 7)), (SOUTH, WEST))
    assert out.pos == ((3, 1), (2, 6)) and out.blocked == (None, None)
    assert out.rewards == (STEP_REWARD, STEP_REWARD) and out.done == (False, False)
    out = _step(((2, 1), (2, 7)), (STAY, STAY))
    assert out.pos == ((2, 1), (2, 7)) and out.blocked == (None, None)
    assert out.rewards == (STEP_REWARD, STEP_REWARD)


def test_walls_block() -> None:
    out = _step(((1, 1), (1, 7)), (NORTH, EAST))  # border walls
    assert out.pos == ((1, 1), (1, 7)) and out.blocked == ("wall", "wall")
    out = _step(((2, 2), (4, 6)), (EAST, WEST))  # the walls around the corridor
    assert out.pos == ((2, 2), (4, 6)) and out.blocked == ("wall", "wall")
    out = _step(((3, 4), (1, 1)), (NORTH, WEST))  # corridor side walls
    assert out.pos == ((3, 4), (1, 1)) and out.blocked == ("wall", "wall")
    assert out.rewards == (STEP_REWARD, STEP_REWARD)  # a blocked move still costs a step


def test_leaving_the_grid_blocks() -> None:
    # The border is all wall, so no floor cell leads off the grid; the rule itself is checked
    # from hand-placed cells on the border.
    out = _step(((0, 1), (6, 7)), (NORTH, SOUTH))
    assert out.pos == ((0, 1), (6, 7)) and out.blocked == ("edge", "edge")
    out = _step(((3, 0), (3, 8)), (WEST, EAST))
    assert out.blocked == ("edge", "edge")


def test_no_swaps() -> None:
    out = _step(((3, 3), (3, 4)), (EAST, WEST))
    assert out.pos == ((3, 3), (3, 4)) and out.blocked == ("occupied", "occupied")
    out = _step(((2, 1), (3, 1)), (SOUTH, NORTH))
    assert out.pos == ((2, 1), (3, 1)) and out.blocked == ("occupied", "occupied")


def test_no_following() -> None:
    # agent_0 heads for the cell agent_1 is leaving: blocked (the cell was not free).
    out = _step(((3, 3), (3, 4)), (EAST, EAST))
    assert out.pos == ((3, 3), (3, 5)) and out.blocked == ("occupied", None)
    out = _step(((3, 4), (3, 5)), (WEST, WEST))
    assert out.pos == ((3, 3), (3, 5)) and out.blocked == (None, "occupied")
    # around a corner: agent_1 moves into agent_0's cell while agent_0 turns away
    out = _step(((2, 6), (2, 7)), (SOUTH, WEST))
    assert out.pos == ((3, 6), (2, 7)) and out.blocked == (None, "occupied")


def test_moving_into_a_standing_agent() -> None:
    out = _step(((3, 3), (3, 4)), (EAST, STAY))
    assert out.pos == ((3, 3), (3, 4)) and out.blocked == ("occupied", None)
    out = _step(((1, 6), (1, 7)), (NORTH, WEST))
    assert out.pos == ((1, 6), (1, 7)) and out.blocked == ("wall", "occupied")


def test_both_into_the_same_cell() -> None:
    out = _step(((3, 3), (3, 5)), (EAST, WEST))
    assert out.pos == ((3, 3), (3, 5)) and out.blocked == ("contested", "contested")
    out = _step(((2, 1), (3, 2)), (SOUTH, WEST))
    assert out.pos == ((2, 1), (3, 2)) and out.blocked == ("contested", "contested")


def test_goal_reward_and_freezing() -> None:
    out = _step(((5, 6), (3, 4)), (EAST, WEST))
    assert out.pos == ((5, 7), (3, 3)) and out.done == (True, False)
    assert out.rewards == (pytest.approx(STEP_REWARD + GOAL_REWARD), STEP_REWARD)
    assert out.rewards[0] == pytest.approx(99.9)
    # the done agent ignores its action, pays and gets nothing, and stays on its goal
    out = _step(((5, 7), (3, 3)), (NORTH, WEST), done=(True, False))
    assert out.pos == ((5, 7), (3, 2)) and out.rewards == (0.0, STEP_REWARD)
    assert out.done == (True, False) and out.blocked == (None, None)
    # it no longer blocks: the other agent may walk onto its goal (an ordinary move)
    out = _step(((5, 7), (5, 6)), (STAY, EAST), done=(True, False))
    assert out.pos == ((5, 7), (5, 7)) and out.rewards == (0.0, STEP_REWARD)
    assert out.done == (True, False)
    # nor does its (ignored) intended cell
    out = _step(((5, 7), (4, 6)), (WEST, SOUTH), done=(True, False))
    assert out.pos == ((5, 7), (5, 6))


def test_entering_the_other_goal_is_ordinary() -> None:
    out = _step(((5, 2), (1, 7)), (WEST, STAY))  # (5, 1) is agent_1's goal
    assert out.pos == ((5, 1), (1, 7)) and out.done == (False, False)
    assert out.rewards == (STEP_REWARD, STEP_REWARD)


def test_both_reach_their_goals_at_once() -> None:
    out = _step(((5, 6), (5, 2)), (EAST, WEST))
    assert out.done == (True, True)
    assert out.rewards == (pytest.approx(99.9), pytest.approx(99.9))


def test_bad_actions_are_refused() -> None:
    with pytest.raises(ValueError, match="agent_1"):
        _step(((2, 1), (2, 7)), (STAY, 5))
    with pytest.raises(ValueError, match="agent_0"):
        _step(((2, 1), (2, 7)), (-1, STAY))
    # a done agent's action is not looked at
    _step(((5, 7), (2, 7)), (99, STAY), done=(True, False))


def test_random_play_never_swaps_or_follows() -> None:
    rng = np.random.default_rng(0)
    tasks = _tasks("corridor-5")
    moves = 0
    for episode in range(300):
        task = tasks[episode % len(tasks)]
        pos, done = task.starts, (False, False)
        for _ in range(200):
            acts = (int(rng.integers(5)), int(rng.integers(5)))
            out = corridor_step(task, pos, acts, done)
            for i in range(2):
                j = 1 - i
                (r, c), (r2, c2) = pos[i], out.pos[i]
                assert abs(r - r2) + abs(c - c2) <= 1 and not is_wall(r2, c2)
                if out.pos[i] != pos[i]:
                    moves += 1
                    assert not done[i]
                    if not done[j]:
                        # never into the cell the other agent held at the start of the step
                        assert out.pos[i] != pos[j]
            live = [i for i in range(2) if not out.done[i]]
            if len(live) == 2:
                assert out.pos[0] != out.pos[1]
            if pos[0] != pos[1]:  # (a live agent may stand on a done agent's goal)
                assert not (out.pos[0] == pos[1] and out.pos[1] == pos[0]), "swap"
            pos, done = out.pos, out.done
            if all(done):
                break
    assert moves > 10_000


# -- the joint model ---------------------------------------------------------------------------
def _brute_force(task: CorridorTask) -> tuple[list[Any], list[Any]]:
    """Reachable joint states and transitions straight from corridor_step (no numpy)."""
    start = (task.starts, (NO_ACTION, NO_ACTION))
    index = {start: 0}
    order = [start]
    trans = []
    k = 0
    while k < len(order):
        pos, prev = order[k]
        done = (pos[0] == task.goals[0], pos[1] == task.goals[1])
        row = []
        for a0 in range(5):
            for a1 in range(5):
                if all(done):
                    nxt, rew = (pos, prev), (0.0, 0.0)
                else:
                    out = corridor_step(task, pos, (a0, a1), done)
                    new_prev = (prev[0] if done[0] else a0, prev[1] if done[1] else a1)
                    nxt, rew = (out.pos, new_prev), out.rewards
                if nxt not in index:
                    index[nxt] = len(order)
                    order.append(nxt)
                row.append((index[nxt], rew))
        trans.append(row)
        k += 1
    return order, trans


@pytest.mark.parametrize("k", [1, 4])
def test_model_agrees_with_step_function(k: int) -> None:
    task = _task(k)
    cm = build_model(task)
    m = cm.model
    order, trans = _brute_force(task)
    assert m.n_states == len(order) == 7267
    ours = [cm.state(pos, prev) for pos, prev in order]
    assert sorted(ours) == list(range(m.n_states))
    assert ours[0] == 0 and m.start[0] == 1.0
    for s_bf, (pos, prev) in enumerate(order):
        s = ours[s_bf]
        assert cm.positions(s) == pos and tuple(cm.prev[s]) == prev
    ours_arr = np.array(ours)
    bf_next = np.array([[nxt for nxt, _ in row] for row in trans])
    bf_rew = np.array([[rew for _, rew in row] for row in trans])
    np.testing.assert_array_equal(m.next_state[ours_arr, :, 0], ours_arr[bf_next])
    np.testing.assert_allclose(m.reward[ours_arr], bf_rew, rtol=0, atol=1e-12)


def test_model_structure() -> None:
    for task in corridor_5():
        cm = build_model(task)
        m = cm.model
        assert m.n_states == 7267 and m.n_actions == 25 and m.action_shape == (5, 5)
        assert m.n_agents == 2 and m.next_state.shape[2] == 1
        assert np.all(m.prob == 1.0)
        both = cm.done.all(axis=1)
        np.testing.assert_array_equal(m.terminal, both)
        assert both.sum() == 4  # both on their goals, each having entered from one of 2 sides
        term = np.flatnonzero(m.terminal)
        assert np.all(m.next_state[term, :, 0] == term[:, None])
        assert not m.reward[term].any()
        # done agents: reward 0, and their action does not matter
        ns = m.next_state[:, :, 0].reshape(-1, 5, 5)  # [S, a0, a1]
        rw = m.reward.reshape(-1, 5, 5, 2)
        for i, ref, rref in ((0, ns[:, :1, :], rw[:, :1, :]), (1, ns[:, :, :1], rw[:, :, :1])):
            gone = cm.done[:, i]
            assert not m.reward[gone, :, i].any()
            assert np.all((ns == ref)[gone]) and np.all((rw == rref)[gone])
        # live agents never share a cell
        live_both = ~cm.done.any(axis=1)
        assert np.all(cm.cell[live_both, 0] != cm.cell[live_both, 1])
        # rewards: -0.1 per live agent per step, 99.9 on entering its goal
        live = ~cm.done
        vals = np.unique(np.round(m.reward, 6))
        assert set(vals.tolist()) <= {0.0, -0.1, 99.9}
        assert np.all(m.reward[live[:, 0], :, 0] != 0.0)
    assert build_model(_task(1)) is build_model(_task(1))  # cached


def test_model_arrays_are_read_only() -> None:
    cm = build_model(_task(2))
    for arr in (cm.cell, cm.prev, cm.done, cm.model.next_state, cm.model.reward):
        with pytest.raises(ValueError):
            arr[0] = 0


def test_unreachable_state_lookup() -> None:
    cm = build_model(_task(1))
    with pytest.raises(KeyError, match="not reachable"):
        cm.state(((1, 1), (1, 7)), (NORTH, NO_ACTION))


# -- observations ------------------------------------------------------------------------------
def test_observation_septuple() -> None:
    cm = build_model(_task(1))
    obs = observation_table(cm)
    assert obs.shape == (cm.n_states, 2, 7) and obs.dtype == np.int64
    assert obs[0, 0].tolist() == [1, 1, 1, 7, NO_ACTION, NO_ACTION, 0]
    assert obs[0, 1].tolist() == [1, 7, 1, 1, NO_ACTION, NO_ACTION, 0]
    s = cm.state(((5, 7), (3, 3)), (EAST, WEST))  # agent_0 done
    assert obs[s, 0].tolist() == [5, 7, 3, 3, EAST, WEST, 0]
    assert obs[s, 1].tolist() == [3, 3, 5, 7, WEST, EAST, 1]
    assert np.all(obs >= 0) and np.all(obs < np.array(OBS_NVEC))
    flt = observation_table(cm, "float")
    assert flt.dtype == np.float32 and flt.min() >= 0.0 and flt.max() <= 1.0
    np.testing.assert_allclose(
        flt[s, 1], [3 / 6, 3 / 8, 5 / 6, 7 / 8, 3 / 5, 2 / 5, 1.0], rtol=1e-6
    )
    with pytest.raises(ValueError, match="obs_type"):
        observation_table(cm, "onehot")


def test_obs_index_is_compact_and_invertible() -> None:
    cm = build_model(_task(3))
    obs = observation_table(cm).reshape(-1, 7)
    idx = np.asarray(obs_index(obs))
    assert idx.min() >= 0 and idx.max() < N_OBS_STATES == 38088
    np.testing.assert_array_equal(obs_index(observation_table(cm, "float").reshape(-1, 7)), idx)
    # distinct observations get distinct indices
    uniq_obs = np.unique(obs, axis=0)
    assert np.unique(obs_index(uniq_obs)).size == uniq_obs.shape[0]
    # the documented formula, and the extremes
    assert obs_index(np.array([1, 1, 1, 2, 0, 0, 0])) == (((0 * 23 + 1) * 6 + 0) * 6 + 0) * 2
    assert obs_index(np.array([5, 7, 5, 7, 5, 5, 1])) == N_OBS_STATES - 1
    assert isinstance(obs_index(obs[0]), int)
    with pytest.raises(ValueError, match="wall"):
        obs_index(np.array([0, 0, 1, 1, 0, 0, 0]))
    with pytest.raises(ValueError, match="last axis"):
        obs_index(np.zeros(6, dtype=np.int64))
    with pytest.raises(ValueError, match="out of range"):
        obs_index(np.array([1, 1, 1, 2, 6, 0, 0]))


# -- the scripted policy -----------------------------------------------------------------------
def _play(cm: CorridorModel, actions: np.ndarray) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Follow a deterministic joint policy from the start; returns (steps to done, returns,
    discounted returns)."""
    m, s = cm.model, 0
    finish: list[Any] = [None, None]
    ret, disc = np.zeros(2), np.zeros(2)
    for t in range(cm.task.horizon):
        a = int(actions[s])
        ret += m.reward[s, a]
        disc += GAMMA**t * m.reward[s, a]
        s = int(m.next_state[s, a, 0])
        for i in range(2):
            if finish[i] is None and cm.done[s, i]:
                finish[i] = t + 1
        if m.terminal[s]:
            break
    return finish, ret, disc


def _optimal_team_value(cm: CorridorModel) -> float:
    m = cm.model
    v = np.zeros(m.n_states)
    r = m.reward.sum(axis=2)
    for _ in range(1000):
        new = (r + GAMMA * v[m.next_state[:, :, 0]]).max(axis=1)
        if np.abs(new - v).max() < 1e-10:
            break
        v = new
    return float(v[0])


@pytest.mark.parametrize(
    ("k", "steps"), [(1, [10, 16]), (2, [10, 16]), (3, [10, 16]), (4, [7, 13]), (5, [4, 4])]
)
def test_policy_solves_paper_tasks_optimally(k: int, steps: list[int]) -> None:
    cm = build_model(_task(k))
    finish, ret, disc = _play(cm, joint_actions(cm))
    assert finish == steps
    expect = [STEP_REWARD * n + GOAL_REWARD for n in steps]
    np.testing.assert_allclose(ret, expect, atol=1e-9)
    # the scripted (decentralised) policy reaches the team optimum of the joint model
    assert disc.sum() == pytest.approx(_optimal_team_value(cm), abs=1e-6)


def test_policy_first_crosser_return_matches_paper() -> None:
    # Paper 002: "the optimal return is around 91" (discounted, gamma 0.99). A 10-step walk
    # paying -0.1 on every step, the last included, is worth
    # 99.9 * 0.99**9 - 0.1 * sum_{t<9} 0.99**t.
    cm = build_model(_task(1))
    _, _, disc = _play(cm, joint_actions(cm))
    exact = 99.9 * GAMMA**9 - 0.1 * sum(GAMMA**t for t in range(9))
    assert disc[0] == pytest.approx(exact) and disc[0] == pytest.approx(90.396, abs=1e-3)


def test_policy_waits_outside_the_corridor() -> None:
    task = _task(1)
    # agent_0 is in the corridor: agent_1 waits next to the right mouth, off agent_0's way out
    assert corridor_action(task, 1, (2, 6), (3, 4), False) == STAY
    assert corridor_action(task, 1, (3, 6), (3, 4), False) == NORTH  # backs out of the mouth
    assert corridor_action(task, 0, (3, 4), (2, 6), False) == EAST
    # symmetric arrival at both mouths: agent_0 goes first
    assert corridor_action(task, 0, (3, 2), (3, 6), False) == EAST
    assert corridor_action(task, 1, (3, 6), (3, 2), False) == NORTH
    # once agent_0 is out on the right, agent_1 heads for the corridor
    assert corridor_action(task, 1, (2, 6), (4, 6), False) == SOUTH
    # with the other agent done, the shortest path is taken (across its goal if needed)
    assert corridor_action(task, 1, (5, 2), (5, 7), True) == WEST
    assert corridor_action(task, 0, (5, 7), (1, 1), False) == STAY  # on its goal


def test_policy_resolves_head_on_meetings() -> None:
    # Same column, opposite directions, no room to pass without a sidestep.
    task = CorridorTask(starts=((2, 1), (4, 1)), goals=((5, 1), (1, 1)))
    cm = build_model(task)
    finish, _, _ = _play(cm, joint_actions(cm))
    assert None not in finish and max(finish) <= 10


def test_policy_table_forms_agree() -> None:
    ts = corridor_5()
    pol = CorridorPolicy(ts)
    for k, task in enumerate(ts):
        cm = build_model(task)
        obs = observation_table(cm)
        joint = joint_actions(cm)
        got = pol.act(obs, np.full(cm.n_states, k))
        np.testing.assert_array_equal(got[:, 0] * 5 + got[:, 1], joint)
        got_f = pol.act(observation_table(cm, "float"), np.full(cm.n_states, k))
        np.testing.assert_array_equal(got_f, got)
        for s in (0, 100, 5000):
            d = pol(
                {"agent_0": obs[s, 0], "agent_1": obs[s, 1]},
                {a: {"task": task} for a in ("agent_0", "agent_1")},
            )
            assert [d["agent_0"], d["agent_1"]] == got[s].tolist()
    with pytest.raises(ValueError, match="shape"):
        pol.act(np.zeros((3, 7)), np.zeros(3))


# -- rendering ---------------------------------------------------------------------------------
def test_ansi() -> None:
    cm = build_model(_task(1))
    text = render_ansi(CorridorFrame.from_state(cm, 0, 0, 0))
    lines = text.splitlines()
    assert lines[0] == "corridor-11to57-17to51 | task 0 | step 0/200"
    assert lines[3] == "1 # 0 . # # # . 1 #"
    assert lines[5] == "3 # . . . . . . . #"
    assert lines[7] == "5 # B . # # # . A #"
    assert "agent_0 at (1,1) -> goal A (5,7) | last action none" in text
    s = cm.state(((5, 7), (3, 3)), (EAST, WEST))
    text = render_ansi(CorridorFrame.from_state(cm, s, 0, 12))
    assert text.splitlines()[7] == "5 # B . # # # . * #"
    assert "agent_0 done" in text and text.endswith("agent_0 done")
    frame = dataclasses.replace(CorridorFrame.from_state(cm, 0, 0, 0), t=200)
    assert render_ansi(frame).endswith("time up (truncated)")


def test_rgb_frames() -> None:
    pytest.importorskip("pygame")
    cm = build_model(_task(1))
    rnd = CorridorRenderer()
    img = rnd.draw(CorridorFrame.from_state(cm, 0, 0, 0))
    assert img.shape == (HEIGHT_PX, WIDTH_PX, 3) and img.dtype == np.uint8

    def px(cell: tuple[int, int], dx: float = 0.5, dy: float = 0.5) -> np.ndarray:
        r, c = cell
        return img[46 + 12 + int((r + dy) * 48), 12 + int((c + dx) * 48)].astype(int)

    # agents in their colours, goals tinted with a border in the agent's colour
    assert np.abs(px((1, 1), 0.5, 0.35) - AGENT_COLOURS[0]).max() < 30
    assert np.abs(px((1, 7), 0.5, 0.35) - AGENT_COLOURS[1]).max() < 30
    assert np.abs(px((5, 7), 0.13, 0.5) - AGENT_COLOURS[0]).max() < 40
    # walls are darker than floor, the corridor differs from the chambers
    assert px((2, 4)).sum() < 300 < px((2, 1)).sum()
    assert not np.array_equal(px((3, 3), 0.2, 0.2), px((2, 1), 0.2, 0.2))
    # a done agent: its goal is filled solid in its colour, no disc elsewhere
    s = cm.state(((5, 7), (3, 3)), (EAST, WEST))
    img = rnd.draw(CorridorFrame.from_state(cm, s, 0, 12))
    assert np.abs(px((5, 7), 0.25, 0.25) - AGENT_COLOURS[0]).max() < 30


# -- the env -----------------------------------------------------------------------------------
def _env(**kwargs: Any) -> Any:
    _ensure_sets()
    from mt_envs.corridor.env import CorridorEnv

    return CorridorEnv(**kwargs)


def test_env_spaces_and_tabular_interface() -> None:
    env = _env()
    assert env.possible_agents == ["agent_0", "agent_1"]
    space = env.observation_space("agent_0")
    assert list(space.nvec) == list(OBS_NVEC) and env.action_space("agent_1").n == 5
    assert env.n_states == N_OBS_STATES and env.n_actions == 5
    assert [m.n_states for m in env.models] == [7267] * 5
    assert env.state_space.shape == (14,)
    obs, infos = env.reset(seed=3, options={"task": 3})
    assert obs["agent_0"].tolist() == [3, 2, 1, 7, NO_ACTION, NO_ACTION, 0]
    assert infos["agent_1"]["task"] == paper_task(4) and infos["agent_1"]["task_id"] == 3
    for a in env.agents:
        assert infos[a]["state_index"] == env.state_index(obs[a]) == obs_index(obs[a])
    fenv = _env(obs_type="float", tasks="corridor-symmetric")
    fobs, _ = fenv.reset(seed=3, options={"task": 3})
    assert fenv.observation_space("agent_0").shape == (7,)
    assert fobs["agent_0"].dtype == np.float32
    assert fenv.state_index(fobs["agent_0"]) == obs_index(np.array([1, 1, 1, 7, 5, 5, 0]))
    np.testing.assert_allclose(env.state()[:7], obs["agent_0"])


def test_env_follows_the_model() -> None:
    env = _env(tasks="corridor-5")
    rng = np.random.default_rng(1)
    for episode in range(15):
        obs, _ = env.reset(seed=episode)
        k = env.group_tasks[0]
        cm = env.corridor_models[k]
        table = observation_table(cm)
        s = 0
        while env.agents:
            acts = {a: int(rng.integers(5)) for a in env.agents}
            joint = 5 * acts.get("agent_0", STAY) + acts.get("agent_1", STAY)
            obs, rew, term, trunc, _ = env.step(acts)
            r = cm.model.reward[s, joint]
            s = int(cm.model.next_state[s, joint, 0])
            assert env.model_states[0] == s
            for a, v in rew.items():
                i = int(a[-1])
                assert v == pytest.approx(r[i]) and isinstance(v, float)
                np.testing.assert_array_equal(obs[a], table[s, i])
                assert term[a] == bool(cm.done[s, i])
            assert set(env.agents) == {f"agent_{i}" for i in range(2) if not cm.done[s, i]} or any(
                trunc.values()
            )


def test_one_agent_finishes_the_other_plays_on() -> None:
    env = _env(tasks=[paper_task(5)])
    env.reset(seed=0)
    # agent_0 walks (1,7) -> (5,7); agent_1 stays put
    for _ in range(4):
        obs, rew, term, _, _ = env.step({"agent_0": SOUTH, "agent_1": STAY})
    assert term == {"agent_0": True, "agent_1": False}
    assert rew["agent_0"] == pytest.approx(99.9) and rew["agent_1"] == pytest.approx(-0.1)
    assert env.agents == ["agent_1"]
    assert obs["agent_1"].tolist() == [1, 1, 5, 7, STAY, SOUTH, 1]
    obs, rew, _, _, _ = env.step({"agent_1": EAST})
    assert list(rew) == ["agent_1"] and obs["agent_1"].tolist() == [1, 2, 5, 7, EAST, SOUTH, 1]
    # a finished agent's action is ignored (as in every mt-envs env); unknown names are errors
    obs, rew, _, _, _ = env.step({"agent_0": NORTH, "agent_1": STAY})
    assert list(rew) == ["agent_1"] and obs["agent_1"].tolist() == [1, 2, 5, 7, STAY, SOUTH, 1]
    with pytest.raises(ValueError, match="agent_7"):
        env.step({"agent_7": STAY, "agent_1": STAY})


def test_turn_limit_truncates() -> None:
    env = _env(tasks=[dataclasses.replace(paper_task(5), horizon=6)])
    env.reset(seed=0)
    for _ in range(4):
        _, _, term, trunc, _ = env.step({a: SOUTH if a == "agent_0" else STAY for a in env.agents})
        assert not any(trunc.values())
    assert term["agent_0"] and env.agents == ["agent_1"]
    _, _, term, trunc, _ = env.step({"agent_1": STAY})
    assert trunc == {"agent_1": False}
    _, rew, term, trunc, _ = env.step({"agent_1": STAY})
    assert trunc == {"agent_1": True} and term == {"agent_1": False} and env.agents == []
    assert rew["agent_1"] == pytest.approx(-0.1)
    # the default limit is 200 steps
    env = _env()
    env.reset(seed=1, options={"task": 0})
    steps = 0
    while env.agents:
        _, _, term, trunc, _ = env.step(dict.fromkeys(env.agents, STAY))
        steps += 1
    assert steps == 200 and all(trunc.values()) and not any(term.values())


def test_env_policy_solves_both_sets() -> None:
    for name, obs_type in (("corridor-5", "multidiscrete"), ("corridor-symmetric", "float")):
        env = _env(tasks=name, obs_type=obs_type)
        pol = CorridorPolicy.for_env(env)
        for k in range(5):
            obs, infos = env.reset(seed=k, options={"task": k})
            returns = dict.fromkeys(env.agents, 0.0)
            while env.agents:
                obs, rew, _, trunc, infos = env.step(pol(obs, infos))
                for a, v in rew.items():
                    returns[a] += v
                assert not any(trunc.values())
            assert min(returns.values()) > 98.0, (name, k, returns)


def test_env_bad_arguments() -> None:
    with pytest.raises(ValueError, match="obs_type"):
        _env(obs_type="onehot")
    with pytest.raises(ValueError, match="mode"):
        _env(mode="team")
    with pytest.raises(KeyError, match="corridor-5"):
        _env(tasks="corridor-55")
    from mt_envs.capture import CaptureTask

    with pytest.raises(TypeError, match="CorridorTask"):
        _env(tasks=[CaptureTask.mast(4)])
    env = _env()
    with pytest.raises(ValueError, match="out of range"):
        env.reset(options={"task": 5})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="Discrete"):
        env.step({"agent_0": 5, "agent_1": 0})


def test_env_rendering() -> None:
    pytest.importorskip("pygame")
    env = _env(render_mode="rgb_array")
    env.reset(seed=0, options={"task": 0})
    img = env.render()
    assert isinstance(img, np.ndarray) and img.shape == (HEIGHT_PX, WIDTH_PX, 3)
    text = _env(render_mode="ansi")
    text.reset(seed=0, options={"task": 3})
    out = text.render()
    assert isinstance(out, str) and "3 # . 0 . . . . . #" in out
    human = _env(render_mode="human")
    human.reset(seed=0)
    human.step({"agent_0": STAY, "agent_1": STAY})
    human.close()


def _check_env(env_fn: Any, num_cycles: int, render: bool) -> None:
    """mt_envs.test.check_env without its check_truncation, whose last assertion (no reward on
    a truncated step) holds for capture but not here: every corridor step pays -0.1, the
    truncating one included. test_turn_limit_truncates covers truncation instead."""
    import warnings

    from mt_envs import test as checks

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pettingzoo.test import api_test, parallel_api_test
        from pettingzoo.utils.conversions import parallel_to_aec

        parallel_api_test(env_fn(), num_cycles=num_cycles)
        api_test(parallel_to_aec(env_fn()), num_cycles=num_cycles)
    checks.check_spaces_and_types(env_fn(), steps=num_cycles)
    checks.check_determinism(env_fn, steps=num_cycles)
    checks.check_pickle(env_fn)
    checks.check_task_switching(env_fn)
    if render:
        checks.check_render(env_fn)


def test_check_env_both_sets() -> None:
    from pettingzoo.test import parallel_api_test

    from mt_envs import test as checks

    _check_env(
        lambda render_mode=None: _env(tasks="corridor-5", render_mode=render_mode),
        num_cycles=100,
        render=True,
    )

    def symmetric(render_mode: str | None = None) -> Any:
        return _env(tasks="corridor-symmetric", obs_type="float", render_mode=render_mode)

    parallel_api_test(symmetric(), num_cycles=60)
    checks.check_spaces_and_types(symmetric(), steps=60)
    checks.check_determinism(symmetric, steps=60)
    checks.check_task_switching(symmetric)


def test_vector_env() -> None:
    _ensure_sets()
    from mt_envs import corridor_v0
    from mt_envs.test import check_vector_env

    for obs_type in ("multidiscrete", "float"):
        venv = corridor_v0.vector_env(64, obs_type=obs_type, tasks="corridor-5")
        check_vector_env(venv, steps=300)
    venv = corridor_v0.vector_env(8, tasks="corridor-symmetric", seed=0)
    obs, info = venv.reset(seed=0)
    assert obs.shape == (8, 2, 7) and venv.n_states == N_OBS_STATES
    np.testing.assert_array_equal(info["state_index"], obs_index(obs.astype(np.int64)))
