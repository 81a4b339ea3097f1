"""The multi-task GridWorld (SPECS.md section 5, paper 003 section 5.1): tasks and bad input, the
exact model against a direct step function, the env's dynamics, the shortest-path baseline
against the exact solver, the property of every named set (proved exactly), rendering and the
shared env checkers."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import warnings
from collections.abc import Callable

import numpy as np
import pytest

from mt_envs import gridworld_v0, task_sets
from mt_envs.gridworld import (
    DOWN,
    LEFT,
    RIGHT,
    SHARED_ROUTES,
    UP,
    GridWorldEnv,
    GridWorldTask,
    ShortestPathPolicy,
    build_model,
    distance_to_goal,
    route_cells,
    route_policy,
    shared_optimum,
    single_task_optimum,
    solvable_sets,
    solving_walk,
    walk_outcomes,
)
from mt_envs.gridworld.analysis import common_start
from mt_envs.gridworld.rendering import (
    FAILURE,
    GOAL,
    HEADER,
    MARGIN,
    OBSTACLE,
    PATH,
    SUCCESS,
    ascii_panels,
    board_layout,
)
from mt_envs.tabular.solvers import evaluate_policy, value_iteration
from mt_envs.tasks import task_from_dict

SETS = tuple(SHARED_ROUTES)
GAMMAS = (0.5, 0.9, 0.99)
MOVES = {UP: (-1, 0), DOWN: (1, 0), RIGHT: (0, 1), LEFT: (0, -1)}


def tasks_of(name: str) -> list[GridWorldTask]:
    out = [t for t in task_sets.get(name) if isinstance(t, GridWorldTask)]
    assert len(out) == len(task_sets.get(name))
    return out


def direct_step(
    task: GridWorldTask, cell: tuple[int, int], action: int
) -> tuple[tuple[int, int], float, bool]:
    """The rules of SPECS.md section 5, written independently of the package."""
    dr, dc = MOVES[action]
    r, c = cell[0] + dr, cell[1] + dc
    if not (0 <= r < task.rows and 0 <= c < task.cols):
        r, c = cell
    if (r, c) == task.goal:
        return (r, c), 1.0, True
    if (r, c) in task.obstacles:
        return (r, c), -1.0, True
    return (r, c), 0.0, False


def random_tasks(seed: int, count: int) -> list[GridWorldTask]:
    """Small random maps, square and not, some with dense obstacles (walled-in cells)."""
    rng = np.random.default_rng(seed)
    out: list[GridWorldTask] = []
    while len(out) < count:
        rows, cols = (int(v) for v in rng.integers(2, 8, size=2))
        cells = [(r, c) for r in range(rows) for c in range(cols)]
        order = rng.permutation(len(cells))
        goal = cells[order[0]]
        n_obs = int(rng.integers(0, max(1, int(0.45 * len(cells)))))
        obstacles = tuple(cells[k] for k in order[1 : 1 + n_obs])
        if len(obstacles) + 1 >= len(cells):
            continue
        out.append(GridWorldTask(goal=goal, obstacles=obstacles, rows=rows, cols=cols))
    return out


def conflicts(tasks: list[GridWorldTask]) -> set[tuple[int, int]]:
    """Pairs ``(i, j)``: task ``j``'s goal is an obstacle of task ``i``."""
    return {
        (i, j)
        for i, ti in enumerate(tasks)
        for j, tj in enumerate(tasks)
        if i != j and tj.goal in ti.obstacles
    }


