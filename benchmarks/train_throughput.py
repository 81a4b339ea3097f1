"""Training throughput: ``DecHDRQN.learn`` against sb3-contrib ``RecurrentPPO`` on the same task.

Both learners train recurrent policies for two agents on MAST 8x8 (n = 2, Pf = 0, task
``mast-8x8-2a-pf0``), on the CPU with one torch thread, in this process, with ``--copies`` env
copies each:

* **ours**: ``DecHDRQN`` (paper 000's DRQN: 32-32-LSTM 64-32 per agent, one network per agent,
  all agents batched) with its defaults (one gradient step of 32 traces of length 4 per vector
  step), on ``mt_envs.make_vec("mast_v0", copies)``;
* **peer**: ``RecurrentPPO("MlpLstmPolicy")`` with parameter sharing through
  ``wrappers.to_sb3_vec_env(n_copies=copies)`` (every agent of every copy is one SB3 env), with a
  network of the same size (LSTM 64, then ``net_arch=[32, 32]``) and sb3-contrib's default
  training settings (``n_steps=128``, ``batch_size=128``, ``n_epochs=10``);
* for information, ``RecurrentPPO`` with sb3-contrib's default network (LSTM 256, ``[64, 64]``).

What is measured: env steps per second of wall time of ``learn`` (a step of one env copy, whatever
its number of agents; rollouts and updates included). Each learner is warmed up by one short
``learn`` (which also passes Dec-HDRQN's ``learning_starts``), then continues training for
``--repeats`` timed runs, the learners taking turns (round robin) so load from other processes
spreads over them; a figure is the median of its runs, and the ratio is taken in this run.

Target (printed as PASS / FAIL): Dec-HDRQN >= 3x the env steps/s of RecurrentPPO with the same
network size.

Results go to ``benchmarks/results/train_throughput.json`` and ``.md`` (``--out-dir`` elsewhere).

Usage::

    python benchmarks/train_throughput.py          # 3 runs each (about 4 minutes on two cores)
    python benchmarks/train_throughput.py --quick  # 1 run each, no info row (under a minute)
"""

from __future__ import annotations

import os

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
for _var in THREAD_VARS:
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import cpu_name, dist_version, write_atomic  # noqa: E402
from sb3_contrib import RecurrentPPO  # noqa: E402

import mt_envs  # noqa: E402
from mt_agents import DecHDRQN  # noqa: E402
from mt_envs import mast_v0, task_sets  # noqa: E402
from wrappers.sb3 import to_sb3_vec_env  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
NAME = "train_throughput"
TASK = task_sets.get("mast-2a-4to8")[4]  # MAST 8x8, n=2, Pf=0
TARGET = 3.0
PPO_SETTINGS: dict[str, Any] = {"n_steps": 128, "batch_size": 128, "n_epochs": 10}
SAME_NET: dict[str, Any] = {"lstm_hidden_size": 64, "net_arch": [32, 32]}


class Learner:
    """A learner under test: built once, then trained on for timed runs."""

    def __init__(self, label: str, build: Callable[[], tuple[Any, Callable[[], int]]]) -> None:
        self.label = label
        self.model, self.env_steps = build()

    def train(self, env_steps: int, first: bool = False) -> float:
        """Continue training for about ``env_steps`` env steps; returns env steps per second."""
        done_before = self.env_steps()
        start = time.perf_counter()
        if isinstance(self.model, DecHDRQN):
            self.model.learn(env_steps, reset_num_timesteps=first)
        else:  # SB3 counts agent slots: two per env step here
            self.model.learn(env_steps * 2, reset_num_timesteps=first)
        return (self.env_steps() - done_before) / (time.perf_counter() - start)


def build_dec_hdrqn(copies: int) -> tuple[Any, Callable[[], int]]:
    venv = mt_envs.make_vec("mast_v0", copies, tasks=TASK, seed=0)
    model = DecHDRQN(venv, device="cpu", seed=0)
    return model, lambda: int(model.num_timesteps)


def build_recurrent_ppo(copies: int, policy_kwargs: dict[str, Any] | None) -> Any:
    def build() -> tuple[Any, Callable[[], int]]:
        venv = to_sb3_vec_env(lambda: mast_v0.parallel_env(tasks=TASK), n_copies=copies, seed=0)
        model = RecurrentPPO(
            "MlpLstmPolicy",
            venv,
            device="cpu",
            seed=0,
            policy_kwargs=policy_kwargs,
            **PPO_SETTINGS,
        )
        return model, lambda: int(venv.env_steps)

    return build


