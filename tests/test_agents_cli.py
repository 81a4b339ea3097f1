"""The ``mt-agents`` command line: train (with checkpoints and resume), eval and plot, run tiny."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import mt_envs
from mt_agents import load_model
from mt_agents.cli import (
    BaselineModel,
    build_parser,
    hyperparameter_options,
    latest_checkpoint,
    main,
)
from mt_agents.common.evaluation import evaluate_multitask
from mt_agents.dec_hdrqn import DecHDRQN
from mt_envs.capture import CaptureTask

ROOT = Path(__file__).resolve().parents[1]
# Tiny learner settings shared by the runs below (updates start almost at once).
TINY = ["--learning-starts", "64", "--batch-size", "8", "--verbose", "0", "--no-progress"]
MAST4 = ["--env", "mast_v0", "--task-set", "mast-2a-4to8", "--task", "0"]


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mt-agents: error: ")
    assert "Traceback" not in err
    return lines[0]


def _meta(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as zf:
        meta: dict[str, Any] = json.loads(zf.read("meta.json"))
    return meta


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _train(run: Path, *extra: str) -> int:
    return main(["train", "dec-hdrqn", *MAST4, "--num-envs", "4", "--out", str(run), *TINY, *extra])


# -- parser --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv", [["--help"], ["train", "--help"], ["train", "dec-hdrqn", "--help"], ["eval", "--help"]]
)
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    assert "usage: mt-agents" in capsys.readouterr().out


def test_every_hyperparameter_is_an_option_and_parses_to_its_type() -> None:
    options = {o.name: o for o in hyperparameter_options(DecHDRQN)}
    import inspect

    wanted = {
        name
        for name, p in inspect.signature(DecHDRQN.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    } - {"device", "seed", "tensorboard_log", "verbose", "_init_setup_model"}
    assert set(options) == wanted
    assert "Dec-DRQN" in options["hysteretic_beta"].help  # the docstring is the help
    args = build_parser().parse_args(
        [
            "train",
            "dec-hdrqn",
            "--out",
            "x",
            "--hysteretic-beta",
            "0.2",
            "--trace-length",
            "8",
            "--double-q",
            "--no-share-parameters",
            "--beta-anneal",
            "0.2",
            "0.4",
            "1000",
            "--max-grad-norm",
            "none",
            "--pre-lstm",
            "16",
            "16",
            "--hysteresis",
            "loss_scale",
        ]
    )
    given = {k[3:]: v for k, v in vars(args).items() if k.startswith("hp_")}
    assert given == {
        "hysteretic_beta": 0.2,
        "trace_length": 8,
        "double_q": True,
        "share_parameters": False,
        "beta_anneal": [0.2, 0.4, 1000],
        "max_grad_norm": None,
        "pre_lstm": [16, 16],
        "hysteresis": "loss_scale",
    }
    assert isinstance(given["beta_anneal"][2], int)
    venv = mt_envs.make_vec("mast_v0", 2, tasks=CaptureTask.mast(3, n_agents=2), seed=0)
    model = DecHDRQN(venv, device="cpu", **given)  # the learner accepts what the CLI parses
    assert model.beta_anneal == (0.2, 0.4, 1000) and model.pre_lstm == (16, 16)


# -- train, resume, eval, plot -------------------------------------------------------------------
def test_train_resume_eval_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    rc = _train(
        run,
        "--timesteps",
        "400",
        "--checkpoint-freq",
        "100",
        "--keep-checkpoints",
        "2",
        "--log-every",
        "100",
        "--hysteretic-beta",
        "0.3",
    )
    assert rc == 0, capsys.readouterr().err
    assert "wrote" in capsys.readouterr().out
    settings = json.loads((run / "run.json").read_text())
    assert (settings["env"], settings["task_set"], settings["task"]) == (
        "mast_v0",
        "mast-2a-4to8",
        0,
    )
    assert settings["hyperparameters"]["hysteretic_beta"] == 0.3
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "dec_hdrqn_300_steps.zip",
        "dec_hdrqn_400_steps.zip",
    ]
    assert _meta(run / "model.zip")["num_timesteps"] == 400
    assert _meta(run / "model.zip")["hyperparameters"]["hysteretic_beta"] == 0.3
    rows = _rows(run / "progress.csv")
    assert [int(r["time/total_timesteps"]) for r in rows] == [100, 200, 300, 400]
    episodes = int(rows[-1]["time/episodes"])
    assert episodes > 0

    # Resume: the run's total grows to 600, counters continue, logs go to a new file.
    assert main(["train", "dec-hdrqn", "--out", str(run), "--resume", "--timesteps", "600"]) == 0
    capsys.readouterr()
    assert _meta(run / "model.zip")["num_timesteps"] == 600
    assert latest_checkpoint(run) == run / "checkpoints" / "dec_hdrqn_600_steps.zip"
    rows2 = _rows(run / "progress_2.csv")
    assert [int(r["time/total_timesteps"]) for r in rows2] == [500, 600]
    assert int(rows2[0]["time/episodes"]) >= episodes
    assert json.loads((run / "run.json").read_text())["timesteps"] == 600
    # Resuming a finished run does nothing.
    assert main(["train", "dec-hdrqn", "--out", str(run), "--resume"]) == 0
    assert "nothing to do" in capsys.readouterr().out

    # eval: a run folder finds its model and env; baselines beside it; JSON written.
    out_json = tmp_path / "results.json"
    argv = ["eval", str(run), "--episodes", "4", "--num-envs", "4", "--baseline", "greedy"]
    assert main([*argv, "--out", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert "mast-4x4-2a-pf0" in text and "greedy" in text and "dec_hdrqn (600 env steps)" in text
    data = json.loads(out_json.read_text())
    assert set(data["results"]) == {"model", "greedy"} and data["num_timesteps"] == 600
    greedy_rows = data["results"]["greedy"]["tasks"]
    assert [r["episodes"] for r in greedy_rows] == [4]
    assert greedy_rows[0]["disc_return"] > 0.3  # the greedy chaser captures on 4x4

    assert main([*argv[:-2], "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("policy,task_id,task,episodes,return")
    assert [line.split(",")[0] for line in lines[1:]] == ["model", "model"]
    # Another task set of the same env (the model generalises or not: it is evaluated).
    assert (
        main(
            [
                "eval",
                str(run / "model.zip"),
                "--task-set",
                "mast-2a-4to8",
                "--episodes",
                "1",
                "--format",
                "json",
            ]
        )
        == 0
    )
    tasks = json.loads(capsys.readouterr().out)["results"]["model"]["tasks"]
    assert [r["task"] for r in tasks] == mt_envs.task_sets.get("mast-2a-4to8").names

    assert main(["plot", str(run)]) == 0
    png = run / "rollout_ep_disc_rew_mean.png"
    assert "2 log files" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_run_equals_the_python_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI is a thin layer: same seed and settings, identical parameters."""
    assert _train(tmp_path / "run", "--timesteps", "240", "--seed", "3", "--progress") == 0
    capsys.readouterr()
    cli_model = load_model(tmp_path / "run" / "model.zip", device="cpu")
    task = mt_envs.task_sets.get("mast-2a-4to8")[0]
    venv = mt_envs.make_vec("mast_v0", 4, tasks=task)
    model = DecHDRQN(venv, learning_starts=64, batch_size=8, device="cpu", seed=3)
    model.learn(240)
    assert model._n_updates > 0
    for name, params in model.get_parameters().items():
        for key, value in params.items():
            assert torch.equal(value, cli_model.get_parameters()[name][key]), (name, key)