# -- tasks and bad input --------------------------------------------------------------------------
def test_from_ascii_round_trip_and_names() -> None:
    task = GridWorldTask.from_ascii(
        """
        S . . X
        . X . .
        . . . G
        """
    )
    assert (task.rows, task.cols, task.goal) == (3, 4, (2, 3))
    assert task.obstacles == ((0, 3), (1, 1)) and task.start == ((0, 0),)
    assert GridWorldTask.from_ascii(task.to_ascii()) == task
    assert task.to_ascii(spaced=False).splitlines() == ["S..X", ".X..", "...G"]
    assert task.name.startswith("gw3x4-g2.3-2obs") and task.name.endswith("-s0.0")
    assert dataclasses.replace(task, start="uniform").start_cells == task.free_cells
    assert len(task.free_cells) == 12 - 3
    uniform = GridWorldTask.from_ascii(["..", ".G"])
    assert uniform.start == "uniform" and uniform.name == "gw2x2-g1.1-0obs"
    assert np.allclose(uniform.start_distribution(), [1 / 3, 1 / 3, 1 / 3, 0])
    for name in SETS:
        for t in task_sets.get(name):
            assert task_from_dict(t.to_dict()) == t
            assert GridWorldTask.from_dict(t.to_dict()).name == t.name
    names = [t.name for name in SETS for t in task_sets.get(name)]
    assert len(set(names)) == len(names), "task names must be unique across the sets"
    assert task_sets.get("gridworld-conflict-4")[1].name == "gw-conflict-1-top-left"
    assert task_sets.env_id_of("gridworld-6") == "gridworld_v0"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"goal": (0, 0), "rows": 1}, r"rows=1 .*\[2, 256\]"),
        ({"goal": (0, 0), "cols": 0}, r"cols=0"),
        ({"goal": (0, 0), "rows": 2.0}, r"rows=2.0"),
        ({"goal": (10, 0)}, r"goal=\(10, 0\) is outside the 10x10 grid"),
        ({"goal": (1, 2, 3)}, r"goal=.*\(row, col\)"),
        ({"goal": (0, 0), "obstacles": ((0, -1),)}, r"obstacles=\(0, -1\) is outside"),
        ({"goal": (0, 0), "obstacles": ((0, 0),)}, r"goal=\(0, 0\) is also an obstacle"),
        ({"goal": (0, 0), "start": ((1, 1), (0, 0))}, r"start cell \(0, 0\) is the goal"),
        ({"goal": (0, 0), "obstacles": ((3, 3),), "start": ((3, 3),)}, r"is an obstacle"),
        ({"goal": (0, 0), "start": "top-left"}, r"start='top-left' is cell \(0, 0\)"),
        ({"goal": (0, 0), "start": ()}, r"start=\(\) is empty"),
        ({"goal": (0, 0), "horizon": 0}, r"horizon=0"),
        ({"goal": (0, 0), "label": "a b"}, r"label='a b'"),
        (
            {"goal": (0, 0), "rows": 2, "cols": 2, "obstacles": ((0, 1), (1, 0), (1, 1))},
            r"no free cell",
        ),
    ],
)
def test_bad_tasks_raise_clear_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GridWorldTask(**kwargs)


def test_bad_maps_and_names() -> None:
    with pytest.raises(KeyError, match="Did you mean 'top-left'"):
        GridWorldTask(goal=(0, 0), start="topleft")
    with pytest.raises(ValueError, match="2 goal cells"):
        GridWorldTask.from_ascii(["G.", ".G"])
    with pytest.raises(ValueError, match="0 goal cells"):
        GridWorldTask.from_ascii(["..", ".."])
    with pytest.raises(ValueError, match="row 1 has 3 cells, row 0 has 2"):
        GridWorldTask.from_ascii(["G.", "..."])
    with pytest.raises(ValueError, match=r"cell \(0, 1\) is '\?'"):
        GridWorldTask.from_ascii(["G?", ".."])
    with pytest.raises(ValueError, match="columns=1|cols=1"):
        GridWorldTask.from_ascii(["G", "."])
    with pytest.raises(ValueError, match="start cells .* and start="):
        GridWorldTask.from_ascii(["GS", ".."], start="uniform")
    with pytest.raises(ValueError, match="map is empty"):
        GridWorldTask.from_ascii("\n  \n")
    with pytest.raises(KeyError, match="gridworld-conflict-4"):
        task_sets.get("gridworld-conflict4")
    small = GridWorldTask(goal=(0, 0), rows=3, cols=3)
    with pytest.raises(ValueError, match="mixes grid sizes"):
        GridWorldEnv(tasks=[small, GridWorldTask(goal=(0, 0))])
    with pytest.raises(ValueError, match=r"does not fit task 4 .*\(9, 0\), which is an obstacle"):
        GridWorldEnv(tasks="gridworld-6", start="bottom-left")
    with pytest.raises(ValueError, match="mode='sampled'"):
        GridWorldEnv().reset(options={"task": 0})
    with pytest.raises(ValueError, match="mode='solo' is invalid"):
        GridWorldEnv(mode="solo")
    with pytest.raises(ValueError, match="twice"):
        route_policy(small, [(0, 1), (1, 1), (0, 1)])
    with pytest.raises(ValueError, match="not a single move"):
        route_policy(small, [(0, 1), (2, 1)])
    with pytest.raises(ValueError, match="route move 'x'"):
        route_cells((0, 0), "RxD")
    with pytest.raises(ValueError, match="do not share a single start cell"):
        shared_optimum([small, dataclasses.replace(small, start="top-right")])
    with pytest.raises(ValueError, match="terminal cell of task 0"):
        solvable_sets([small], start=(0, 0))


