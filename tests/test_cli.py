"""The ``mt-envs`` command line and the play helpers behind it (run in-process)."""

from __future__ import annotations

import json
import math
import os
import re

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import numpy as np
import pytest

import mt_envs
from mt_envs import mamt_v0, mast_v0, task_sets
from mt_envs.cli import main
from mt_envs.play import (
    discounted,
    format_table,
    make_policy,
    run_episodes,
    summarize,
)


def _error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mt-envs: error: ")
    assert "Traceback" not in err
    return lines[0]


# -- play helpers --------------------------------------------------------------------------------
def test_make_policy_unknown_name_lists_valid_ones() -> None:
    env = mamt_v0.parallel_env()
    with pytest.raises(ValueError, match="random, scripted, greedy"):
        make_policy("smart", env)


def test_random_policy_is_seeded_and_legal() -> None:
    env = mamt_v0.parallel_env()
    obs, infos = env.reset(seed=0)
    a = [make_policy("random", env, seed=3)(obs, infos) for _ in range(2)]
    assert a[0] == a[1]
    policy = make_policy("random", env, seed=3)
    seen = {act for _ in range(200) for act in policy(obs, infos).values()}
    assert seen == set(range(5))


def test_run_episodes_rows() -> None:
    env = mast_v0.parallel_env()
    rows = run_episodes(env, make_policy("greedy", env), 5, seed=0, task=0)
    assert [r["task_id"] for r in rows] == [0] * 5
    for r in rows:
        assert r["task"] == env.task_set[0].name
        assert r["length"] == len(r["rewards"])
        if r["captured"]:
            assert r["return"] == 1.0
            assert math.isclose(r["discounted_return"], 0.95 ** (r["length"] - 1))
        else:
            assert r["return"] == r["discounted_return"] == 0.0
    # Reproducible from the seed alone.
    again = run_episodes(env, make_policy("greedy", env), 5, seed=0, task=0)
    assert [r["length"] for r in again] == [r["length"] for r in rows]


def test_summarize_statistics() -> None:
    rows = [
        {"task_id": 1, "task": "b", "return": 1.0, "captured": True, "length": 3,
         "rewards": [0.0, 0.0, 1.0]},
        {"task_id": 0, "task": "a", "return": 0.0, "captured": False, "length": 4,
         "rewards": [0.0] * 4},
        {"task_id": 1, "task": "b", "return": 1.0, "captured": True, "length": 1,
         "rewards": [1.0]},
    ]  # fmt: skip
    out = summarize(rows, gamma=0.5)
    assert [s["task_id"] for s in out] == [0, 1]
    a, b = out
    assert a["episodes"] == 1
    assert a["disc_return_ci95"] is None
    assert b["episodes"] == 2
    assert b["capture_rate"] == 1.0
    assert b["length"] == 2.0
    disc = np.array([0.25, 1.0])
    assert math.isclose(b["disc_return"], disc.mean())
    assert math.isclose(b["disc_return_ci95"], 1.96 * disc.std(ddof=1) / math.sqrt(2))
    assert math.isclose(discounted([0.0, 0.0, 1.0], 0.5), 0.25)


def test_format_table_formats() -> None:
    env = mamt_v0.parallel_env()
    rows = run_episodes(env, make_policy("greedy", env), 3, seed=0, task=1)
    summary = summarize(rows)
    assert json.loads(format_table(summary, "json")) == summary
    csv_lines = format_table(summary, "csv").splitlines()
    assert csv_lines[0].split(",")[:3] == ["task_id", "task", "episodes"]
    assert len(csv_lines) == 2
    md = format_table(summary, "markdown").splitlines()
    assert md[0].startswith("| id | task")
    assert "±" in md[2]
    assert len({len(line) for line in md}) == 1  # aligned columns
    with pytest.raises(ValueError, match="markdown, csv, json"):
        format_table(summary, "html")


