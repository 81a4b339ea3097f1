"""The examples run with tiny budgets and produce sensible numbers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_capture_parallel_example():
    caps = load("capture_parallel").main(episodes=5)
    assert np.mean(caps["greedy"]) > np.mean(caps["random"])


def test_batched_rollout_example():
    table = load("batched_rollout").main(num_envs=64, steps=120)
    assert len(table) == 4
    assert all(0.0 <= row["capture_rate"] <= 1.0 for row in table.values())


def test_sb3_ppo_capture_example():
    pytest.importorskip("stable_baselines3")
    table = load("sb3_ppo_capture").main(timesteps=2048, episodes=3)
    assert len(table) == 5
    assert all(0.0 <= row["ppo"] <= 1.0 for row in table.values())
    greedy = np.mean([row["greedy"] for row in table.values()])
    assert greedy > np.mean([row["random"] for row in table.values()])


def test_dec_hdrqn_mast_example():
    pytest.importorskip("torch")
    r = load("dec_hdrqn_mast").main(timesteps=512, num_envs=4, episodes=4)
    assert set(r) == {"Dec-HDRQN", "greedy", "random"}
    assert r["greedy"].mean["disc_return"] > r["random"].mean["disc_return"]


def test_multidistral_corridor_example():
    out = load("multidistral_corridor").main(iterations=1, games=4)
    assert set(out) == {"q_learning", "v1", "v2"}
    assert all(np.asarray(v).shape == (1, 2) and np.isfinite(v).all() for v in out.values())


def test_dcpg_gridworld_example():
    model = load("dcpg_gridworld").main(iterations=5)
    table = model.policy_table(0)
    assert np.allclose(table.sum(axis=1), 1.0)
    assert (table >= 0).all()


def test_distill_mamt_example(tmp_path):
    pytest.importorskip("torch")
    r = load("distill_mamt").main(
        specialist_timesteps=(600, 600), distill_timesteps=600, num_envs=4, episodes=3, out=tmp_path
    )
    assert len(r["specialists"]) == 2 and r["distilled"].mean["episodes"] == 6
