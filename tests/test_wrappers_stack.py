"""Indicators, whole wrapper stacks (alone, stacked, batched) and recording."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from pettingzoo import ParallelEnv
from test_wrappers_padding import ToyEnv, toy

import mt_envs
from mt_envs.capture import CaptureTask
from mt_envs.test import check_env, check_vector_env
from mt_envs.vector import SyncVectorEnv
from wrappers import (
    AgentIndicator,
    MultiTaskEnv,
    RecordEpisodes,
    TaskIndicator,
    record_parallel_env,
    save_video,
)
from wrappers.recording import HOLD_FRAMES, pad_frames

pytestmark = pytest.mark.filterwarnings(
    "ignore:No agents present but not all possible_agents:UserWarning"
)


def stack(
    tasks: Any = "mamt-2a-3to6", render_mode: str | None = None, env_id: str = "mamt_v0"
) -> ParallelEnv:
    """The benchmark stack: MultiTaskEnv(pad=True) + AgentIndicator + TaskIndicator."""
    mt = MultiTaskEnv.from_task_set(env_id, tasks, pad=True, render_mode=render_mode)
    return TaskIndicator(AgentIndicator(mt))


def het(render_mode: str | None = None) -> MultiTaskEnv:
    return MultiTaskEnv(
        [
            lambda: mt_envs.make(
                "mast_v0", tasks=[CaptureTask.mast(3, n_agents=2)], render_mode=render_mode
            ),
            lambda: mt_envs.make(
                "mamt_v0", tasks=[CaptureTask.mamt(4, n_agents=3)], render_mode=render_mode
            ),
        ],
        pad=True,
    )


# -- indicators alone ------------------------------------------------------------------------------
def _context(task_id: int, task: Any) -> list[float]:
    return [task.grid_size / 10, task.flicker, float(task_id)]


INDICATORS = {
    "agent": AgentIndicator,
    "task": TaskIndicator,
    "context": lambda e: TaskIndicator(e, context=_context),
}


@pytest.mark.parametrize("kind", list(INDICATORS))
def test_indicator_alone_passes_check_env(kind: str) -> None:
    def make(render_mode: str | None = None) -> ParallelEnv:
        return INDICATORS[kind](mt_envs.make("mamt_v0", tasks="mamt-3a", render_mode=render_mode))

    check_env(make, num_cycles=120, render=kind == "agent")


def test_indicator_values_and_strip_are_exact() -> None:
    inner = mt_envs.make("mamt_v0", tasks="mamt-2a-3to6")
    env = TaskIndicator(AgentIndicator(mt_envs.make("mamt_v0", tasks="mamt-2a-3to6")))
    assert env.observation_space("agent_0").shape == (8 + 2 + 4,)
    agent_ind = env.env
    assert isinstance(agent_ind, AgentIndicator)
    rng = np.random.default_rng(0)
    a, b = inner.reset(seed=1), env.reset(seed=1)
    for _ in range(300):
        (o0, i0), (o1, i1) = (a[0], a[-1]), (b[0], b[-1])
        assert set(o0) == set(o1)
        for k, (agent, o) in enumerate(sorted(o0.items())):
            task_id = i0[agent]["task_id"]
            assert i1[agent]["task_id"] == task_id
            x = o1[agent]
            assert x.dtype == np.float32 and env.observation_space(agent).contains(x)
            assert agent_ind.strip(env.strip(x)).tobytes() == o.tobytes()
            np.testing.assert_array_equal(x[8:10], np.eye(2)[k])
            np.testing.assert_array_equal(x[10:], np.eye(4)[task_id])
        if not inner.agents:
            a, b = inner.reset(), env.reset()
            continue
        acts = {agent: int(rng.integers(5)) for agent in inner.agents}
        a, b = inner.step(acts), env.step(dict(acts))


def test_stacked_indicators_step_as_one_layer_with_the_same_result() -> None:
    """AgentIndicator over TaskIndicator appends both vectors in one pass on steps: equal to
    appending them one by one, obs_mask extended over every appended entry."""
    bare = het()
    env = AgentIndicator(TaskIndicator(het()))
    assert env._chain and env._source is env.env.env
    rng = np.random.default_rng(2)
    a, b = bare.reset(seed=0), env.reset(seed=0)
    for _ in range(400):
        for agent, o in a[0].items():
            task_id = a[-1][agent]["task_id"]
            slot = env.possible_agents.index(agent)
            want = np.concatenate([o, np.eye(2)[task_id], np.eye(3)[slot]]).astype(np.float32)
            assert b[0][agent].tobytes() == want.tobytes()
            mask = np.concatenate([a[-1][agent]["obs_mask"], np.ones(5, bool)])
            np.testing.assert_array_equal(b[-1][agent]["obs_mask"], mask)
            assert b[-1][agent]["agent_mask"] is True
        if not bare.agents:
            assert not env.agents and not env.env.agents
            a, b = bare.reset(), env.reset()
            continue
        assert env.agents == env.env.agents == bare.agents
        acts = {agent: int(rng.integers(5)) for agent in bare.agents}
        a, b = bare.step(acts), env.step(dict(acts))


def test_task_context_vector_on_request() -> None:
    env = TaskIndicator(mt_envs.make("mamt_v0", tasks="mamt-2a-3to6"), context=_context)
    space = env.observation_space("agent_0")
    np.testing.assert_allclose(space.low[-3:], [0.3, 0.3, 0.0])
    np.testing.assert_allclose(space.high[-3:], [0.6, 0.3, 3.0])
    for task in range(4):
        obs, infos = env.reset(seed=task, options={"task": task})
        want = np.asarray(_context(task, infos["agent_0"]["task"]), np.float32)
        assert obs["agent_1"][-3:].tobytes() == want.tobytes()
    explicit = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
    env = TaskIndicator(toy(), n_tasks=1, context=lambda i, t: [0.5, -0.5], context_space=explicit)
    with pytest.raises(ValueError, match="needs infos\\[agent\\]\\['task_id'\\]"):
        env.reset(seed=0)


class TeamToy(ToyEnv):
    """A team env: agent ``i`` plays task ``i % 2`` (as in mt-envs' team modes)."""

    def _observe(self) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        obs, infos = super()._observe()
        for i, agent in enumerate(self.possible_agents):
            if agent in infos:
                infos[agent]["task_id"] = i % 2
        return obs, infos


def test_task_indicator_shows_each_agent_its_own_task() -> None:
    env = AgentIndicator(TaskIndicator(TeamToy(obs_sizes=(4, 4, 4), deaths=False), n_tasks=2))
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        if not env.agents:
            obs, _ = env.reset()
        for i, agent in enumerate(env.possible_agents):
            if agent in obs:
                np.testing.assert_array_equal(obs[agent][4:6], np.eye(2)[i % 2])
                np.testing.assert_array_equal(obs[agent][6:], np.eye(3)[i])
        obs, *_ = env.step({a: int(rng.integers(2)) for a in env.agents})


def test_indicator_bad_input() -> None:
    with pytest.raises(ValueError, match="pass n_tasks="):
        TaskIndicator(toy())
    with pytest.raises(ValueError, match="n_tasks=0"):
        TaskIndicator(toy(), 0)
    with pytest.raises(ValueError, match="needs context_space="):
        TaskIndicator(toy(), 2, context=lambda i, t: [0.0])
    with pytest.raises(ValueError, match="returned shape \\(2, 1\\)"):
        TaskIndicator(mt_envs.make("mamt_v0"), context=lambda i, t: [[0.0], [1.0]])
    with pytest.raises(TypeError, match="callable"):
        TaskIndicator(mt_envs.make("mamt_v0"), context=3)  # type: ignore[arg-type]
    env = TaskIndicator(mt_envs.make("mamt_v0", tasks="mamt-2a-3to6"), n_tasks=2)
    with pytest.raises(ValueError, match="task_id 3 is outside the 2 task ids"):
        env.reset(seed=0, options={"task": 3})
    flat2d = ToyEnv()
    flat2d._obs_spaces["speaker"] = gymnasium.spaces.Box(0.0, 1.0, (2, 2), np.float32)
    with pytest.raises(TypeError, match="flat Box observations, but speaker"):
        AgentIndicator(flat2d)


# -- whole stacks ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env_id", "tasks"),
    [("mamt_v0", "mamt-2a-3to6"), ("mamt_v0", "mamt-3a"), ("mast_v0", "mast-2a-4to8")],
)
def test_stack_on_capture_sets_passes_check_env_and_batched_conformance(
    env_id: str, tasks: str
) -> None:
    def make(render_mode: str | None = None) -> ParallelEnv:
        return stack(tasks, render_mode, env_id)

    check_env(make, num_cycles=100, render=tasks == "mamt-3a")
    venv = SyncVectorEnv(make, num_envs=4, seed=0)
    check_vector_env(venv, steps=150)
    n_tasks = len(mt_envs.task_sets.get(tasks))
    _, info = venv.reset(seed=0)
    assert venv.single_observation_space.shape[0] == (
        make().env.env.observation_space("agent_0").shape[0] + venv.num_agents + n_tasks
    )
    assert np.all(info["action_mask"]) and np.all(info["agent_mask"])


