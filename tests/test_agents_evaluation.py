"""evaluate_multitask, its renderers, MultiAgentEvalCallback and the learning-curve plots."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from stable_baselines3.common.logger import Logger
from test_agents_common import Capture, LinearQ, make_venv, read_progress

import mt_envs
from mt_agents import EvaluationResult, MultiAgentEvalCallback, evaluate_multitask
from mt_agents.plot import plot_learning_curves, read_csv_log
from mt_envs import mast_v0
from mt_envs.capture import CaptureVectorEnv, GreedyPolicy
from mt_envs.play import make_policy, run_episodes, summarize

torch.set_num_threads(1)
GAMMA = 0.95


class GreedyModel:
    """The scripted greedy chaser behind a model's ``predict`` (anything with predict works).

    The greedy policy reads each env's task id (privileged information); it takes it from the
    env it plays, the ParallelEnv's ``task_id`` or the batched env's current task ids.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        self.policy = GreedyPolicy.for_env(env)

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        if isinstance(self.env, CaptureVectorEnv):
            task_id = self.env.core.task_id
        else:
            task_id = np.array([self.env.unwrapped.task_id])
        return self.policy.act(observation, task_id, episode_start), state


class RandomModel:
    """Seeded uniform actions: cheap, and episodes of every length."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def predict(self, observation: np.ndarray, **_: Any) -> tuple[np.ndarray, None]:
        return self.rng.integers(0, 5, size=observation.shape[:2]), None


def check_episodes(result: EvaluationResult, env_tasks: Any) -> None:
    """Exact facts of MAST episodes: return 1 iff captured, discounted gamma^(l-1)."""
    for e in result.episodes:
        task = env_tasks[e["task_id"]]
        assert e["task"] == task.name
        assert e["return"] == (1.0 if e["terminated"] else 0.0)
        want = GAMMA ** (e["length"] - 1) if e["terminated"] else 0.0
        assert e["discounted_return"] == pytest.approx(want)
        assert 1 <= e["length"] <= task.max_steps
        if not e["terminated"]:
            assert e["length"] == task.max_steps


# ------------------------------------------------------------------------------- episode counts


@pytest.mark.parametrize(
    ("kind", "n"),
    [("native", 5), ("native", 13), ("sync", 4), ("parallel", 3)],
)
def test_exact_episode_counts(kind: str, n: int) -> None:
    if kind == "native":  # one task id per copy
        env: Any = make_venv(8)
    elif kind == "sync":  # SyncVectorEnv: one task per round
        env = mt_envs.make_vec("mast_v0", 3, seed=0, native=False)
    else:
        env = mast_v0.parallel_env()
    result = evaluate_multitask(RandomModel(), env, n_episodes=n, gamma=GAMMA, seed=1)
    names = mast_v0.parallel_env().task_set.names
    assert [r["task"] for r in result.rows] == names
    assert [r["episodes"] for r in result.rows] == [n] * 5
    assert len(result.episodes) == 5 * n and result.mean["episodes"] == 5 * n
    check_episodes(result, mast_v0.parallel_env().task_set)


def test_task_subset_and_bad_arguments() -> None:
    venv = make_venv(4)
    result = evaluate_multitask(RandomModel(), venv, n_episodes=3, tasks=[4, 1])
    assert [r["task_id"] for r in result.rows] == [1, 4]
    assert result.row("mast-8x8-2a-pf0")["episodes"] == 3
    with pytest.raises(KeyError, match="was not evaluated"):
        result.row(0)
    with pytest.raises(ValueError, match="n_episodes=0"):
        evaluate_multitask(RandomModel(), venv, n_episodes=0)
    with pytest.raises(ValueError, match=r"task ids in 0\.\.4"):
        evaluate_multitask(RandomModel(), venv, n_episodes=1, tasks=[5])
    with pytest.raises(TypeError, match="predict"):
        evaluate_multitask(object(), venv, n_episodes=1)


def test_same_seed_same_result() -> None:
    venv = make_venv(8)
    model = LinearQ(venv, seed=0, device="cpu", epsilon=0.5)
    a = evaluate_multitask(model, venv, n_episodes=6, deterministic=False, seed=3)
    model.np_random = np.random.default_rng(0)
    b = evaluate_multitask(model, make_venv(8), n_episodes=6, deterministic=False, seed=3)
    assert a.episodes == b.episodes
    model.np_random = np.random.default_rng(0)
    c = evaluate_multitask(model, make_venv(8), n_episodes=6, deterministic=False, seed=4)
    assert c.episodes != a.episodes


# ------------------------------------------------------------------------------- statistics


def test_confidence_intervals_and_mean_row() -> None:
    result = evaluate_multitask(RandomModel(1), make_venv(8), n_episodes=12, seed=0)
    for row in result.rows:
        eps = [e for e in result.episodes if e["task_id"] == row["task_id"]]
        disc = np.array([e["discounted_return"] for e in eps])
        lengths = np.array([e["length"] for e in eps])
        success = np.array([e["terminated"] for e in eps], dtype=float)
        assert row["disc_return"] == pytest.approx(disc.mean())
        assert row["disc_return_ci95"] == pytest.approx(1.96 * disc.std(ddof=1) / math.sqrt(12))
        assert row["length"] == pytest.approx(lengths.mean())
        assert row["length_ci95"] == pytest.approx(1.96 * lengths.std(ddof=1) / math.sqrt(12))
        assert row["success_rate"] == pytest.approx(success.mean())
        assert row["return"] == pytest.approx(row["success_rate"])  # MAST: return = capture
    mean = result.mean
    assert mean["task"] == "mean" and mean["task_id"] is None
    for key in ("return", "disc_return", "success_rate", "length"):
        assert mean[key] == pytest.approx(np.mean([r[key] for r in result.rows]))
        cis = [r[f"{key}_ci95"] for r in result.rows]
        assert mean[f"{key}_ci95"] == pytest.approx(math.sqrt(sum(c * c for c in cis)) / 5)
    single = evaluate_multitask(RandomModel(), make_venv(2), n_episodes=1, tasks=[0])
    assert single.rows[0]["disc_return_ci95"] is None and single.mean["length_ci95"] is None


def test_renderers() -> None:
    result = evaluate_multitask(RandomModel(2), make_venv(8), n_episodes=4, seed=0)
    md = result.to_markdown().splitlines()
    assert len(md) == 2 + 5 + 1 and md[0].startswith("| id | task")
    assert "disc. return (gamma 0.95)" in md[0] and set(md[1]) <= set("|-:")
    assert all(line.count("|") == md[0].count("|") for line in md)
    assert "±" in md[2] and md[-1].split("|")[2].strip() == "mean"
    assert str(result) == result.to_markdown()
    rows = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert [r["task"] for r in rows] == [*mast_v0.parallel_env().task_set.names, "mean"]
    for parsed, row in zip(rows, [*result.rows, result.mean], strict=True):
        assert float(parsed["disc_return"]) == pytest.approx(row["disc_return"])
        assert int(parsed["episodes"]) == row["episodes"]
    data = json.loads(result.to_json())
    assert data["gamma"] == GAMMA and data["n_episodes"] == 4 and data["deterministic"]
    assert data["tasks"] == json.loads(json.dumps(result.rows))
    assert data["mean"]["task"] == "mean" and "episodes" not in data
    full = json.loads(result.to_json(episodes=True))
    assert len(full["episodes"]) == 20


# ------------------------------------------------------------------------------- vs mt_envs.play


def test_greedy_matches_play_within_ci() -> None:
    """The greedy chaser as a model reproduces mt-envs play's per-task numbers."""
    n = 40
    env = mast_v0.parallel_env()
    ours = evaluate_multitask(GreedyModel(env), env, n_episodes=n, gamma=GAMMA, seed=0)
    policy = make_policy("greedy", env)
    rows = [r for t in range(5) for r in run_episodes(env, policy, n, seed=100 + t, task=t)]
    play = summarize(rows, gamma=GAMMA)
    venv = make_venv(16)
    batched = evaluate_multitask(GreedyModel(venv), venv, n_episodes=n, gamma=GAMMA, seed=7)
    for p, a, b in zip(play, ours.rows, batched.rows, strict=True):
        assert p["task"] == a["task"] == b["task"] and p["episodes"] == a["episodes"] == n
        for other in (a, b):
            gap = abs(other["disc_return"] - p["disc_return"])
            assert gap <= other["disc_return_ci95"] + p["disc_return_ci95"]
            assert other["success_rate"] == p["capture_rate"] == 1.0  # greedy always captures
    # 8x8: about 0.69 (mast_v0 docs)
    assert ours.row("mast-8x8-2a-pf0")["disc_return"] == pytest.approx(0.69, abs=0.06)


