"""SB3 training throughput through ``wrappers.sb3.to_sb3_vec_env`` against the SuperSuit route.

What is measured (all in this process, one thread for torch and the BLAS pools):

* end-to-end ``PPO.learn`` throughput (agent-steps/s and env-steps/s of wall time, rollouts and
  updates included) with the **same hyperparameters on the same env** through the two routes:

  - the bridge: ``to_sb3_vec_env(make, n_copies=C)``;
  - SuperSuit 3.11: ``concat_vec_envs_v1(pettingzoo_env_to_vec_env_v1(make()), C,
    base_class="stable_baselines3")``; its VecEnv has no ``seed``, so the run calls SB3's
    ``set_random_seed`` itself and builds ``PPO(seed=None)``;
  - for information, ``MaskablePPO`` through the bridge (SuperSuit's adapter cannot serve it);

* the raw VecEnv step rate of both routes (random actions drawn before timing), which isolates the
  adapters from torch;
* a few correctness facts of the SuperSuit route, checked rather than quoted: does
  ``PPO(seed=0)`` build, are time-limit ends reported as ``TimeLimit.truncated``, does
  ``has_attr("action_masks")`` work, and do its copies replay each other after an unseeded reset.

Env: ``mast_v0`` on the task set ``mast-2a-4to8`` (2 agents in every task, so SuperSuit's
``pettingzoo_env_to_vec_env_v1`` accepts it; horizons 30..50, both terminations and truncations
occur under random play). PPO: ``MlpPolicy`` with ``net_arch=[64, 64]``, ``n_steps=256``,
``batch_size=1024``, ``n_epochs=4``, ``learning_rate=3e-4``, ``C = 8`` copies (16 SB3 envs), CPU.

Method: each case is warmed up by one short ``learn``, then run ``--repeats`` times for
``--iterations`` PPO iterations each, the cases taking turns (round robin) so load from other
processes spreads over them; a figure is the median of its runs and ratios are taken in this run.

Target (printed as PASS / FAIL): bridge PPO throughput >= 1.0x the SuperSuit route's.

Results go to ``benchmarks/results/sb3_bridge.json`` and ``benchmarks/results/sb3_bridge.md``,
each written to a temporary file first and moved into place.

Usage::

    python benchmarks/sb3_bridge.py            # 3 runs of 8 iterations per case (about 3 minutes)
    python benchmarks/sb3_bridge.py --quick    # 2 runs of 2 iterations (under a minute)
"""

from __future__ import annotations

import os

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
for _var in THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import supersuit as ss  # noqa: E402
import torch  # noqa: E402
from _common import cpu_name, dist_version, write_atomic  # noqa: E402
from sb3_contrib import MaskablePPO  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.utils import set_random_seed  # noqa: E402
from stable_baselines3.common.vec_env import VecEnv  # noqa: E402

import mt_envs  # noqa: E402
from mt_envs import mast_v0  # noqa: E402
from wrappers.sb3 import to_sb3_vec_env  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TASKS = "mast-2a-4to8"
N_AGENTS = 2
COPIES = 8
HYPER: dict[str, Any] = {
    "n_steps": 256,
    "batch_size": 1024,
    "n_epochs": 4,
    "learning_rate": 3e-4,
    "policy_kwargs": {"net_arch": [64, 64]},
    "device": "cpu",
}
TARGET = 1.0


def make_env() -> Any:
    return mast_v0.parallel_env(tasks=TASKS)


def bridge_venv(seed: int) -> VecEnv:
    return to_sb3_vec_env(make_env, n_copies=COPIES, seed=seed)


def supersuit_venv() -> VecEnv:
    vec = ss.pettingzoo_env_to_vec_env_v1(make_env())
    return ss.concat_vec_envs_v1(vec, COPIES, num_cpus=0, base_class="stable_baselines3")


# -- training cases ------------------------------------------------------------------------------
def train_bridge(timesteps: int, seed: int) -> None:
    PPO("MlpPolicy", bridge_venv(seed), seed=seed, **HYPER).learn(timesteps)


def train_supersuit(timesteps: int, seed: int) -> None:
    set_random_seed(seed)  # PPO(seed=...) would call the missing VecEnv.seed
    PPO("MlpPolicy", supersuit_venv(), **HYPER).learn(timesteps)


def train_bridge_maskable(timesteps: int, seed: int) -> None:
    MaskablePPO("MlpPolicy", bridge_venv(seed), seed=seed, **HYPER).learn(timesteps)


CASES: dict[str, tuple[str, Callable[[int, int], None]]] = {
    "bridge/ppo": ("PPO through to_sb3_vec_env (ours)", train_bridge),
    "supersuit/ppo": ("PPO through SuperSuit concat_vec_envs_v1 (peer)", train_supersuit),
    "bridge/maskable_ppo": ("MaskablePPO through to_sb3_vec_env (info)", train_bridge_maskable),
}