def test_eval_callback_writes_eval_logs_and_best_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert _train(run, "--timesteps", "200", "--eval-freq", "100", "--eval-episodes", "2") == 0
    capsys.readouterr()
    assert (run / "best_model.zip").is_file()
    evals = json.loads((run / "eval" / "evaluations.json").read_text())
    assert [e["timesteps"] for e in evals] == [100, 200]
    assert main(["plot", str(run), "--prefix", "eval", "--out", str(tmp_path / "e.png")]) == 0
    assert (tmp_path / "e.png").stat().st_size > 1000


def test_interrupt_saves_a_checkpoint_and_resume_continues(tmp_path: Path) -> None:
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "mt_agents.cli", "train", "dec-hdrqn", *MAST4, "--num-envs", "4"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*cmd, "--out", str(run), "--timesteps", "100000000", "--checkpoint-freq", "200", *TINY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while latest_checkpoint(run) is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    ckpt = latest_checkpoint(run)
    assert ckpt is not None
    stopped_at = _meta(ckpt)["num_timesteps"]
    assert stopped_at >= 200 and ckpt.name == f"dec_hdrqn_{stopped_at}_steps.zip"
    assert not (run / "model.zip").exists()  # not finished
    target = stopped_at + 100  # a multiple of the batch (4): runs stop on whole vector steps
    assert (
        main(
            [
                "train",
                "dec-hdrqn",
                "--out",
                str(run),
                "--resume",
                "--timesteps",
                str(target),
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    assert _meta(run / "model.zip")["num_timesteps"] == target


# -- errors --------------------------------------------------------------------------------------
NEW_RUN = ["train", "dec-hdrqn", "--env", "mast_v0", "--timesteps", "8"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([*NEW_RUN, "--env", "mast_v1"], "mast_v0"),  # close names suggested
        ([*NEW_RUN, "--task-set", "mamt-3a"], "meant for mamt_v0"),
        ([*NEW_RUN[:2], "--task-set", "mamt-3a", "--task", "7", "--timesteps", "1"], "range"),
        (NEW_RUN[:4], "--timesteps N is required"),
        ([*NEW_RUN, "--hysteretic-beta", "1.5"], "hysteretic_beta=1.5"),
        ([*NEW_RUN, "--trace-length", "x"], "invalid int value"),
        (["train", "dec-hdrqn", "--resume"], "not a run folder"),
        (["train", "dqn", "--env", "mast_v0"], "invalid choice"),
        (["eval", "no_such_model.zip"], "no_such_model"),
        (["plot"], "no progress.csv"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if argv[:2] == ["train", "dec-hdrqn"]:
        argv = [*argv, "--out", str(tmp_path / "run")]
    elif argv == ["plot"]:
        argv = ["plot", str(tmp_path)]
    assert main(argv) == 2
    assert needle in _error_line(capsys.readouterr().err)


def test_refusals_around_existing_runs_and_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert _train(run, "--timesteps", "80") == 0
    capsys.readouterr()
    # A second run into the same folder would overwrite it.
    assert _train(run, "--timesteps", "80") == 2
    assert "add --resume" in _error_line(capsys.readouterr().err)
    # Resuming with other tasks is refused.
    argv = ["train", "dec-hdrqn", "--out", str(run), "--resume", "--task", "1"]
    assert main(argv) == 2
    assert "keeps its tasks" in _error_line(capsys.readouterr().err)
    # A model for 2-agent MAST (5 inputs) does not fit MAMT with 3 agents.
    assert main(["eval", str(run), "--task-set", "mamt-3a", "--episodes", "1"]) == 2
    assert "does not fit this model" in _error_line(capsys.readouterr().err)
    # A file that is not a model.
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["eval", str(bad), "--env", "mast_v0"]) == 2
    assert "bad.zip" in _error_line(capsys.readouterr().err)
    # The greedy baseline only plays capture envs.
    with pytest.raises(ValueError, match="capture envs"):
        BaselineModel("greedy", mt_envs.make_vec("chain_v0", 2, seed=0))


def test_baselines_through_evaluate_multitask() -> None:
    venv = mt_envs.make_vec("mast_v0", 8, tasks=CaptureTask.mast(3, n_agents=2), seed=0)
    results = {}
    for name in ("greedy", "random"):
        baseline = BaselineModel(name, venv, seed=0)
        results[name] = evaluate_multitask(baseline, baseline.env, n_episodes=40, seed=1)
    greedy, rand = results["greedy"].mean, results["random"].mean
    assert 0.85 < greedy["disc_return"] < 0.98  # about 0.92 on 3x3 (SPECS.md section 1)
    assert greedy["success_rate"] == 1.0
    assert rand["disc_return"] < greedy["disc_return"] - 0.2
    # Random actions respect action masks when the env gives them.
    mask = np.zeros((8, 2, 5), dtype=bool)
    mask[..., 4] = True
    actions, _ = BaselineModel("random", venv).predict(np.zeros((8, 2, 5)), action_mask=mask)
    assert (actions == 4).all()


def test_a_run_that_failed_before_its_first_checkpoint_can_start_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert _train(run, "--timesteps", "40", "--trace-length", "4") == 0
    capsys.readouterr()
    # Simulate a crash before the first checkpoint: settings and a log, no model.
    (run / "model.zip").unlink()
    for p in (run / "checkpoints").iterdir():
        p.unlink()
    assert main(["train", "dec-hdrqn", "--out", str(run), "--resume"]) == 2
    assert "without --resume" in _error_line(capsys.readouterr().err)
    assert _train(run, "--timesteps", "40") == 0
    assert [p.name for p in run.glob("progress*.csv")] == ["progress.csv"]
    assert _meta(run / "model.zip")["num_timesteps"] == 40
