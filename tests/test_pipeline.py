"""The two-phase pipeline (specialists, distillation, evaluation, report), its resume, and the
``mt-agents distill`` / ``mt-agents demo`` commands, with tiny budgets."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from mt_agents import PipelineConfig, PolicyDistillation, load_model, run_pipeline
from mt_agents.cli import _registered_subset, main
from mt_agents.distillation.pipeline import ModelPolicy, PipelineError
from mt_envs import mamt_v0
from mt_envs.play import run_episodes
from mt_envs.tasks import TaskSet

torch.set_num_threads(1)

TINY: dict[str, Any] = {
    "tasks": (0, 1),
    "specialist_timesteps": (600, 800),
    "distill_timesteps": 600,
    "num_envs": 4,
    "eval_episodes": 3,
    "curve_episodes": 2,
    "gif_episodes": 0,
}


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted((folder / "specialists").rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def stopped_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, tuple[int, bytes]]]:
    """A run stopped after phase I (the specialists)."""
    out = tmp_path_factory.mktemp("pipeline") / "run"
    result = run_pipeline(PipelineConfig(**TINY), out, stop_after="specialists", verbose=0)
    assert result is None
    return out, _snapshot(out)


def test_resume_after_phase_one_keeps_the_specialists(
    stopped_run: tuple[Path, dict[str, tuple[int, bytes]]],
) -> None:
    out, before = stopped_run
    state = json.loads((out / "pipeline.json").read_text())
    assert set(state["phases"]) == {"specialists"}
    assert not (out / "distill").exists()
    lines: list[str] = []
    result = run_pipeline(None, out, resume=True, say=lines.append)
    assert result is not None
    assert result.phases_run == ["distill", "evaluate", "report"]  # no specialist retrained
    assert sum("done before, kept" in line for line in lines) == 2
    assert _snapshot(out) == before  # specialist files untouched (bytes and mtimes)
    # The report: a row per task, env steps as configured, the files on disk.
    report = json.loads((out / "report.json").read_text())
    names = list(PipelineConfig(**TINY).task_set_obj().names)
    assert [r["task"] for r in report["rows"]] == names
    assert report["task_set"]["name"] == "mamt-2a-3to6[0,1]"
    assert report["env_steps"]["specialists"] == [600, 800]
    assert report["env_steps"]["distill"] == 600
    for row in report["rows"]:
        assert 0.0 <= row["distilled"] <= 1.0 and 0.0 <= row["specialist"] <= 1.0
        assert row["greedy"] > 0.0
    md = (out / "report.md").read_text()
    assert result.table in md and "specialist 1 | 800 |" in md
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curve = json.loads((out / "pipeline.json").read_text())["phases"]["distill"]["curve"]
    assert curve[0]["timesteps"] == 0 and curve[-1]["timesteps"] == 600
    # The distilled model is an ordinary model file.
    student = load_model(out / "distill" / "model.zip")
    assert isinstance(student, PolicyDistillation)
    # A finished run resumes to nothing new; another configuration is refused.
    again = run_pipeline(None, out, resume=True, verbose=0)
    assert again is not None and again.phases_run == []
    with pytest.raises(PipelineError, match="distill_timesteps"):
        run_pipeline(PipelineConfig(**{**TINY, "distill_timesteps": 700}), out, resume=True)
    with pytest.raises(PipelineError, match="already holds"):
        run_pipeline(PipelineConfig(**TINY), out, verbose=0)


def test_model_policy_drives_a_pettingzoo_env(
    stopped_run: tuple[Path, dict[str, tuple[int, bytes]]],
) -> None:
    out, _ = stopped_run
    model = load_model(out / "specialists" / "task0" / "model.zip")
    env = mamt_v0.parallel_env(tasks="mamt-2a-3to6")
    rows = run_episodes(env, ModelPolicy(model), episodes=2, seed=0, task=0)
    assert len(rows) == 2 and all(r["task_id"] == 0 for r in rows)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="tasks"):
        PipelineConfig(tasks=(0, 9)).task_set_obj()
    with pytest.raises(ValueError, match="one per task"):
        PipelineConfig(tasks=(0, 1), specialist_timesteps=(1, 2, 3)).specialist_steps(2)
    with pytest.raises(ValueError, match="num_envs"):
        PipelineConfig(num_envs=0)
    config = PipelineConfig(tasks=(1, 3), specialist_timesteps=(5, 7), distill_timesteps=4)
    assert config.task_set_obj().name == "mamt-2a-3to6[1,3]"
    assert config.multi_steps(2) == 16  # Multi-HDRQN: the same total env steps
    assert PipelineConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_distill_command_stops_resumes_and_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    args = [
        "distill", "--task-set", "mamt-2a-3to6", "--tasks", "0", "1",
        "--specialist-timesteps", "400", "--distill-timesteps", "400", "--multi-hdrqn",
        "--num-envs", "4", "--eval-episodes", "2", "--curve-episodes", "1",
        "--gif-episodes", "0", "--out", str(out), "--verbose", "0", "--stop-after", "distill",
    ]  # fmt: skip
    assert main(args) == 0
    assert "--resume" in capsys.readouterr().out
    assert main(["distill", "--out", str(out), "--resume", "--distill-timesteps", "9"]) == 2
    assert "cannot change a resumed run" in capsys.readouterr().err
    assert main(["distill", "--out", str(out), "--resume", "--verbose", "0"]) == 0
    text = capsys.readouterr().out
    assert "Multi-HDRQN" in text and "| 0: mamt-3x3" in text
    report = json.loads((out / "report.json").read_text())
    assert report["env_steps"]["multi_hdrqn"] == 400 + 400 + 400  # same total env steps
    assert main(args) == 2  # the folder holds a run
    assert "already holds" in capsys.readouterr().err
    # 'mt-agents eval' finds the env of a model trained on a subset of a registered set.
    student = str(out / "distill" / "model.zip")
    assert main(["eval", student, "--episodes", "2", "--num-envs", "2", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["env"] == "mamt_v0" and payload["task_set"] == "mamt-2a-3to6[0,1]"
    names = list(PipelineConfig(tasks=(0, 1)).task_set_obj().names)
    assert [row["task"] for row in payload["results"]["model"]["tasks"]] == names
    assert main(["eval", student, "--episodes", "1", "--task", "1", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [row["task"] for row in payload["results"]["model"]["tasks"]] == names[1:]
    assert main(["eval", student, "--task", "2"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_demo_command_writes_table_and_gifs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pygame")
    pytest.importorskip("imageio")
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--scale", "0.004", "--verbose", "0"]) == 0
    text = capsys.readouterr().out
    assert "distilled / specialist" in text
    gifs = sorted((out / "gifs").glob("*.gif"))
    assert [g.name for g in gifs] == [
        "mamt-3x3-2a-pf0.3-id.gif",
        "mamt-4x4-2a-pf0.3-swap-north-east.gif",
    ]
    assert all(g.read_bytes()[:6] == b"GIF89a" for g in gifs)
    # Running the demo again resumes the finished run (nothing retrained).
    assert main(["demo", "--out", str(out), "--scale", "0.004", "--verbose", "0"]) == 0
    assert "Resuming" in capsys.readouterr().out
    config = json.loads((out / "pipeline.json").read_text())["config"]
    assert config["specialist_timesteps"] == [600, 1200] and config["tasks"] == [0, 1]
    assert np.isfinite(json.loads((out / "report.json").read_text())["rows"][0]["distilled"])


def test_eval_trusts_a_subset_name_only_when_its_tasks_match() -> None:
    subset = PipelineConfig(tasks=(3, 1)).task_set_obj()
    assert _registered_subset(subset) == ("mamt_v0", "mamt-2a-3to6[3,1]")
    edited = TaskSet(subset.name, (subset[1], subset[0]), "")  # same name, tasks swapped
    assert _registered_subset(edited) is None
    assert _registered_subset(TaskSet("mamt-2a-3to6[7]", (subset[0],), "")) is None
    assert _registered_subset(TaskSet("nowhere[0]", (subset[0],), "")) is None
    assert _registered_subset(None) is None


def _run_phase_one(out: Path, config: PipelineConfig) -> None:
    torch.set_num_threads(1)
    run_pipeline(config, out, stop_after="specialists", verbose=0)


def test_a_killed_phase_continues_from_its_last_curve_point(tmp_path: Path) -> None:
    """SIGKILL in the middle of a specialist's training: the resumed run continues from the
    phase's checkpoint (written at each curve point), keeps the curve it had, and ends with the
    configured env steps; the checkpoint is removed once the phase is recorded."""
    config = PipelineConfig(
        tasks=(0,),
        specialist_timesteps=2_400,
        distill_timesteps=400,
        num_envs=4,
        eval_episodes=2,
        curve_freq=400,
        curve_episodes=1,
        gif_episodes=0,
    )
    out = tmp_path / "run"
    partial = out / "specialists" / "task0" / "checkpoint.json"
    proc = multiprocessing.get_context("fork").Process(target=_run_phase_one, args=(out, config))
    proc.start()
    try:
        deadline = time.monotonic() + 120
        killed_at = 0
        while time.monotonic() < deadline and proc.is_alive():
            try:
                killed_at = int(json.loads(partial.read_text())["timesteps"])
            except (OSError, ValueError, KeyError):
                killed_at = 0
            if killed_at >= 800:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
    assert proc.exitcode == -signal.SIGKILL, "the run ended before it could be killed mid-phase"
    saved = json.loads(partial.read_text())  # the newest checkpoint when the kill came
    assert 800 <= saved["timesteps"] < 2_400
    lines: list[str] = []
    result = run_pipeline(None, out, resume=True, stop_after="specialists", say=lines.append)
    assert result is None  # stopped after phase I, as asked
    assert any(f"resuming at {saved['timesteps']} of 2400" in line for line in lines), lines
    entry = json.loads((out / "pipeline.json").read_text())["phases"]["specialists"]["0"]
    assert entry["done"] is True and entry["timesteps"] == 2_400
    steps = [p["timesteps"] for p in entry["curve"]]
    assert steps[: len(saved["curve"])] == [p["timesteps"] for p in saved["curve"]]
    assert steps == sorted(set(steps)) and steps[0] == 0 and steps[-1] == 2_400
    assert entry["wall_s"] >= saved["wall_s"]
    assert not partial.exists() and not partial.with_suffix(".zip").exists()
    assert load_model(out / "specialists" / "task0" / "model.zip").num_timesteps == 2_400