def measure_training(iterations: int, repeats: int) -> dict[str, list[float]]:
    per_iter = HYPER["n_steps"] * COPIES * N_AGENTS
    timesteps = iterations * per_iter
    rates: dict[str, list[float]] = {key: [] for key in CASES}
    for _, fn in CASES.values():
        fn(per_iter, 0)  # warm-up: imports, allocator, first torch calls
    for r in range(repeats):
        for key, (_, fn) in CASES.items():
            gc.collect()
            start = time.perf_counter()
            fn(timesteps, r)
            rates[key].append(timesteps / (time.perf_counter() - start))
            print(f"  run {r + 1}/{repeats}  {key:20s} {rates[key][-1]:8.0f} agent-steps/s")
    return rates


# -- raw VecEnv stepping -------------------------------------------------------------------------
def step_rate(venv: VecEnv, seconds: float) -> float:
    """Agent-steps per second of ``venv.step`` with pre-drawn random actions."""
    acts = np.random.default_rng(0).integers(0, 5, (64, venv.num_envs))
    venv.reset()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in acts:
            venv.step(a)
        done += len(acts) * venv.num_envs
    return done / (time.perf_counter() - start)


def measure_stepping(seconds: float, repeats: int) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {"bridge/step": [], "supersuit/step": []}
    for r in range(repeats):
        rates["bridge/step"].append(step_rate(bridge_venv(r), seconds))
        rates["supersuit/step"].append(step_rate(supersuit_venv(), seconds))
        print(
            f"  run {r + 1}/{repeats}  step rates: bridge {rates['bridge/step'][-1]:.0f}, "
            f"supersuit {rates['supersuit/step'][-1]:.0f} agent-steps/s"
        )
    return rates


# -- correctness facts of the SuperSuit route ---------------------------------------------------
def supersuit_facts(steps: int = 3000) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    try:
        PPO("MlpPolicy", supersuit_venv(), seed=0, **HYPER)
        facts["ppo_seed_0"] = "builds"
    except Exception as exc:  # the point is to record how it fails
        facts["ppo_seed_0"] = f"{type(exc).__name__}: {exc}"
    try:
        facts["has_attr_action_masks"] = str(supersuit_venv().has_attr("action_masks"))
    except Exception as exc:
        facts["has_attr_action_masks"] = f"{type(exc).__name__}: {exc}"

    def ends(venv: VecEnv) -> dict[str, int]:
        rng = np.random.default_rng(0)
        venv.reset()
        out = {"dones": 0, "time_limit_truncated": 0}
        for _ in range(steps):
            _, _, dones, infos = venv.step(rng.integers(0, 5, venv.num_envs))
            out["dones"] += int(dones.sum())
            out["time_limit_truncated"] += sum(bool(i.get("TimeLimit.truncated")) for i in infos)
        return out

    facts["ends_supersuit"] = ends(supersuit_venv())
    facts["ends_bridge"] = ends(bridge_venv(0))
    obs = supersuit_venv().reset()
    copies = np.asarray(obs).reshape(COPIES, N_AGENTS, -1)
    facts["supersuit_copies_identical_after_unseeded_reset"] = bool(
        all(np.array_equal(copies[0], c) for c in copies[1:])
    )
    obs = to_sb3_vec_env(make_env(), n_copies=COPIES).reset()
    copies = np.asarray(obs).reshape(COPIES, N_AGENTS, -1)
    facts["bridge_copies_identical_after_unseeded_reset"] = bool(
        all(np.array_equal(copies[0], c) for c in copies[1:])
    )
    return facts