def machine() -> dict[str, Any]:
    cpu = cpu_name()

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "stable_baselines3": dist_version("stable-baselines3"),
        "sb3_contrib": dist_version("sb3-contrib"),
        "mt_envs": mt_envs.__version__,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def markdown(rep: dict[str, Any]) -> str:
    m = rep["machine"]
    lines = [
        "## Training throughput: Dec-HDRQN vs RecurrentPPO",
        "",
        f"{' '.join(m['cpu'].split()[:2])}, {m['cores']} cores, torch {m['torch']} with "
        f"{m['torch_threads']} thread, sb3-contrib {m['sb3_contrib']}; {m['date'][:10]}. "
        f"MAST 8x8 (n=2, Pf=0), {rep['copies']} env copies per learner, CPU. Env steps per "
        f"second of `learn` (rollouts and updates), median of {rep['repeats']} runs taken in "
        "turn after a warm-up; ratios within this run (`python benchmarks/train_throughput.py`).",
        "",
        "| learner | env steps/s | runs | vs RecurrentPPO (same size) |",
        "|---|--:|---|--:|",
    ]
    for r in rep["rows"]:
        runs = ", ".join(f"{x:.0f}" for x in r["runs"])
        lines.append(f"| {r['label']} | {r['env_steps_per_s']:.0f} | {runs} | {r['ratio']:.1f}x |")
    lines += ["", "| target | measured | result |", "|---|--:|---|"]
    for t in rep["targets"]:
        lines.append(f"| {t['what']} | {t['value']:.1f}x | {'PASS' if t['ok'] else 'FAIL'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=16, help="env copies per learner")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--dec-steps", type=int, default=20_000, help="env steps per timed Dec-HDRQN run"
    )
    parser.add_argument(
        "--ppo-iterations", type=int, default=1, help="PPO iterations per timed run"
    )
    parser.add_argument("--no-default-net", action="store_true", help="skip the info row")
    parser.add_argument(
        "--quick", action="store_true", help="1 run each, 5000 Dec-HDRQN steps, no info row"
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--no-write", action="store_true", help="print, do not write results")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.dec_steps, args.no_default_net = 1, 5_000, True
    torch.set_num_threads(1)
    ppo_steps = PPO_SETTINGS["n_steps"] * args.copies * args.ppo_iterations  # env steps
    plans: list[tuple[str, Learner, int]] = [
        ("dec_hdrqn", Learner("Dec-HDRQN (ours)", lambda: build_dec_hdrqn(args.copies)), 0),
        (
            "recurrent_ppo",
            Learner(
                "RecurrentPPO, LSTM 64 + [32, 32] (peer)",
                build_recurrent_ppo(args.copies, SAME_NET),
            ),
            0,
        ),
    ]
    if not args.no_default_net:
        plans.append(
            (
                "recurrent_ppo_default",
                Learner(
                    "RecurrentPPO, sb3-contrib default LSTM 256 + [64, 64] (info)",
                    build_recurrent_ppo(args.copies, None),
                ),
                0,
            )
        )
    steps = {"dec_hdrqn": args.dec_steps}
    rates: dict[str, list[float]] = {key: [] for key, _, _ in plans}
    print("warm-up ...", flush=True)
    for key, learner, _ in plans:
        learner.train(2_000 if key == "dec_hdrqn" else ppo_steps, first=True)
    for r in range(args.repeats):
        for key, learner, _ in plans:
            gc.collect()
            rates[key].append(learner.train(steps.get(key, ppo_steps)))
            print(f"  run {r + 1}/{args.repeats}  {key:24s} {rates[key][-1]:8.0f} env steps/s")
    med = {k: statistics.median(v) for k, v in rates.items()}
    peer = med["recurrent_ppo"]
    rows = [
        {
            "key": key,
            "label": learner.label,
            "env_steps_per_s": med[key],
            "runs": rates[key],
            "ratio": med[key] / peer,
        }
        for key, learner, _ in plans
    ]
    ratio = med["dec_hdrqn"] / peer
    rep = {
        "benchmark": NAME,
        "task": TASK.name,
        "copies": args.copies,
        "repeats": args.repeats,
        "dec_hdrqn_steps_per_run": args.dec_steps,
        "ppo_env_steps_per_run": ppo_steps,
        "ppo_settings": PPO_SETTINGS,
        "ppo_same_net": SAME_NET,
        "rows": rows,
        "targets": [
            {
                "what": f"Dec-HDRQN >= {TARGET:g}x RecurrentPPO (same network size)",
                "value": ratio,
                "ok": ratio >= TARGET,
            }
        ],
        "machine": machine(),
    }
    md = markdown(rep)
    print()
    print(md)
    if not args.no_write:
        write_atomic(args.out_dir / f"{NAME}.json", json.dumps(rep, indent=2) + "\n")
        write_atomic(args.out_dir / f"{NAME}.md", md)
        print(f"wrote {args.out_dir / NAME}.json and .md")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
