"""The task model: validation, names, JSON round trips, task sets, samplers and the registry."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mt_envs
from mt_envs import task_sets
from mt_envs.capture import CaptureTask
from mt_envs.tasks import (
    TaskSet,
    curriculum,
    fixed,
    make_sampler,
    round_robin,
    task_from_dict,
    uniform,
    weighted,
)


@pytest.mark.parametrize(
    ("kwargs", "field", "allowed"),
    [
        ({"grid_size": 1}, "grid_size", "[2, 256]"),
        ({"grid_size": 3.0}, "grid_size", "[2, 256]"),
        ({"grid_size": 4, "n_agents": 0}, "n_agents", "[1, 32]"),
        ({"grid_size": 4, "n_agents": 3, "n_targets": 2}, "n_targets", "MAST"),
        ({"grid_size": 4, "flicker": 1.5}, "flicker", "[0, 1]"),
        ({"grid_size": 4, "flicker": float("nan")}, "flicker", "[0, 1]"),
        ({"grid_size": 4, "slip": -0.1}, "slip", "[0, 1]"),
        ({"grid_size": 4, "evasive": 2}, "evasive", "[0, 1]"),
        ({"grid_size": 4, "target_policy": (0.5, 0.5)}, "target_policy", "summing to 1"),
        ({"grid_size": 4, "target_policy": (0.5, 0.5, 0.5, 0, -0.5)}, "target_policy", ">= 0"),
        ({"grid_size": 4, "target_policy": "abc"}, "target_policy", "5"),
        (
            {"grid_size": 4, "n_targets": 2, "assignment": (0, 0)},
            "assignment",
            "permutation",
        ),
        ({"grid_size": 4, "n_targets": 2, "assignment": (0, 2)}, "assignment", "[0, 1]"),
        ({"grid_size": 4, "assignment": (0,)}, "assignment", "2 target"),
        ({"grid_size": 4, "horizon": 0}, "horizon", ">= 1"),
    ],
)
def test_invalid_capture_task_names_field_value_and_range(kwargs, field, allowed):
    with pytest.raises(ValueError, match=field) as err:
        CaptureTask(**kwargs)
    assert allowed in str(err.value)
    assert f"CaptureTask.{field}=" in str(err.value)


def test_defaults_and_names():
    mast = CaptureTask.mast(8)
    assert mast.max_steps == 50 and mast.horizon is None
    assert mast.assignment == (0, 0) and mast.n_targets == 1
    assert mast.name == "mast-8x8-2a-pf0"
    mamt = CaptureTask.mamt(6, flicker=0.3, assignment=(1, 0))
    assert mamt.name == "mamt-6x6-2a-pf0.3-swap"
    assert CaptureTask.mamt(3, n_agents=3, assignment=(1, 2, 0)).name == "mamt-3x3-3a-pf0-asg120"
    varied = dataclasses.replace(mamt, evasive=0.5, slip=0.2, horizon=9)
    assert varied.name == "mamt-6x6-2a-pf0.3-swap-ev0.5-slip0.2-h9"
    with pytest.raises(dataclasses.FrozenInstanceError):
        mamt.grid_size = 4  # type: ignore[misc]
    assert (
        CaptureTask.mamt(6, target_policy=(0.1, 0.1, 0.1, 0.1, 0.6)).name
        == "mamt-6x6-2a-pf0-id-lazy"
    )


def test_replace_gets_the_new_grids_default_horizon():
    small = CaptureTask.mast(8)
    assert dataclasses.replace(small, grid_size=9).max_steps == 55
    explicit = CaptureTask.mast(8, horizon=20)
    assert dataclasses.replace(explicit, grid_size=9).max_steps == 20
    assert CaptureTask.mast(8, horizon=50) == small  # the default value is stored as None


capture_tasks = st.builds(
    lambda m, n, mamt, pf, slip, ev, perm_seed, tp_seed, h: CaptureTask(
        grid_size=m,
        n_agents=n,
        n_targets=n if mamt else 1,
        flicker=pf,
        slip=slip,
        evasive=ev,
        assignment=tuple(int(i) for i in np.random.default_rng(perm_seed).permutation(n))
        if mamt
        else None,
        target_policy=tuple(float(x) for x in np.random.default_rng(tp_seed).dirichlet(np.ones(5))),
        horizon=h,
    ),
    st.integers(2, 12),
    st.integers(1, 4),
    st.booleans(),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
    st.integers(0, 100),
    st.integers(0, 100),
    st.one_of(st.none(), st.integers(1, 200)),
)


@given(capture_tasks)
def test_json_round_trip(task):
    data = json.loads(task.to_json())
    assert task_from_dict(data) == task
    assert CaptureTask.from_dict(data) == task
    assert task_from_dict(data).name == task.name


def test_from_dict_refuses_unknown_fields_and_families():
    data = CaptureTask.mast(4).to_dict()
    with pytest.raises(ValueError, match="unknown field"):
        CaptureTask.from_dict({**data, "colour": 1})
    with pytest.raises(KeyError, match="unknown task family"):
        task_from_dict({**data, "family": "captur"})


def test_task_set_is_an_ordered_immutable_value():
    ts = task_sets.get("mamt-2a-3to6")
    assert [t.grid_size for t in ts] == [3, 4, 5, 6]
    assert [t.assignment for t in ts] == [(0, 1), (1, 0), (0, 1), (1, 0)]
    assert len({t.target_policy for t in ts}) == 4
    assert ts.index(ts[2]) == 2
    assert TaskSet.from_dict(json.loads(json.dumps(ts.to_dict()))) == ts
    with pytest.raises(dataclasses.FrozenInstanceError):
        ts.name = "x"  # type: ignore[misc]
    with pytest.raises(IndexError, match="valid: 0..3"):
        ts[4]
    with pytest.raises(ValueError, match="empty"):
        TaskSet("none", ())
    with pytest.raises(ValueError, match="not in task set"):
        ts.index(CaptureTask.mamt(9))


def test_named_sets_match_specs():
    assert task_sets.names("mamt_v0") == ["mamt-2a-3to6", "mamt-2a-3to7", "mamt-3a"]
    assert task_sets.names("mast_v0") == ["mast-2a-4to8"]
    assert set(task_sets.names()) >= {"corridor-5", "gridworld-conflict-4", "chain-2", "mpe-mkt"}
    mast = task_sets.get("mast-2a-4to8")
    assert [t.grid_size for t in mast] == [4, 5, 6, 7, 8]
    assert all(t.is_mast and t.flicker == 0 and t.n_agents == 2 for t in mast)
    assert [t.grid_size for t in task_sets.get("mamt-2a-3to7")] == [3, 4, 5, 6, 7]
    assert all(t.flicker == 0.3 for t in task_sets.get("mamt-2a-3to6"))
    three = task_sets.get("mamt-3a")
    assert [(t.grid_size, t.flicker, t.n_agents) for t in three] == [(3, 0.6, 3), (4, 0.1, 3)]
    assert task_sets.names("mast_v0") == ["mast-2a-4to8"]


def test_unknown_names_list_close_matches():
    with pytest.raises(KeyError, match="Did you mean .*'mamt-2a-3to6'"):
        task_sets.get("mamt-2a-3to5")
    with pytest.raises(KeyError, match="Did you mean 'mamt_v0'"):
        mt_envs.make("mamt_v1")
    with pytest.raises(KeyError, match="unknown sampler"):
        make_sampler("uniformly", 3)


def _freqs(sampler, n_tasks: int, k: int, seed: int = 0) -> np.ndarray:
    s = make_sampler(sampler, n_tasks, seed)
    draws = np.concatenate([s.sample(1) for _ in range(k // 2)] + [s.sample(k - k // 2)])
    return np.bincount(draws, minlength=n_tasks) / k


def _within_99(freq: np.ndarray, p: np.ndarray, k: int) -> None:
    half = 2.576 * np.sqrt(p * (1 - p) / k) + 1e-12
    assert np.all(np.abs(freq - p) <= half), (freq, p, half)


def test_samplers_distributions():
    k = 20000
    _within_99(_freqs("uniform", 4, k), np.full(4, 0.25), k)
    p = np.array([0.1, 0.6, 0.3])
    _within_99(_freqs(weighted(p), 3, k), p, k)
    np.testing.assert_array_equal(make_sampler("round_robin", 3).sample(7), [0, 1, 2, 0, 1, 2, 0])
    assert set(make_sampler(fixed(2), 4).sample(50).tolist()) == {2}
    first_then_second = curriculum(lambda ep: 0 if ep < 5 else [0.0, 1.0])
    np.testing.assert_array_equal(make_sampler(first_then_second, 2).sample(8), [0] * 5 + [1] * 3)


def test_samplers_are_seeded_on_their_own_and_copied():
    a, b = make_sampler("uniform", 5, 3), make_sampler("uniform", 5, 3)
    np.testing.assert_array_equal(a.sample(100), b.sample(100))
    shared = round_robin()
    make_sampler(shared, 3).sample(2)
    assert shared.episodes == 0, "the caller's sampler object must not be mutated"
    assert isinstance(make_sampler(uniform(), 2), type(uniform()))


def test_sampler_parameter_errors():
    with pytest.raises(ValueError, match="valid ids are 0..2"):
        make_sampler(fixed(3), 3)
    with pytest.raises(ValueError, match="expected 3 probabilities"):
        make_sampler(weighted([0.5, 0.5]), 3)
    with pytest.raises(ValueError, match="sum to 1"):
        make_sampler(weighted([0.5, 0.6]), 2)
    with pytest.raises(ValueError, match="valid ids"):
        make_sampler(curriculum(lambda ep: 7), 2).sample(1)
    with pytest.raises(TypeError, match="callable"):
        curriculum(3)  # type: ignore[arg-type]