# -- the model ------------------------------------------------------------------------------------
def test_model_agrees_with_a_direct_step_function() -> None:
    tasks = random_tasks(0, 40) + [t for name in SETS for t in tasks_of(name)]
    for task in tasks:
        model = build_model(task)
        assert model.n_states == task.rows * task.cols and model.n_actions == 4
        assert model.next_state.shape[2] == 1 and np.all(model.prob == 1.0)
        assert not model.next_state.flags.writeable and not model.reward.flags.writeable
        np.testing.assert_allclose(model.start, task.start_distribution())
        for r, c in itertools.product(range(task.rows), range(task.cols)):
            s = r * task.cols + c
            terminal = task.is_terminal((r, c))
            assert model.terminal[s] == terminal
            for a in range(4):
                if terminal:  # absorbing, zero reward
                    assert model.next_state[s, a, 0] == s and model.reward[s, a, 0] == 0.0
                    continue
                (r2, c2), rew, _done = direct_step(task, (r, c), a)
                assert model.next_state[s, a, 0] == r2 * task.cols + c2, (task.name, (r, c), a)
                assert model.reward[s, a, 0] == rew


def test_moves_off_the_grid_stay_put() -> None:
    task = GridWorldTask(goal=(1, 1), rows=3, cols=4)
    model = build_model(task)
    corners = {(0, 0): (UP, LEFT), (0, 3): (UP, RIGHT), (2, 0): (DOWN, LEFT), (2, 3): (DOWN, RIGHT)}
    for (r, c), actions in corners.items():
        for a in actions:
            s = r * 4 + c
            assert model.next_state[s, a, 0] == s and model.reward[s, a, 0] == 0.0
            assert task.move((r, c), a) == (r, c)


def test_env_steps_follow_the_model_in_both_modes() -> None:
    for mode in ("sampled", "team"):
        env = GridWorldEnv(
            tasks=random_tasks(1, 6)[:1] * 3 if mode == "team" else "gridworld-6",
            mode=mode,
            start="uniform",
        )
        rng = np.random.default_rng(0)
        obs, infos = env.reset(seed=3)
        for _ in range(600):
            if not env.agents:
                obs, infos = env.reset()
            acts = {a: int(rng.integers(4)) for a in env.agents}
            before = dict(obs)
            obs, rew, term, _trunc, infos = env.step(acts)
            for agent, a in acts.items():
                model = env.models[infos[agent]["task_id"]]
                s = int(before[agent])
                assert obs[agent] == model.next_state[s, a, 0]
                assert rew[agent] == model.reward[s, a, 0]
                assert term[agent] == bool(model.terminal[obs[agent]])
                assert infos[agent]["state_index"] == env.state_index(obs[agent]) == obs[agent]


def test_goal_and_obstacle_end_the_episode_with_their_rewards() -> None:
    task = GridWorldTask.from_ascii(
        """
        . . . .
        X S . G
        . . . .
        """
    )
    env = GridWorldEnv(tasks=[task], mode="sampled")
    obs, _ = env.reset(seed=0)
    assert obs["agent_0"] == 5
    _, rew, term, trunc, _ = env.step({"agent_0": LEFT})
    assert (rew, term, trunc, env.agents) == (
        {"agent_0": -1.0},
        {"agent_0": True},
        {"agent_0": False},
        [],
    )
    env.reset()
    env.step({"agent_0": RIGHT})
    obs, rew, term, _, _ = env.step({"agent_0": RIGHT})
    assert obs["agent_0"] == 7 and rew["agent_0"] == 1.0 and term["agent_0"] and not env.agents
    # Bumping into the top wall for the whole horizon: truncated exactly at step 100, reward 0.
    env.reset()
    env.step({"agent_0": UP})
    for t in range(2, 101):
        _, rew, term, trunc, _ = env.step({"agent_0": UP})
        assert rew["agent_0"] == 0.0 and not term["agent_0"]
        assert trunc["agent_0"] == (t == 100)
    assert not env.agents and env.num_steps == 100