def test_heterogeneous_stack_batched_masks_per_task() -> None:
    def make() -> ParallelEnv:
        return TaskIndicator(AgentIndicator(het()))

    venv = SyncVectorEnv(make, num_envs=4, seed=0)
    check_vector_env(venv, steps=200)
    d = venv.single_observation_space.shape[0]
    assert d == 11 + 3 + 2
    for task, live in ((0, [True, True, False]), (1, [True, True, True])):
        obs, info = venv.reset(seed=task, options={"task": task})
        np.testing.assert_array_equal(info["agent_mask"], [live] * 4)
        np.testing.assert_array_equal(info["task_id"], [task] * 4)
        assert not obs[:, ~np.asarray(live)].any()  # the padded agent observes zeros
        for _ in range(20):
            before = info["agent_mask"]
            obs, rew, _, _, info = venv.step(np.full((4, 3), 4))
            assert not rew[~before].any() and not obs[~info["agent_mask"]].any()


def test_stack_pickles_and_keeps_term_trunc_distinct() -> None:
    import pickle

    env = stack("mamt-2a-3to6")
    env.reset(seed=0)
    clone = pickle.loads(pickle.dumps(env))
    rng = np.random.default_rng(0)
    ends = set()
    for _ in range(1500):
        if not env.agents:
            assert not clone.agents
            env.reset(), clone.reset()
        acts = {a: int(rng.integers(5)) for a in env.agents}
        x, y = env.step(acts), clone.step(dict(acts))
        assert {a: o.tobytes() for a, o in x[0].items()} == {
            a: o.tobytes() for a, o in y[0].items()
        }
        assert x[1:4] == y[1:4]
        term, trunc = x[2], x[3]
        assert not any(term[a] and trunc[a] for a in term)
        ends |= {"term" for v in term.values() if v} | {"trunc" for v in trunc.values() if v}
    assert ends == {"term", "trunc"}