# -- report --------------------------------------------------------------------------------------
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
        "supersuit": dist_version("supersuit"),
        "pettingzoo": dist_version("pettingzoo"),
        "mt_envs": mt_envs.__version__,
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def build_report(
    training: dict[str, list[float]],
    stepping: dict[str, list[float]],
    facts: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    med = {k: statistics.median(v) for k, v in {**training, **stepping}.items()}
    peer_train, peer_step = med["supersuit/ppo"], med["supersuit/step"]
    rows = []
    for key, (label, _) in CASES.items():
        rows.append(
            {
                "key": key,
                "label": label,
                "agent_steps_per_s": med[key],
                "env_steps_per_s": med[key] / N_AGENTS,
                "runs_agent_steps_per_s": training[key],
                "vs_supersuit": med[key] / peer_train,
            }
        )
    for key, label in (
        ("bridge/step", "VecEnv.step, to_sb3_vec_env (ours)"),
        ("supersuit/step", "VecEnv.step, SuperSuit concat_vec_envs_v1 (peer)"),
    ):
        rows.append(
            {
                "key": key,
                "label": label,
                "agent_steps_per_s": med[key],
                "env_steps_per_s": med[key] / N_AGENTS,
                "runs_agent_steps_per_s": stepping[key],
                "vs_supersuit": med[key] / peer_step,
            }
        )
    ratio = med["bridge/ppo"] / peer_train
    return {
        "benchmark": "sb3_bridge",
        "env": f"mast_v0, task set {TASKS} ({N_AGENTS} agents)",
        "copies": COPIES,
        "sb3_envs": COPIES * N_AGENTS,
        "hyperparameters": HYPER,
        "iterations_per_run": args.iterations,
        "repeats": args.repeats,
        "step_seconds": args.step_seconds,
        "rows": rows,
        "targets": [
            {
                "what": f"bridge PPO throughput >= {TARGET:g}x SuperSuit route",
                "value": ratio,
                "ok": ratio >= TARGET,
            }
        ],
        "supersuit_facts": facts,
        "machine": machine(),
    }


def fmt(x: float) -> str:
    return f"{x / 1e3:.3g}k" if x >= 1e3 else f"{x:.3g}"


def markdown(rep: dict[str, Any]) -> str:
    m = rep["machine"]
    f = rep["supersuit_facts"]
    hp = rep["hyperparameters"]
    lines = [
        "## SB3 bridge training throughput",
        "",
        f"{' '.join(m['cpu'].split()[:2])}, {m['cores']} cores, torch {m['torch']} with "
        f"{m['torch_threads']} thread; stable-baselines3 {m['stable_baselines3']}, sb3-contrib "
        f"{m['sb3_contrib']}, SuperSuit {m['supersuit']}; {m['date'][:10]}. {rep['env']}, "
        f"{rep['copies']} copies ({rep['sb3_envs']} SB3 envs); PPO `MlpPolicy` [64, 64], "
        f"n_steps {hp['n_steps']}, batch {hp['batch_size']}, {hp['n_epochs']} epochs, CPU. "
        f"Median of {rep['repeats']} runs of {rep['iterations_per_run']} PPO iterations "
        "(end-to-end `learn`, rollouts and updates), cases in turn; ratios within this run "
        "(`python benchmarks/sb3_bridge.py`).",
        "",
        "| route | agent-steps/s | env-steps/s | vs SuperSuit |",
        "|---|--:|--:|--:|",
    ]
    for r in rep["rows"]:
        lines.append(
            f"| {r['label']} | {fmt(r['agent_steps_per_s'])} | {fmt(r['env_steps_per_s'])} | "
            f"{r['vs_supersuit']:.2f}x |"
        )
    lines += ["", "| target | measured | result |", "|---|--:|---|"]
    for t in rep["targets"]:
        lines.append(f"| {t['what']} | {t['value']:.2f}x | {'PASS' if t['ok'] else 'FAIL'} |")
    es, eb = f["ends_supersuit"], f["ends_bridge"]
    lines += [
        "",
        "Checked on the SuperSuit route in the same run: `PPO(seed=0)`: "
        f"{f['ppo_seed_0']}; `has_attr('action_masks')`: {f['has_attr_action_masks']}; "
        f"time-limit ends flagged `TimeLimit.truncated` in 3000 random steps: "
        f"{es['time_limit_truncated']} of {es['dones']} dones (bridge: "
        f"{eb['time_limit_truncated']} of {eb['dones']}); "
        "copies identical after an unseeded first reset: "
        f"{f['supersuit_copies_identical_after_unseeded_reset']} (bridge: "
        f"{f['bridge_copies_identical_after_unseeded_reset']}).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=8, help="PPO iterations per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--step-seconds", type=float, default=2.0, help="per raw-step run")
    parser.add_argument("--quick", action="store_true", help="2 runs of 2 iterations")
    parser.add_argument("--no-write", action="store_true", help="print, do not write results")
    args = parser.parse_args(argv)
    if args.quick:
        args.iterations, args.repeats, args.step_seconds = 2, 2, 0.5
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", module="supersuit")
    print("PPO learn throughput (agent-steps/s):")
    training = measure_training(args.iterations, args.repeats)
    print("raw VecEnv.step:")
    stepping = measure_stepping(args.step_seconds, args.repeats)
    print("SuperSuit route facts:")
    facts = supersuit_facts()
    rep = build_report(training, stepping, facts, args)
    md = markdown(rep)
    print(md)
    if not args.no_write:
        write_atomic(RESULTS / "sb3_bridge.json", json.dumps(rep, indent=2) + "\n")
        write_atomic(RESULTS / "sb3_bridge.md", md)
    return 0 if all(t["ok"] for t in rep["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