def test_team_mode_gives_agent_i_task_i_and_agents_leave_one_by_one() -> None:
    env = gridworld_v0.parallel_env(tasks="gridworld-conflict-4")
    assert env.mode == "team" and env.possible_agents == [f"agent_{i}" for i in range(4)]
    obs, infos = env.reset(seed=0)
    assert [infos[a]["task_id"] for a in env.agents] == [0, 1, 2, 3]
    assert all(infos[a]["task"] == env.task_set[i] for i, a in enumerate(env.agents))
    policy = ShortestPathPolicy.for_env(env)
    finished_at = {}
    while env.agents:
        obs, rew, term, _trunc, infos = env.step(policy(obs, infos, env.agents))
        for agent in rew:
            if term[agent]:
                assert rew[agent] == 1.0
                finished_at[agent] = env.num_steps
    dist = [int(distance_to_goal(t)[0]) for t in env.task_set]  # type: ignore[arg-type]
    assert [finished_at[f"agent_{i}"] for i in range(4)] == dist == [4, 8, 9, 16]


def test_start_option_draws_uniform_free_cells() -> None:
    env = GridWorldEnv(tasks="gridworld-noconflict-4", mode="sampled", start="uniform")
    assert env.task_set.name == "gridworld-noconflict-4(start=uniform)"
    task = env.task_set[0]
    counts = np.zeros(100)
    env.reset(seed=1, options={"task": 0})
    n = 4000
    for _ in range(n):
        obs, _ = env.reset(options={"task": 0})
        counts[obs["agent_0"]] += 1
    free = [task.index(c) for c in task.free_cells]  # type: ignore[attr-defined]
    assert counts.sum() == counts[free].sum(), "a start on the goal or an obstacle"
    k = len(free)
    chi2 = float((((counts[free] - n / k) ** 2) / (n / k)).sum())
    assert chi2 < (k - 1) + 4 * np.sqrt(2 * (k - 1)), chi2


# -- the baseline against the exact solver --------------------------------------------------------
def test_shortest_path_policy_is_optimal_for_every_task() -> None:
    # Values do not depend on the start: the distinct maps of the sets, and random maps.
    named = list({dataclasses.replace(t, start="uniform") for n in SETS for t in tasks_of(n)})
    for g, tasks in ((0.9, random_tasks(2, 12)), (0.99, named)):
        for task in tasks:
            model = build_model(task)
            policy = ShortestPathPolicy(task)
            v_star, _q, _greedy = value_iteration(model, g)
            v_pi = evaluate_policy(model, policy.probs(0), g)[:, 0]
            np.testing.assert_allclose(v_pi, v_star, atol=1e-10, err_msg=task.name)
            for cell in task.free_cells:
                assert single_task_optimum(task, cell, g) == pytest.approx(
                    v_star[task.index(cell)], abs=1e-12
                )
    # Batched form: the table read with (task id, cell index) arrays.
    env_tasks = task_sets.get("gridworld-6")
    policy = ShortestPathPolicy(env_tasks)
    cells = np.array([[0, 9, 50]])
    np.testing.assert_array_equal(
        policy.act(cells, np.array([[0], [5]])), policy.table[[[0], [5]], cells]
    )


# -- the property of each named set ---------------------------------------------------------------
def route_of(name: str) -> tuple[list[GridWorldTask], list[tuple[int, int]]]:
    tasks = tasks_of(name)
    return tasks, route_cells(common_start(tasks), SHARED_ROUTES[name])