# -- recording ------------------------------------------------------------------------------------
def test_pad_frames_centres_smaller_frames() -> None:
    a = np.full((2, 4, 3), 7, np.uint8)
    b = np.full((4, 2, 3), 9, np.uint8)
    pa, pb = pad_frames([a, b], multiple=2)
    assert pa.shape == pb.shape == (4, 4, 3)
    assert (pa[1:3] == 7).all() and not pa[0].any() and not pa[3].any()
    assert (pb[:, 1:3] == 9).all() and not pb[:, 0].any()
    assert pad_frames([a])[0] is a


def test_record_parallel_env_writes_a_gif_of_any_env(tmp_path: Path) -> None:
    iio = pytest.importorskip("imageio.v3")
    pytest.importorskip("pygame")
    env = het(render_mode="rgb_array")
    sizes = set()
    for task in (0, 1):
        env.reset(seed=0, options={"task": task})
        sizes.add(env.render().shape)
    assert len(sizes) == 2  # the slots draw at different sizes: frames get padded
    path, rows = record_parallel_env(env, tmp_path / "het.gif", episodes=3, seed=0)
    assert path == tmp_path / "het.gif" and len(rows) == 3
    frames = iio.imread(path, index=None)
    h = max(s[0] for s in sizes)
    w = max(s[1] for s in sizes)
    assert frames.shape[1:3] == (h, w) and frames.shape[0] >= 2
    toy_path, toy_rows = record_parallel_env(
        toy("rgb_array", deaths=False, horizon=4), tmp_path / "sub" / "toy.gif", episodes=2, fps=8
    )
    assert toy_path.exists() and [r["length"] for r in toy_rows] == [4, 4]
    assert iio.imread(toy_path, index=None).shape[0] >= 2 * (4 + HOLD_FRAMES) // 2


def test_record_episodes_wrapper_saves_the_triggered_episodes(tmp_path: Path) -> None:
    pytest.importorskip("imageio.v3")
    env = RecordEpisodes(
        MultiTaskEnv([toy("rgb_array", horizon=3), toy("rgb_array", horizon=5)], pad=True),
        tmp_path,
        episode_trigger=lambda i: i % 2 == 0,
        name_prefix="run",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pettingzoo.test import api_test, parallel_api_test
        from pettingzoo.utils.conversions import parallel_to_aec

        parallel_api_test(env, num_cycles=30)
        api_test(parallel_to_aec(env), num_cycles=30)
    saved_by_tests = len(env.saved)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    start = env.episode
    for _ in range(3):
        while env.agents:
            env.step({a: int(rng.integers(2)) for a in env.agents})
        env.reset()
    env.close()
    names = [p.name for p in env.saved[saved_by_tests:]]
    want = [f"run-{i:05d}.gif" for i in range(start, start + 4) if i % 2 == 0]
    assert names == want and all((tmp_path / n).stat().st_size > 0 for n in names)


def test_recording_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        record_parallel_env(toy(), tmp_path / "x.gif")
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        RecordEpisodes(toy(), tmp_path)
    with pytest.raises(ValueError, match="use a name ending in .gif or .mp4"):
        record_parallel_env(toy("rgb_array"), tmp_path / "x.avi")
    with pytest.raises(ValueError, match="episodes=0"):
        record_parallel_env(toy("rgb_array"), tmp_path / "x.gif", episodes=0)
    with pytest.raises(ValueError, match="video_format"):
        RecordEpisodes(toy("rgb_array"), tmp_path, video_format="avi")
    with pytest.raises(ValueError, match="no frames"):
        save_video([], tmp_path / "x.gif")
    frames = [np.zeros((5, 7, 3), np.uint8)] * 3
    if importlib.util.find_spec("imageio_ffmpeg") is None:
        with pytest.raises(ImportError, match="imageio-ffmpeg"):
            save_video(frames, tmp_path / "x.mp4")
    else:
        path = save_video(frames, tmp_path / "x.mp4", fps=4)
        assert path.stat().st_size > 0
    assert not list(tmp_path.glob(".*.tmp*"))  # no temporary file left behind