# ------------------------------------------------------------------------------- callback


def test_eval_callback_writes_logs(tmp_path: Path) -> None:
    venv = make_venv(8)
    model = LinearQ(venv, seed=0, device="cpu", tensorboard_log=tmp_path / "tb")
    callback = MultiAgentEvalCallback(
        make_venv(8, seed=1),
        eval_freq=400,
        n_episodes=2,
        log_path=tmp_path / "eval",
        best_model_save_path=tmp_path / "best",
    )
    model.learn(1200, callback=callback, log_interval=None)
    assert [s for s, _ in callback.results] == [400, 800, 1200]
    with (tmp_path / "eval" / "evaluations.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 6 and {r["timesteps"] for r in rows} == {"400", "800", "1200"}
    assert [r["task"] for r in rows[:6]] == [*venv.task_set.names, "mean"]
    saved = json.loads((tmp_path / "eval" / "evaluations.json").read_text())
    assert [e["timesteps"] for e in saved] == [400, 800, 1200]
    assert saved[-1]["mean"] == json.loads(callback.results[-1][1].to_json())["mean"]
    best = LinearQ.load(tmp_path / "best" / "best_model.zip")
    assert best.num_timesteps in (400, 800, 1200)
    values = [r.mean["disc_return"] for _, r in callback.results]
    assert callback.best_value == max(values)
    assert best.num_timesteps == callback.results[int(np.argmax(values))][0]
    progress = read_progress(tmp_path / "tb" / "run_1" / "progress.csv")
    keys = set(progress[0])
    for name in venv.task_set.names:
        for metric in ("mean_reward", "mean_disc_reward", "success_rate", "mean_ep_length"):
            assert f"eval/task/{name}/{metric}" in keys
    assert "eval/mean_disc_reward" in keys
    with pytest.raises(ValueError, match="eval_freq=0"):
        MultiAgentEvalCallback(venv, eval_freq=0)
    with pytest.raises(ValueError, match="best_metric='reward'"):
        MultiAgentEvalCallback(venv, best_metric="reward")


def test_eval_callback_logs_to_custom_logger() -> None:
    model = LinearQ(make_venv(4), seed=0, device="cpu")
    capture = Capture()
    model.set_logger(Logger(folder=None, output_formats=[capture]))
    callback = MultiAgentEvalCallback(mast_v0.parallel_env(), eval_freq=40, n_episodes=1)
    model.learn(80, callback=callback, log_interval=None)
    assert [d["_step"] for d in capture.dumps] == [40, 80]
    last = capture.dumps[-1]
    row = callback.results[-1][1].row("mast-6x6-2a-pf0")
    assert last["eval/task/mast-6x6-2a-pf0/mean_ep_length"] == row["length"]


# ------------------------------------------------------------------------------- plots


def test_plot_learning_curves(tmp_path: Path) -> None:
    from PIL import Image

    venv = make_venv(8)
    model = LinearQ(venv, seed=0, device="cpu", tensorboard_log=tmp_path)
    model.learn(1600, log_interval=8)
    model.learn(400, log_interval=4, reset_num_timesteps=False)
    logs = [tmp_path / "run_1" / "progress.csv", tmp_path / "run_1" / "progress_2.csv"]
    cols = read_csv_log(logs)
    steps = cols["time/total_timesteps"]
    assert steps.max() > 1600 and len(steps) == sum(len(read_progress(p)) for p in logs)
    out = plot_learning_curves(logs, tmp_path / "plots" / "curves.png", smooth=2)
    assert out == tmp_path / "plots" / "curves.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(out) as img:
        img.verify()
    with Image.open(out) as img:
        assert img.size == (700, 420) and img.format == "PNG"
    assert sorted(p.name for p in out.parent.iterdir()) == ["curves.png"]  # no temp files
    disc = plot_learning_curves(logs[0], tmp_path / "disc.png", metric="success_rate")
    assert disc.stat().st_size > 1000
    with pytest.raises(ValueError, match="metrics logged under rollout/ are .*ep_rew_mean"):
        plot_learning_curves(logs[0], tmp_path / "x.png", metric="win_rate")
    with pytest.raises(ValueError, match="smooth=0"):
        plot_learning_curves(logs[0], tmp_path / "x.png", smooth=0)
    assert not (tmp_path / "x.png").exists()