@pytest.mark.parametrize("name", SETS)
def test_each_set_route_is_a_best_shared_policy(name: str) -> None:
    """The documented route, played by a deterministic tabular policy and evaluated exactly on
    every task's model, attains the optimum of eq. 5 over all shared policies."""
    tasks, route = route_of(name)
    assert len({(t.rows, t.cols) for t in tasks}) == 1 and len(set(route)) == len(route)
    outcomes = walk_outcomes(tasks, route)
    assert all(kind != "running" for kind, _ in outcomes), "the route must end every task"
    for g in (0.9, 0.99):
        total = 0.0
        for task, (kind, step) in zip(tasks, outcomes, strict=True):
            model = build_model(task)
            v = evaluate_policy(model, route_policy(task, route), g)[:, 0]
            expect = (1.0 if kind == "goal" else -1.0) * g ** (step - 1)
            assert v @ model.start == pytest.approx(expect, abs=1e-12)
            total += expect
        best, walk = shared_optimum(tasks, gamma=g)
        assert best == pytest.approx(total, abs=1e-12)
        assert sum(
            (1 if k == "goal" else -1 if k == "obstacle" else 0) * g ** (t - 1)
            for k, t in walk_outcomes(tasks, walk)
        ) == pytest.approx(best, abs=1e-12)


def optimum_sum(tasks: list[GridWorldTask], g: float) -> float:
    s0 = common_start(tasks)
    return sum(single_task_optimum(t, s0, g) for t in tasks)


def optimal_for_every_task(tasks: list[GridWorldTask], route: list[tuple[int, int]]) -> bool:
    s0 = common_start(tasks)
    return all(
        kind == "goal" and step == distance_to_goal(t)[t.index(s0)]
        for t, (kind, step) in zip(tasks, walk_outcomes(tasks, route), strict=True)
    )


@pytest.mark.parametrize("g", GAMMAS)
def test_noconflict_and_conflict_sets_are_solved_optimally_by_one_policy(g: float) -> None:
    for name, expected in (("gridworld-noconflict-4", set()), ("gridworld-conflict-4", {(1, 2)})):
        tasks, route = route_of(name)
        assert conflicts(tasks) == expected
        assert solvable_sets(tasks) == [frozenset(range(4))]
        assert optimal_for_every_task(tasks, route)
        assert shared_optimum(tasks, gamma=g)[0] == pytest.approx(optimum_sum(tasks, g), abs=1e-12)


@pytest.mark.parametrize("g", GAMMAS)
def test_unsolvable_set_finishes_at_most_3_of_4(g: float) -> None:
    tasks, route = route_of("gridworld-unsolvable-4")
    assert conflicts(tasks) == {(1, 2), (2, 1)}
    # No shared policy (of any kind) finishes 1 and 2 together; 3 of 4 is possible both ways.
    assert solvable_sets(tasks) == [frozenset({0, 1, 3}), frozenset({0, 2, 3})]
    assert solving_walk(tasks, range(4)) is None
    for subset in ({0, 1, 3}, {0, 2, 3}):
        walk = solving_walk(tasks, subset)
        assert walk is not None
        assert {i for i, (k, _) in enumerate(walk_outcomes(tasks, walk)) if k == "goal"} >= subset
    assert [k for k, _ in walk_outcomes(tasks, route)] == ["goal", "goal", "obstacle", "goal"]
    # Tasks 1 and 2 together are worth at most 0: the optimum is that of tasks 0 and 3 alone.
    s0 = common_start(tasks)
    best = shared_optimum(tasks, gamma=g)[0]
    expect = single_task_optimum(tasks[0], s0, g) + single_task_optimum(tasks[3], s0, g)
    assert best == pytest.approx(expect, abs=1e-12)
    assert best < optimum_sum(tasks, g) - 0.9 * g**8


@pytest.mark.parametrize("g", GAMMAS)
def test_six_tasks_depend_on_the_start_corner(g: float) -> None:
    right, route_right = route_of("gridworld-6-topright")
    left, route_left = route_of("gridworld-6")
    assert [dataclasses.replace(t, start="top-left") for t in right] == left
    assert conflicts(left) == {(k, k + 1) for k in range(5)}
    # Top-right (figure 2e): one route is optimal for all six tasks.
    assert optimal_for_every_task(right, route_right)
    assert shared_optimum(right, gamma=g)[0] == pytest.approx(optimum_sum(right, g), abs=1e-12)
    # Top-left (figure 2d): all six can still be finished, but no shared policy is optimal for
    # every task (the gap is at least one discounted detour).
    assert solvable_sets(left) == [frozenset(range(6))]
    assert not optimal_for_every_task(left, route_left)
    best = shared_optimum(left, gamma=g)[0]
    assert best < optimum_sum(left, g) - 1e-3 * g**25
    assert [k for k, _ in walk_outcomes(left, route_left)] == ["goal"] * 6