# -- commands ------------------------------------------------------------------------------------
def test_version(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mt-envs {mt_envs.__version__}"


def test_help_of_every_command(capsys) -> None:
    for cmd in ([], ["list"], ["describe"], ["play"], ["bench"], ["record"], ["demo"]):
        assert main([*cmd, "--help"]) == 0
        assert "usage: mt-envs" in capsys.readouterr().out


def test_list(capsys) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  mamt_v0 +MAMT: multi-agent multi-target capture", out, re.M)
    for name in task_sets.names():
        line = next(x for x in out.splitlines() if x.strip().startswith(name + " "))
        assert task_sets.env_id_of(name) in line
        assert f"{len(task_sets.get(name))} task" in line


def test_describe_env_prints_the_card(capsys) -> None:
    assert main(["describe", "mamt_v0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(mamt_v0.__doc__.strip().splitlines()[0])
    assert "Differences from the paper" in out
    assert "Task sets for mamt_v0: mamt-2a-3to6, mamt-2a-3to7, mamt-3a" in out


def test_describe_task_set_prints_its_tasks(capsys) -> None:
    assert main(["describe", "mamt-3a"]) == 0
    out = capsys.readouterr().out
    for task in task_sets.get("mamt-3a"):
        assert task.name in out
    assert "1 2 0" in out  # the assignment of task 1
    assert main(["describe", "mamt-3a", "--format", "json"]) == 0
    body = capsys.readouterr().out.split("\n\n", 1)[1]
    assert [t["horizon"] for t in json.loads(body)] == [25, 30]


def test_unknown_id_suggests_close_names(capsys) -> None:
    assert main(["play", "mamt_v1"]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "Did you mean 'mamt_v0'" in line
    assert main(["describe", "mamt-2a-3to5"]) == 2
    assert "'mamt-2a-3to6'" in _error_line(capsys.readouterr().err)
    assert main(["play", "mamt_v0", "--task-set", "mamt-9"]) == 2
    assert "task set" in _error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["play", "mamt_v0", "--episodes", "0"], "--episodes"),
        (["play", "mamt_v0", "--policy", "smart"], "invalid choice"),
        (["play", "mamt_v0", "--task", "4"], "out of range"),
        (["play", "mamt_v0", "--task-set", "mast-2a-4to8"], "meant for mast_v0"),
        (["bench", "mamt_v0", "--seconds", "0"], "--seconds"),
        (["record", "mamt_v0"], "--out"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(capsys, argv, needle) -> None:
    assert main(argv) == 2
    assert needle in _error_line(capsys.readouterr().err)


def test_play_per_task_table(capsys) -> None:
    argv = ["play", "mast_v0", "--policy", "greedy", "--episodes", "4", "--format", "json"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [s["task_id"] for s in summary] == list(range(5))
    assert all(s["episodes"] == 4 for s in summary)
    assert all(s["capture_rate"] >= 0.75 for s in summary)


def test_play_a_task_set_id_with_ansi_frames(capsys) -> None:
    assert main(["play", "mamt-3a", "--task", "1", "--episodes", "1", "--render", "ansi"]) == 0
    out = capsys.readouterr().out
    assert "mamt-4x4-3a-pf0.1-asg120 | task 1 | step 0/30" in out
    assert "| policy random | 1 episode per task" in out


def test_play_record(tmp_path, capsys) -> None:
    iio = pytest.importorskip("imageio.v3")
    out = tmp_path / "play.gif"
    argv = ["play", "mamt_v0", "--task", "0", "--episodes", "3", "--policy", "greedy"]
    assert main([*argv, "--record", str(out)]) == 0
    assert f"Wrote {out}" in capsys.readouterr().out
    assert iio.imread(out, index=None).ndim == 4


def test_record(tmp_path, capsys) -> None:
    iio = pytest.importorskip("imageio.v3")
    out = tmp_path / "rec.gif"
    assert main(["record", "mast_v0", "--out", str(out), "--task", "2", "--episodes", "2"]) == 0
    assert "2 episode(s) of mast_v0" in capsys.readouterr().out
    frames = iio.imread(out, index=None)
    assert frames.shape[0] >= 4
    assert frames.shape[-1] == 3


def test_bench(capsys) -> None:
    argv = ["bench", "mamt_v0", "--num-envs", "1", "8", "--seconds", "0.05", "--format", "json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["api"], r["num_envs"]) for r in rows] == [
        ("ParallelEnv", 1),
        ("make_vec", 1),
        ("make_vec", 8),
    ]
    for r in rows:
        assert r["env_steps_per_s"] > 0
        # Every task of mamt-2a-3to6 has two agents.
        assert math.isclose(r["agent_steps_per_s"], 2 * r["env_steps_per_s"], rel_tol=1e-6)


def test_demo(tmp_path, capsys) -> None:
    pytest.importorskip("imageio.v3")
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--episodes", "5"]) == 0
    text = capsys.readouterr().out
    names = task_sets.get("mamt-2a-3to6").names
    assert sorted(p.name for p in out.glob("*.gif")) == sorted(f"{n}.gif" for n in names)
    assert (out / "results.md").read_text().startswith("# mt-envs demo")
    results = json.loads((out / "results.json").read_text())
    assert results["task_set"] == "mamt-2a-3to6"
    for policy in ("greedy", "random"):
        assert [s["task"] for s in results[policy]] == names
        assert all(s["episodes"] == 5 for s in results[policy])
    greedy = np.mean([s["capture_rate"] for s in results["greedy"]])
    random = np.mean([s["capture_rate"] for s in results["random"]])
    assert greedy > random
    assert greedy >= 0.8
    for name in names:
        assert name in text
    assert text.strip().splitlines()[-1].startswith("Wrote 4 GIFs, results.md and results.json")


def test_demo_without_gifs(tmp_path, capsys) -> None:
    out = tmp_path / "nogif"
    assert main(["demo", "--out", str(out), "--episodes", "2", "--no-gif"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "results.md"]
    capsys.readouterr()


@pytest.mark.parametrize("env_id", ["corridor_v0", "gridworld_v0", "chain_v0"])
def test_play_scripted_baseline_on_every_task_of_the_tabular_families(env_id, capsys) -> None:
    # Team-mode families are played one task per episode (their sampled mode) so the table has
    # a row per task; every scripted baseline finishes every task of the default set.
    assert (
        main(["play", env_id, "--policy", "scripted", "--episodes", "3", "--format", "json"]) == 0
    )
    rows = json.loads(capsys.readouterr().out)
    n_tasks = len(mt_envs.make(env_id).task_set)
    assert [r["task_id"] for r in rows] == list(range(n_tasks))
    assert all(r["capture_rate"] == 1.0 and r["episodes"] == 3 for r in rows)


def test_bench_uses_the_env_action_count(capsys) -> None:
    assert main(["bench", "chain_v0", "--seconds", "0.05", "--num-envs", "4"]) == 0
    assert "ParallelEnv" in capsys.readouterr().out
