"""Every registered env id over every task set meant for it passes the reusable checkers, and the
batched API conformance test runs on the native batched envs and on SyncVectorEnv."""

from __future__ import annotations

import functools

import numpy as np
import pettingzoo
import pytest

import mt_envs
from mt_envs import task_sets
from mt_envs.capture import CaptureTask
from mt_envs.test import check_env, check_vector_env
from mt_envs.vector import SyncVectorEnv

CASES = [(env_id, ts) for env_id in mt_envs.env_ids() for ts in task_sets.names(env_id)]
#: Families with a "team" mode (agent i plays task i) also have a "sampled" mode.
TEAM_IDS = ("gridworld_v0", "chain_v0")
SAMPLED_CASES = [(env_id, ts) for env_id, ts in CASES if env_id in TEAM_IDS]
CAPTURE_IDS = ("mast_v0", "mamt_v0")


@pytest.mark.parametrize(("env_id", "task_set"), CASES)
def test_env_passes_all_checks(env_id, task_set):
    check_env(functools.partial(mt_envs.make, env_id, tasks=task_set), num_cycles=200)


@pytest.mark.parametrize(("env_id", "task_set"), SAMPLED_CASES)
def test_sampled_mode_passes_all_checks(env_id, task_set):
    fn = functools.partial(mt_envs.make, env_id, tasks=task_set, mode="sampled")
    check_env(fn, num_cycles=200)


@pytest.mark.parametrize(("env_id", "task_set"), SAMPLED_CASES)
def test_native_vector_env_conformance_sampled_mode(env_id, task_set):
    venv = mt_envs.make_vec(env_id, 64, tasks=task_set, seed=0, mode="sampled")
    check_vector_env(venv, steps=200)


@pytest.mark.parametrize("env_id", CAPTURE_IDS)
def test_onehot_encoding_passes_all_checks(env_id):
    fn = functools.partial(mt_envs.make, env_id, obs_encoding="onehot")
    check_env(fn, num_cycles=100, render=False)


def test_mixed_agent_counts_pad_agents():
    tasks = [CaptureTask.mamt(4, n_agents=3), CaptureTask.mamt(3, n_agents=2, flicker=0.5)]
    check_env(functools.partial(mt_envs.make, "mamt_v0", tasks=tasks), num_cycles=200)
    env = mt_envs.make("mamt_v0", tasks=tasks)
    _, infos = env.reset(seed=0, options={"task": 1})
    assert env.agents == ["agent_0", "agent_1"] and env.possible_agents[-1] == "agent_2"
    assert set(infos) == {"agent_0", "agent_1"}


@pytest.mark.parametrize(("env_id", "task_set"), CASES)
def test_native_vector_env_conformance(env_id, task_set):
    check_vector_env(mt_envs.make_vec(env_id, 64, tasks=task_set, seed=0), steps=200)


@pytest.mark.parametrize("env_id", mt_envs.env_ids())
def test_sync_vector_env_conformance(env_id):
    venv = mt_envs.make_vec(env_id, 4, seed=0, native=False)
    assert isinstance(venv, SyncVectorEnv)
    check_vector_env(venv, steps=200)


def test_vector_env_with_padded_agents():
    tasks = [CaptureTask.mamt(4, n_agents=3), CaptureTask.mamt(3, n_agents=2)]
    for native in (True, False):
        venv = mt_envs.make_vec("mamt_v0", 16, tasks=tasks, seed=1, native=native)
        check_vector_env(venv, steps=150)
        _, info = venv.reset(seed=0, options={"task": 1})
        np.testing.assert_array_equal(info["agent_mask"], [[True, True, False]] * 16)
        np.testing.assert_array_equal(info["action_mask"][:, 2], [[False] * 4 + [True]] * 16)


def test_pettingzoo_registry_knows_our_ids():
    env = pettingzoo.make("parallel", "mt_envs/mamt_v0", tasks="mamt-3a")
    assert env.metadata["name"] == "mamt_v0" and len(env.possible_agents) == 3
    aec = pettingzoo.make("aec", "mt_envs/mast-v0")
    aec.reset(seed=0)
    assert aec.agent_selection == "agent_0"


def test_class_metadata_is_never_shared_or_mutated():
    a, b = mt_envs.make("mast_v0"), mt_envs.make("mamt_v0")
    assert a.metadata["name"] == "mast_v0" and b.metadata["name"] == "mamt_v0"
    assert a.metadata is not b.metadata