def test_analysis_on_hand_solved_examples() -> None:
    g = 0.9
    # Goals at both ends of a 2x5 strip, start in the middle: one end, then the other.
    a = GridWorldTask(goal=(0, 0), rows=2, cols=5, start=((0, 2),))
    b = dataclasses.replace(a, goal=(0, 4))
    assert shared_optimum([a, b], gamma=g)[0] == pytest.approx(g + g**5)
    assert solvable_sets([a, b]) == [frozenset({0, 1})]
    # The same goals, each the other's obstacle: the pair is worth 0, one at a time.
    a2 = dataclasses.replace(a, obstacles=((0, 4),))
    b2 = dataclasses.replace(b, obstacles=((0, 0),))
    assert shared_optimum([a2, b2], gamma=g)[0] == pytest.approx(0.0, abs=1e-15)
    assert solvable_sets([a2, b2]) == [frozenset({0}), frozenset({1})]
    assert solving_walk([a2, b2], [1]) == [(0, 2), (0, 3), (0, 4)]


# -- rendering ------------------------------------------------------------------------------------
def test_rgb_frames_show_goals_obstacles_path_and_outcome() -> None:
    env = GridWorldEnv(tasks="gridworld-unsolvable-4", render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    first = env.render_rgb()
    per_row, _rows, cell = board_layout(4, 10, 10)
    bw = 10 * cell

    def pixel(frame: np.ndarray, g: int, r: int, c: int) -> tuple[int, ...]:
        x0 = MARGIN + (g % per_row) * (bw + 14)
        y0 = MARGIN + (g // per_row) * (HEADER + bw + 14) + HEADER
        # Mid-height, 2 px from the left edge: clear of grid lines, goal frame and agent.
        return tuple(frame[y0 + r * cell + cell // 2, x0 + c * cell + 2])

    assert pixel(first, 1, 5, 3) == GOAL and pixel(first, 2, 5, 3) == OBSTACLE
    route = route_cells((0, 0), SHARED_ROUTES["gridworld-unsolvable-4"])
    moves = [route[i + 1] for i in range(len(route) - 1)]
    for there in moves:
        if not env.agents:
            break
        here = env.task_set[0].cell(int(obs[env.agents[0]]))  # type: ignore[attr-defined]
        a = next(k for k, d in MOVES.items() if (here[0] + d[0], here[1] + d[1]) == there)
        obs, *_ = env.step(dict.fromkeys(env.agents, a))
        frame = env.render_rgb()
        assert frame.shape == first.shape
    assert pixel(frame, 3, 4, 1) == PATH  # on the way to task 3's goal
    x0 = MARGIN + bw + 14  # agent 1's board, framed green: it reached its goal
    assert tuple(frame[MARGIN + HEADER + 1, x0 + 1]) == SUCCESS
    assert tuple(frame[MARGIN + HEADER + 1, MARGIN + bw // 2]) == SUCCESS
    y2 = MARGIN + HEADER + bw + 14 + HEADER  # agent 2's board: it entered an obstacle
    assert tuple(frame[y2 + 1, MARGIN + 1]) == FAILURE


def test_ansi_and_human_render() -> None:
    env = GridWorldEnv(tasks="gridworld-conflict-4", render_mode="ansi")
    env.reset(seed=0)
    env.step(dict.fromkeys(env.agents, DOWN))
    text = env.render()
    assert isinstance(text, str)
    lines = text.splitlines()
    assert lines[0] == "gridworld-conflict-4 | team | step 1/100"
    assert lines[1].split() == ["agent", "0", "agent", "1", "agent", "2", "agent", "3"]
    assert lines[2].split() == ["+........."] * 4 and lines[3].split()[0] == "0.X......."
    assert lines[-1].split() == ["playing"] * 4
    human = GridWorldEnv(tasks="gridworld-6", mode="sampled", render_mode="human")
    human.reset(seed=0)
    human.step({"agent_0": LEFT})
    human.close()


def test_env_card_shows_every_set_and_its_route() -> None:
    card = gridworld_v0.__doc__ or ""
    for name in SETS:
        tasks, route = route_of(name)
        picture = "\n".join("        " + line for line in ascii_panels(tasks, route).splitlines())
        assert picture in card, f"the env card's picture of {name} is stale"
        assert f"``{name}``" in card


# -- shared checkers ------------------------------------------------------------------------------
def _team_checks(env_fn: Callable[..., GridWorldEnv], cycles: int) -> None:
    """check_env for team mode, less the parts that do not apply: ``check_task_switching``
    (``options["task"]`` is refused in team mode, tested above) and, for fixed start cells,
    "different seeds give different trajectories" (nothing is random then)."""
    from pettingzoo.test import api_test, parallel_api_test
    from pettingzoo.utils.conversions import parallel_to_aec

    from mt_envs import test as checks

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parallel_api_test(env_fn(), num_cycles=cycles)
        api_test(parallel_to_aec(env_fn()), num_cycles=cycles)
    checks.check_spaces_and_types(env_fn(), steps=cycles)
    assert checks.rollout(env_fn(), 0, cycles) == checks.rollout(env_fn(), 0, cycles)
    checks.check_pickle(env_fn)
    checks.check_truncation(env_fn())


@pytest.mark.parametrize("name", SETS)
def test_check_env_and_vector_env(name: str) -> None:
    from mt_envs.test import check_env, check_vector_env

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(
            functools.partial(gridworld_v0.parallel_env, tasks=name, mode="sampled"),
            num_cycles=100,
            render=name == "gridworld-6",
        )
        _team_checks(functools.partial(gridworld_v0.parallel_env, tasks=name), 100)
    if name == "gridworld-conflict-4":
        # With random starts, different seeds must give different team trajectories.
        from mt_envs.test import check_determinism

        check_determinism(
            functools.partial(gridworld_v0.parallel_env, tasks=name, start="uniform"), steps=100
        )
    for mode in ("sampled", "team"):
        venv = gridworld_v0.vector_env(32, tasks=name, mode=mode, seed=0)
        check_vector_env(venv, steps=120)


def test_vector_env_matches_the_parallel_env_and_the_baseline() -> None:
    venv = gridworld_v0.vector_env(16, tasks="gridworld-6-topright", seed=0)
    policy = ShortestPathPolicy.for_env(venv)
    obs, info = venv.reset(seed=0)
    assert obs.shape == (16, 6, 100) and venv.n_states == 100 and venv.n_actions == 4
    np.testing.assert_array_equal(info["state_index"], np.full((16, 6), 9))
    np.testing.assert_array_equal(info["agent_task_id"], np.tile(np.arange(6), (16, 1)))
    returns = np.zeros((16, 6))
    for _ in range(18):
        acts = policy.act(info["state_index"], info["agent_task_id"])
        obs, rew, _term, _trunc, info = venv.step(acts)
        returns += rew
    np.testing.assert_array_equal(returns, np.ones((16, 6)))


def test_gymnasium_registration() -> None:
    import gymnasium
    from gymnasium.utils.env_checker import check_env as gym_check_env

    from mt_envs.tabular.gym import register_gymnasium

    register_gymnasium()
    env = gymnasium.make("mt_envs/GridWorld-v0", tasks="gridworld-6", task=3)
    gym_check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert (
        obs == 0
        and info["task_id"] == 3
        and env.observation_space == gymnasium.spaces.Discrete(100)
    )
    policy = ShortestPathPolicy("gridworld-6")
    total, done, steps = 0.0, False, 0
    while not done:
        obs, rew, term, trunc, info = env.step(int(policy.act(obs, 3)))
        total, done, steps = total + float(rew), term or trunc, steps + 1
    assert (total, steps) == (1.0, distance_to_goal(tasks_of("gridworld-6")[3])[0])
    sampled = gymnasium.make(
        "mt_envs/GridWorld-v0", tasks="gridworld-unsolvable-4", start="uniform", render_mode="ansi"
    )
    seen = set()
    for seed in range(40):
        _, info = sampled.reset(seed=seed)
        seen.add(info["task_id"])
    assert seen == {0, 1, 2, 3}
    text = sampled.render()
    assert isinstance(text, str) and "gridworld-unsolvable-4(start=uniform) | sampled" in text
