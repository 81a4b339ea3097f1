"""Bad input gets an error that says what was expected; nothing is silently clipped or rounded."""

from __future__ import annotations

import numpy as np
import pytest

import mt_envs
from mt_envs import mamt_v0
from mt_envs.capture import CaptureTask


@pytest.fixture
def env():
    e = mamt_v0.parallel_env()
    e.reset(seed=0)
    return e


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (5, r"outside Discrete\(5\)"),
        (-1, r"outside Discrete\(5\)"),
        (2.0, "is a float"),
        (float("nan"), "is a float"),
        (True, "is a bool"),
        ("1", "is a str"),
        (np.array([1, 2]), "is a ndarray"),
    ],
)
def test_invalid_actions_are_refused(env, action, match):
    with pytest.raises(ValueError, match=match):
        env.step({"agent_0": action, "agent_1": 0})


def test_numpy_integer_actions_are_accepted(env):
    env.step({"agent_0": np.int64(1), "agent_1": np.array(4)})


def test_missing_and_unknown_agents(env):
    with pytest.raises(ValueError, match="missing action for live agent 'agent_1'"):
        env.step({"agent_0": 0})
    with pytest.raises(ValueError, match=r"unknown agent\(s\) \['agent_9'\]"):
        env.step({"agent_0": 0, "agent_1": 0, "agent_9": 0})


def test_stepping_a_finished_episode_or_before_reset():
    fresh = mamt_v0.parallel_env()
    with pytest.raises(RuntimeError, match="call reset"):
        fresh.step({"agent_0": 0, "agent_1": 0})
    env = mamt_v0.parallel_env(tasks=CaptureTask.mamt(6, horizon=2))
    env.reset(seed=0)
    while env.agents:
        env.step(dict.fromkeys(env.agents, 4))
    with pytest.raises(RuntimeError, match="finished episode"):
        env.step({"agent_0": 0, "agent_1": 0})


def test_reset_task_option_errors():
    env = mamt_v0.parallel_env()
    with pytest.raises(ValueError, match=r"valid ids are 0..3"):
        env.reset(options={"task": 4})
    with pytest.raises(ValueError, match="not in this env's task set"):
        env.reset(options={"task": CaptureTask.mamt(9)})
    with pytest.raises(KeyError, match="unknown task 'big'"):
        env.reset(options={"task": "big"})
    with pytest.raises(TypeError, match="task id"):
        env.reset(options={"task": 1.5})
    # a task name is a valid spec, as in wrappers.MultiTaskEnv
    _, infos = env.reset(options={"task": env.task_set.names[2]})
    assert all(info["task_id"] == 2 for info in infos.values())


def test_batched_action_arrays_are_checked():
    venv = mt_envs.make_vec("mamt_v0", 8, seed=0)
    with pytest.raises(RuntimeError, match="before reset"):
        venv.step(np.zeros((8, 2), dtype=np.int64))
    venv.reset()
    with pytest.raises(
        ValueError, match=r"expected an int array of shape \(num_envs, num_agents\)"
    ):
        venv.step(np.zeros((8,), dtype=np.int64))
    with pytest.raises(ValueError, match="floats, NaN and bools are refused"):
        venv.step(np.full((8, 2), np.nan))
    with pytest.raises(ValueError, match="floats, NaN and bools are refused"):
        venv.step(np.ones((8, 2), dtype=bool))
    a = np.zeros((8, 2), dtype=np.int64)
    a[3, 1] = 7
    with pytest.raises(
        ValueError, match=r"action 7 of env 3, agent slot 1 is outside Discrete\(5\)"
    ):
        venv.step(a)
    with pytest.raises(ValueError, match="task ids must lie in 0..3"):
        venv.reset(options={"task": 9})


def test_padded_agent_entries_are_ignored_not_refused():
    tasks = [CaptureTask.mamt(4, n_agents=3), CaptureTask.mamt(3, n_agents=2)]
    venv = mt_envs.make_vec("mamt_v0", 2, tasks=tasks, seed=0)
    venv.reset(options={"task": 1})
    venv.step(np.array([[0, 1, -5], [2, 3, 99]]))
    with pytest.raises(ValueError, match="env 0, agent slot 1"):
        venv.step(np.array([[0, 9, 0], [0, 0, 0]]))


def test_constructor_errors():
    with pytest.raises(KeyError, match="unknown task set 'mamt-2a'"):
        mamt_v0.parallel_env(tasks="mamt-2a")
    with pytest.raises(ValueError, match="obs_encoding='pixels' is invalid"):
        mamt_v0.parallel_env(obs_encoding="pixels")
    with pytest.raises(ValueError, match="render_mode='video' is invalid"):
        mamt_v0.parallel_env(render_mode="video")
    with pytest.raises(TypeError, match="tasks must be"):
        mamt_v0.parallel_env(tasks=3)
    with pytest.raises(ValueError, match="num_envs=0 is invalid"):
        mt_envs.make_vec("mamt_v0", 0)
    with pytest.raises(KeyError, match="unknown environment id 'mamt'"):
        mt_envs.make_vec("mamt", 4)
