"""Reusable environment checkers, like :mod:`pettingzoo.test`, for any mt-envs family.

``check_env(env_fn)`` runs everything below on a ParallelEnv factory; each check is also public.
``check_vector_env(venv)`` is the conformance test of the batched API (:mod:`mt_envs.vector`),
shared by the native batched envs and :class:`~mt_envs.vector.SyncVectorEnv`.

PettingZoo 1.27's own ``parallel_seed_test`` compares a single step, so determinism is checked here
on whole multi-episode trajectories; ``bombardment_test`` is skipped (it fails on every env with two
or more agents, see ECOSYSTEM.md).
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from mt_envs.vector.base import MultiAgentVectorEnv

EnvFn = Callable[..., ParallelEnv]

__all__ = [
    "check_determinism",
    "check_env",
    "check_pickle",
    "check_render",
    "check_spaces_and_types",
    "check_task_switching",
    "check_truncation",
    "check_vector_env",
    "random_actions",
    "rollout",
]


def random_actions(env: ParallelEnv, rng: np.random.Generator, infos: dict[str, Any]) -> dict:
    """Seeded random actions for the live agents, respecting ``infos[agent]["action_mask"]``.

    ``Box`` actions (continuous) are drawn uniformly in the box and returned as tuples of floats,
    so trajectories holding them still compare with ``==``.
    """
    out: dict[str, Any] = {}
    for agent in env.agents:
        space = env.action_space(agent)
        if isinstance(space, gymnasium.spaces.Box):
            out[agent] = tuple(float(v) for v in rng.uniform(space.low, space.high))
            continue
        n = int(space.n)
        mask = infos.get(agent, {}).get("action_mask")
        legal = np.flatnonzero(mask) if mask is not None else np.arange(n)
        out[agent] = int(legal[rng.integers(len(legal))])
    return out


def rollout(
    env: ParallelEnv, seed: int, steps: int, action_seed: int = 1, options: dict | None = None
) -> list[tuple]:
    """A multi-episode trajectory of ``steps`` steps with seeded random actions.

    The first reset uses ``seed``; later resets use no seed (the env's generators continue).
    Returns one record per reset and per step, with every observation, reward, flag and task id.
    """
    rng = np.random.default_rng(action_seed)
    obs, infos = env.reset(seed=seed, options=options)
    record: list[tuple] = [("reset", _freeze(obs), _task_ids(infos))]
    for _ in range(steps):
        if not env.agents:
            obs, infos = env.reset(options=options)
            record.append(("reset", _freeze(obs), _task_ids(infos)))
            continue
        actions = random_actions(env, rng, infos)
        obs, rew, term, trunc, infos = env.step(actions)
        record.append(
            ("step", actions, _freeze(obs), dict(rew), dict(term), dict(trunc), _task_ids(infos))
        )
    return record


def _freeze(obs: dict[str, Any]) -> dict[str, bytes]:
    return {a: np.asarray(o).tobytes() for a, o in obs.items()}


def _task_ids(infos: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {a: i.get("task_id") for a, i in infos.items()}


def check_spaces_and_types(env: ParallelEnv, seed: int = 0, steps: int = 300) -> None:
    """Checks PettingZoo's tests leave out: observations inside their space with their dtype,
    Python ``bool`` flags and ``float`` rewards, infos for every live agent, ``state()`` inside
    ``state_space``, cached spaces."""
    for agent in env.possible_agents:
        assert env.observation_space(agent) is env.observation_space(agent), "spaces not cached"
        assert env.action_space(agent) is env.action_space(agent), "spaces not cached"
    rng = np.random.default_rng(seed)
    obs, infos = env.reset(seed=seed)
    for _ in range(steps):
        if not env.agents:
            obs, infos = env.reset()
        assert set(infos) >= set(env.agents), f"infos lack agents: {set(env.agents) - set(infos)}"
        for agent, o in obs.items():
            space = env.observation_space(agent)
            assert o.dtype == space.dtype, f"{agent}: obs dtype {o.dtype} != {space.dtype}"
            assert space.contains(o), f"{agent}: observation {o} outside {space}"
        if hasattr(env, "state_space"):
            s = env.state()
            assert env.state_space.contains(s), f"state {s} outside {env.state_space}"
        live = list(env.agents)
        obs, rew, term, trunc, infos = env.step(random_actions(env, rng, infos))
        for agent in live:
            assert type(term[agent]) is bool and type(trunc[agent]) is bool, "flags must be bool"
            assert type(rew[agent]) is float, (
                f"reward must be a Python float, got {type(rew[agent])}"
            )
            assert not (term[agent] and trunc[agent]), "an agent both terminated and truncated"
        for agent in env.agents:
            assert agent in live, f"{agent} came back after it was done"
        for agent in live:
            if term[agent] or trunc[agent]:
                assert agent not in env.agents, f"{agent} is done but still in agents"


def check_determinism(env_fn: EnvFn, seed: int = 0, steps: int = 400) -> None:
    """Same seed, same actions: identical full trajectories over several episodes, for two fresh
    envs and for one env reset twice."""
    a = rollout(env_fn(), seed, steps)
    b = rollout(env_fn(), seed, steps)
    assert a == b, "two envs with the same seed and actions diverged"
    env = env_fn()
    rollout(env, seed + 1, 50)
    assert rollout(env, seed, steps) == a, "reset(seed) does not restore the trajectory"
    fresh = env_fn()
    if not getattr(fresh.unwrapped, "deterministic", False):  # e.g. chain-2 in team mode
        assert rollout(fresh, seed + 1, steps) != a, "different seeds gave identical trajectories"


def check_pickle(env_fn: EnvFn, seed: int = 0, steps: int = 200) -> None:
    """An env pickled mid-episode and unpickled continues exactly like the original."""
    env = env_fn()
    rng = np.random.default_rng(seed)
    _, infos = env.reset(seed=seed)
    for _ in range(7):
        if not env.agents:
            _, infos = env.reset()
        _, _, _, _, infos = env.step(random_actions(env, rng, infos))
    if not env.agents:
        _, infos = env.reset()
    clone = pickle.loads(pickle.dumps(env))
    assert rollout_continue(env, infos, seed, steps) == rollout_continue(clone, infos, seed, steps)


def rollout_continue(env: ParallelEnv, infos: dict, action_seed: int, steps: int) -> list[tuple]:
    """Continue the current episode (and later ones) with seeded random actions."""
    rng = np.random.default_rng(action_seed)
    out: list[tuple] = []
    for _ in range(steps):
        if not env.agents:
            obs, infos = env.reset()
            out.append(("reset", _freeze(obs)))
            continue
        obs, rew, term, trunc, infos = env.step(random_actions(env, rng, infos))
        out.append(("step", _freeze(obs), dict(rew), dict(term), dict(trunc)))
    return out


def _horizon(task: Any) -> int | None:
    """A task's step limit: ``max_steps`` (capture), else ``horizon``; ``None`` if it has none."""
    for name in ("max_steps", "horizon"):
        value = getattr(task, name, None)
        if isinstance(value, int):
            return value
    return None


def check_truncation(env: ParallelEnv, seed: int = 0, episodes: int = 20) -> None:
    """No agent outlasts its task's step limit, and a truncation happens exactly at it (each
    agent's own task in team envs, where agents play different tasks)."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    for _ in range(episodes):
        _, infos = env.reset()
        horizons = {agent: _horizon(info.get("task")) for agent, info in infos.items()}
        if any(h is None for h in horizons.values()):
            return
        length = 0
        while env.agents:
            _obs, _rew, _term, trunc, infos = env.step(random_actions(env, rng, infos))
            length += 1
            for agent, truncated in trunc.items():
                horizon = horizons[agent]
                assert horizon is not None and length <= horizon, (
                    f"{agent} outlived its task's horizon {horizon}"
                )
                if truncated:
                    assert length == horizon, (
                        f"{agent} truncated at step {length}, its horizon is {horizon}"
                    )


def check_task_switching(env_fn: EnvFn, seed: int = 0) -> None:
    """``reset(options={"task": i})`` plays task ``i`` of the task set; spaces never change.

    Skipped for envs without a task set and for team envs (``mode == "team"``: agent ``i`` always
    plays task ``i``, so there is no task to switch).
    """
    env = env_fn()
    task_set = getattr(env.unwrapped, "task_set", None)
    if task_set is None or getattr(env.unwrapped, "mode", None) == "team":
        return
    spaces = {a: (env.observation_space(a), env.action_space(a)) for a in env.possible_agents}
    for i in [*range(len(task_set)), *reversed(range(len(task_set)))]:
        _, infos = env.reset(seed=seed + i, options={"task": i})
        assert infos, "reset returned no infos"
        for agent in env.agents:
            assert infos[agent]["task_id"] == i, (
                f"asked for task {i}, got {infos[agent]['task_id']}"
            )
            assert infos[agent]["task"] == task_set[i]
        _obs, infos = env.reset(seed=seed, options={"task": task_set[i]})
        assert all(info["task_id"] == i for info in infos.values())
        for a in env.possible_agents:
            assert (env.observation_space(a), env.action_space(a)) == spaces[a]


def check_render(env_fn: EnvFn) -> None:
    """Every render mode of ``metadata["render_modes"]`` (PettingZoo's ``render_test`` on the AEC
    form, with a headless SDL driver)."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from pettingzoo.test import render_test

    render_test(lambda render_mode=None: parallel_to_aec(env_fn(render_mode=render_mode)))


def check_env(env_fn: EnvFn, *, num_cycles: int = 300, seed: int = 0, render: bool = True) -> None:
    """Run every check on a ParallelEnv factory (which must accept ``render_mode=``).

    PettingZoo's ``parallel_api_test``, ``api_test`` on ``parallel_to_aec`` and ``state_test``,
    then the checks of this module.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from pettingzoo.test import api_test, parallel_api_test

    parallel_api_test(env_fn(), num_cycles=num_cycles)
    api_test(parallel_to_aec(env_fn()), num_cycles=num_cycles)
    check_spaces_and_types(env_fn(), seed=seed, steps=num_cycles)
    check_determinism(env_fn, seed=seed, steps=num_cycles)
    check_pickle(env_fn, seed=seed)
    check_truncation(env_fn(), seed=seed)
    check_task_switching(env_fn, seed=seed)
    if render:
        check_render(env_fn)


def check_vector_env(venv: MultiAgentVectorEnv, steps: int = 300, seed: int = 0) -> None:
    """Conformance of the batched API (see :mod:`mt_envs.vector.base`).

    Steps with random legal actions and checks shapes, dtypes, masks, auto-reset bookkeeping
    (``final_obs``, ``_final``, ``episode``) against returns and lengths tracked here, and that bad
    action arrays are refused.
    """
    b, n = venv.num_envs, venv.num_agents
    d = venv.single_observation_space.shape[0]
    a = int(venv.single_action_space.n)
    s = venv.state_space.shape[0]
    try:
        venv.step(np.zeros((b, n), dtype=np.int64))
    except RuntimeError:
        pass
    else:
        raise AssertionError("step() before reset() must raise RuntimeError")
    rng = np.random.default_rng(seed)
    obs, info = venv.reset(seed=seed)
    _check_batch_info(venv, obs, info)
    ret = np.zeros((b, n))
    length = np.zeros(b, dtype=np.int64)
    task = info["task_id"].copy()
    ended = 0
    for _ in range(steps):
        legal = info["action_mask"]
        choice = rng.random((b, n, a)) * legal
        actions = choice.argmax(-1)
        assert legal[np.arange(b)[:, None], np.arange(n)[None], actions].all()
        live = info["agent_mask"].copy()
        obs, rew, term, trunc, info = venv.step(actions)
        _check_batch_info(venv, obs, info)
        assert rew.shape == (b, n) and rew.dtype == np.float32
        assert term.shape == (b, n) and term.dtype == np.bool_
        assert trunc.shape == (b, n) and trunc.dtype == np.bool_
        assert not np.any(rew[~live]), "padded agents got rewards"
        for key in ("final_obs", "final_state", "final_info", "_final", "episode"):
            assert key in info, f"step info lacks {key!r}"
        assert info["final_obs"].shape == (b, n, d)
        assert info["final_state"].shape == (b, s)
        done = info["_final"]
        assert done.shape == (b,) and done.dtype == np.bool_
        flags = term | trunc
        assert flags[done].all(), "an ended episode must flag every agent slot"
        running = (~flags & live)[~done]
        assert running.any(1).all(), "an episode with no running agent was not reset"
        assert not np.any(term & trunc), "an agent both terminated and truncated"
        ret += rew
        length += 1
        ep = info["episode"]
        np.testing.assert_array_equal(ep["mask"], done)
        np.testing.assert_allclose(ep["r"][done], ret[done], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(ep["l"][done], length[done])
        np.testing.assert_array_equal(ep["task_id"][done], task[done])
        np.testing.assert_array_equal(info["final_info"]["task_id"], task)
        keep = ~done
        np.testing.assert_array_equal(info["final_obs"][keep], obs[keep])
        np.testing.assert_array_equal(info["task_id"][keep], task[keep])
        ret[done] = 0.0
        length[done] = 0
        task = info["task_id"].copy()
        ended += int(done.sum())
    for bad in (
        np.zeros((b, n + 1), dtype=np.int64),
        np.zeros((b, n), dtype=np.float32),
        np.full((b, n), a, dtype=np.int64),
        np.full((b, n), -1, dtype=np.int64),
    ):
        try:
            venv.step(bad)
        except ValueError:
            continue
        raise AssertionError(f"bad action array {bad.dtype} {bad.shape} was accepted")
    assert ended > 0 or steps < 50, "no episode ended: auto-reset was not exercised"


def _check_batch_info(venv: MultiAgentVectorEnv, obs: np.ndarray, info: dict[str, Any]) -> None:
    b, n = venv.num_envs, venv.num_agents
    d = venv.single_observation_space.shape[0]
    a = int(venv.single_action_space.n)
    assert obs.shape == (b, n, d) and obs.dtype == np.float32, (obs.shape, obs.dtype)
    space = venv.single_observation_space
    assert np.all(obs >= space.low) and np.all(obs <= space.high), "observations outside space"
    assert info["task_id"].shape == (b,) and info["task_id"].dtype.kind in "iu"
    if venv.task_set is not None:
        assert np.all((info["task_id"] >= 0) & (info["task_id"] < len(venv.task_set)))
    assert info["state"].shape == (b, venv.state_space.shape[0])
    assert info["action_mask"].shape == (b, n, a) and info["action_mask"].dtype == np.bool_
    assert info["agent_mask"].shape == (b, n) and info["agent_mask"].dtype == np.bool_
    assert info["action_mask"].any(-1).all(), "every agent slot needs one legal action"
    assert info["agent_mask"].any(1).all(), "an env with no live agent"
    assert not np.any(obs[~info["agent_mask"]]), "padded agents must observe zeros"
