"""Environment throughput of every env family against mpe2's ``simple_spread_v3``, in one run.

What is measured (all on this machine, in this process, single-threaded):

* the peer: mpe2 ``simple_spread_v3.parallel_env()`` (N = 3, default arguments, one instance),
  and its AEC form for information;
* the ParallelEnv of each family, one instance each: ``mamt_v0`` on MAMT 6x6 (2 agents,
  Pf = 0.3), ``mast_v0`` on MAST 8x8 (2 agents), ``corridor_v0`` on ``corridor-5`` (2 agents,
  tasks sampled per episode), ``gridworld_v0`` on ``gridworld-conflict-4`` (team mode: 4 agents,
  each in its own task) and ``chain_v0`` on ``chain-2-stochastic`` (team mode, 2 agents); and
  ``mamt_v0.env()`` (AEC) for information;
* the native batched env ``mt_envs.make_vec(env_id, num_envs=B, ...)`` on each of them for
  each batch size ``B`` (default 1, 64, 256, 1024, 4096), with its per-env efficiency (env-steps/s
  divided by ``B``: constant if throughput grew linearly with ``B``);
* the memory of 4096 batched envs: the tracemalloc peak of building, resetting and stepping them
  100 times, and the bytes of the numpy arrays they hold.

Method: actions are drawn before timing (numpy ``Generator``, seed 0) and cycled, for the peer as
for mt-envs, so the timed loops only look them up; ParallelEnv actions are prebuilt dicts of
Python ints, batched actions an ``int64 [B, N]`` array per step. Episodes restart inside the timed
loop (``reset()`` when ``agents`` is empty; the batched env resets itself). The batched loop keeps
each step's results until the next step returns, as a training loop does. Every case is warmed up,
then timed ``--repeats`` times for ``--seconds`` each, the cases taking turns (round robin) so that
load from other processes spreads over all of them; a figure is the median of its runs and ratios
are taken against the peer measured in the same run. OMP / OpenBLAS / MKL thread pools are set to
one thread before numpy is imported.

Targets (checked, printed as PASS / FAIL): ParallelEnv >= 25x the peer's env-steps/s; batched at
``B = 4096`` >= 500x the peer; 4096 batched envs < 100 MB (tracemalloc peak). A reference figure
from ``/work/shared/ECOSYSTEM.md`` is quoted, not re-measured: a bare numpy-vectorised 6x6
toroidal capture toy reached 5.76M env-steps/s at 4096 envs, 1108x that machine's peer.

Results go to ``benchmarks/results/env_throughput.json`` (figures, runs, machine) and
``benchmarks/results/env_throughput.md`` (the short table the docs include), each written to a
temporary file first and moved into place.

Usage::

    python benchmarks/env_throughput.py            # 3 runs of 3 s per case (about 3 minutes)
    python benchmarks/env_throughput.py --quick    # 3 runs of 0.5 s (under a minute)
"""

from __future__ import annotations

import os

# One thread per pool, before numpy is imported (numpy reads these when it loads its BLAS).
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
for _var in THREAD_VARS:
    os.environ[_var] = "1"

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from _common import cpu_name, dist_version, write_atomic  # noqa: E402

import mt_envs  # noqa: E402
from mt_envs import chain_v0, corridor_v0, gridworld_v0, mamt_v0, mast_v0  # noqa: E402
from mt_envs.capture import CaptureTask  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
BATCH_SIZES = (1, 64, 256, 1024, 4096)
#: Pre-generated actions cycled through by the timed loops.
N_ACTION_SETS = 1024
N_BATCH_ACTION_SETS = 8

TARGET_PARALLEL = 25.0  # ParallelEnv env-steps/s over the peer's
TARGET_BATCHED = 500.0  # batched env-steps/s at B = 4096 over the peer's
TARGET_MEMORY_MB = 100.0  # tracemalloc peak of 4096 batched envs
MEMORY_B = 4096
MEMORY_STEPS = 100

#: Reference figures quoted from ECOSYSTEM.md ("Peer figures"; another run, same kind of machine).
ECOSYSTEM_PEER = 5.2e3
ECOSYSTEM_TOY_BATCHED = {1: 40e3, 64: 1.44e6, 1024: 4.81e6, 4096: 5.76e6}
ECOSYSTEM_TOY_PARALLEL = 289e3

PEER_MISSING = (
    "mpe2 is not installed, so the peer is not measured and the ratio targets are skipped: "
    'pip install "mt-envs[mpe]"'
)


@dataclasses.dataclass(frozen=True)
class Spec:
    """One benchmark env: an id, the env keywords, and its agents and actions per env-step."""

    env_id: str
    label: str
    kwargs: dict[str, Any]
    n_agents: int
    n_actions: int
    module: Any


SPECS = (
    Spec(
        "mamt_v0",
        "MAMT 6x6, 2 agents, Pf 0.3",
        {"tasks": CaptureTask.mamt(6, n_agents=2, flicker=0.3)},
        2,
        5,
        mamt_v0,
    ),
    Spec(
        "mast_v0", "MAST 8x8, 2 agents", {"tasks": CaptureTask.mast(8, n_agents=2)}, 2, 5, mast_v0
    ),
    Spec("corridor_v0", "corridor-5, 2 agents", {"tasks": "corridor-5"}, 2, 5, corridor_v0),
    Spec(
        "gridworld_v0",
        "gridworld-conflict-4, team mode, 4 agents",
        {"tasks": "gridworld-conflict-4"},
        4,
        4,
        gridworld_v0,
    ),
    Spec(
        "chain_v0",
        "chain-2-stochastic, team mode, 2 agents",
        {"tasks": "chain-2-stochastic"},
        2,
        2,
        chain_v0,
    ),
)


@dataclasses.dataclass
class Case:
    """A timed loop. ``build()`` returns ``run(k)``: do ``k`` units of work, return env-steps."""

    key: str
    label: str
    group: str  # "peer", "parallel", "aec", "batched"
    agents: int  # agents per env-step (for agent-steps/s)
    build: Callable[[], Callable[[int], float]]
    batch: int = 1
    env_id: str = ""
    run: Callable[[int], float] | None = None
    rates: list[float] = dataclasses.field(default_factory=list)

    @property
    def env_steps(self) -> float:
        return statistics.median(self.rates)


# -- loops ---------------------------------------------------------------------------------------
def parallel_loop(env: Any, n_agents: int, n_actions: int = 5) -> Callable[[int], float]:
    """``k`` ParallelEnv steps with prebuilt action dicts; reset when the episode ends.

    Agents that have left ``agents`` while the episode goes on are not sent actions.
    """
    rng = np.random.default_rng(0)
    acts = rng.integers(0, n_actions, (N_ACTION_SETS, n_agents)).tolist()
    names = env.possible_agents
    dicts = [dict(zip(names, a, strict=True)) for a in acts]
    env.reset(seed=0)
    state = {"i": 0}

    def run(k: int) -> float:
        i = state["i"]
        step, reset = env.step, env.reset
        for _ in range(k):
            live = env.agents
            if len(live) == n_agents:
                step(dicts[i])
            else:
                step({a: dicts[i][a] for a in live})
            i = (i + 1) % N_ACTION_SETS
            if not env.agents:
                reset()
        state["i"] = i
        return float(k)

    return run


def aec_loop(env: Any, n_agents: int) -> Callable[[int], float]:
    """``k`` AEC agent turns (``last()`` then ``step()``) with prebuilt actions."""
    rng = np.random.default_rng(0)
    acts = rng.integers(0, 5, N_ACTION_SETS * n_agents).tolist()
    env.reset(seed=0)
    state = {"i": 0}

    def run(k: int) -> float:
        i, acted = state["i"], 0
        for _ in range(k):
            if not env.agents:
                env.reset()
            _obs, _rew, term, trunc, _info = env.last()
            if term or trunc:
                env.step(None)
            else:
                env.step(acts[i])
                i = (i + 1) % len(acts)
                acted += 1
        state["i"] = i
        return acted / n_agents

    return run


def batched_loop(venv: Any, batch: int) -> Callable[[int], float]:
    """``k`` batched steps with pre-generated ``int64 [B, N]`` actions."""
    rng = np.random.default_rng(0)
    n_act = int(venv.single_action_space.n)
    acts = rng.integers(0, n_act, (N_BATCH_ACTION_SETS, batch, venv.num_agents))
    venv.reset(seed=0)
    state: dict[str, Any] = {"i": 0, "out": None}

    def run(k: int) -> float:
        i, step = state["i"], venv.step
        out = state["out"]
        for _ in range(k):
            # Keeping the previous results alive until the next step returns, as a training
            # loop (`obs, rew, ... = venv.step(a)`) does, makes the allocator's work realistic.
            out = step(acts[i])
            i = (i + 1) % N_BATCH_ACTION_SETS
        state["i"], state["out"] = i, out
        return float(k * batch)

    return run


# -- cases ---------------------------------------------------------------------------------------
def build_parallel(spec: Spec) -> Callable[[int], float]:
    return parallel_loop(spec.module.parallel_env(**spec.kwargs), spec.n_agents, spec.n_actions)


def build_batched(spec: Spec, batch: int) -> Callable[[int], float]:
    return batched_loop(mt_envs.make_vec(spec.env_id, num_envs=batch, **spec.kwargs), batch)


def make_cases(batch_sizes: tuple[int, ...], with_peer: bool) -> list[Case]:
    cases: list[Case] = []
    if with_peer:
        from mpe2 import simple_spread_v3

        cases.append(
            Case(
                "peer/parallel",
                "mpe2 simple_spread_v3 N=3, parallel_env (peer)",
                "peer",
                3,
                lambda: parallel_loop(simple_spread_v3.parallel_env(), 3),
            )
        )
        cases.append(
            Case(
                "peer/aec",
                "mpe2 simple_spread_v3 N=3, AEC env() (info)",
                "aec",
                3,
                lambda: aec_loop(simple_spread_v3.env(), 3),
            )
        )
    for spec in SPECS:
        cases.append(
            Case(
                f"{spec.env_id}/parallel",
                f"{spec.env_id}.parallel_env, {spec.label}",
                "parallel",
                spec.n_agents,
                functools.partial(build_parallel, spec),
                env_id=spec.env_id,
            )
        )
    mamt = SPECS[0]
    cases.append(
        Case(
            "mamt_v0/aec",
            f"mamt_v0.env() (AEC, info), {mamt.label}",
            "aec",
            mamt.n_agents,
            lambda: aec_loop(mamt_v0.env(**mamt.kwargs), mamt.n_agents),
            env_id=mamt.env_id,
        )
    )
    for spec in SPECS:
        for b in batch_sizes:
            cases.append(
                Case(
                    f"{spec.env_id}/batched/{b}",
                    f"make_vec({spec.env_id!r}, {b}), {spec.label}",
                    "batched",
                    spec.n_agents,
                    functools.partial(build_batched, spec, b),
                    batch=b,
                    env_id=spec.env_id,
                )
            )
    return cases


def time_once(run: Callable[[int], float], seconds: float) -> float:
    """Env-steps per second of ``run`` over about ``seconds``; the timer is read between chunks
    that double in size up to about 20 ms, so that reading it costs nothing measurable."""
    done, k = 0.0, 1
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        done += run(k)
        now = time.perf_counter()
        if now - start >= seconds:
            return done / (now - start)
        if now - t0 < 0.02:
            k *= 2


def measure(cases: list[Case], seconds: float, repeats: int, warmup: float) -> None:
    for case in cases:
        case.run = case.build()
        time_once(case.run, warmup)
    for r in range(repeats):
        for case in cases:
            assert case.run is not None
            gc.collect()
            case.rates.append(time_once(case.run, seconds))
            print(
                f"  run {r + 1}/{repeats}  {case.key:22s} {fmt(case.rates[-1]):>8s} env-steps/s",
                flush=True,
            )


# -- memory --------------------------------------------------------------------------------------
def _arrays(obj: Any, seen: set[int], depth: int = 0) -> int:
    """Bytes of the numpy arrays reachable from ``obj`` through attributes, dicts and lists
    (each memory block counted once)."""
    if isinstance(obj, np.ndarray):
        base = obj
        while isinstance(base.base, np.ndarray):
            base = base.base
        if id(base) in seen:
            return 0
        seen.add(id(base))
        return int(base.nbytes)
    if depth > 4 or id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, dict):
        return sum(_arrays(v, seen, depth + 1) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_arrays(v, seen, depth + 1) for v in obj)
    if hasattr(obj, "__dict__") and type(obj).__module__.startswith("mt_envs"):
        return sum(_arrays(v, seen, depth + 1) for v in vars(obj).values())
    return 0


def measure_memory(spec: Spec) -> dict[str, float]:
    acts = np.random.default_rng(0).integers(0, spec.n_actions, (8, MEMORY_B, spec.n_agents))
    gc.collect()
    tracemalloc.start()
    venv = mt_envs.make_vec(spec.env_id, num_envs=MEMORY_B, **spec.kwargs)
    venv.reset(seed=0)
    out: Any = None
    for i in range(MEMORY_STEPS):
        out = venv.step(acts[i % 8])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held = _arrays(venv, set())
    outputs = _arrays(out, set())
    return {"peak_mb": peak / 1e6, "env_arrays_mb": held / 1e6, "step_outputs_mb": outputs / 1e6}


# -- report --------------------------------------------------------------------------------------
def fmt(x: float) -> str:
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def machine() -> dict[str, Any]:
    cpu = cpu_name()

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pettingzoo": dist_version("pettingzoo"),
        "gymnasium": dist_version("gymnasium"),
        "mpe2": dist_version("mpe2"),
        "mt_envs": mt_envs.__version__,
        "threads": {v: os.environ[v] for v in THREAD_VARS},
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def verdict(ok: bool | None) -> str:
    return "SKIP" if ok is None else ("PASS" if ok else "FAIL")


def build_report(
    cases: list[Case],
    memory: dict[str, dict[str, float]],
    args: argparse.Namespace,
    peer: float | None,
) -> dict[str, Any]:
    rows = []
    for c in cases:
        rate = c.env_steps
        row: dict[str, Any] = {
            "key": c.key,
            "label": c.label,
            "group": c.group,
            "batch": c.batch,
            "env_steps_per_s": rate,
            "agent_steps_per_s": rate * c.agents,
            "runs_env_steps_per_s": c.rates,
            "vs_peer": rate / peer if peer else None,
        }
        if c.group == "batched":
            row["per_env_efficiency"] = rate / c.batch
        rows.append(row)
    by_key = {r["key"]: r for r in rows}
    targets = []
    for spec in SPECS:
        par = by_key[f"{spec.env_id}/parallel"]
        targets.append(
            {
                "what": f"{spec.env_id} ParallelEnv >= {TARGET_PARALLEL:g}x peer",
                "value": par["vs_peer"],
                "ok": None if peer is None else par["vs_peer"] >= TARGET_PARALLEL,
            }
        )
        key = f"{spec.env_id}/batched/4096"
        if key in by_key:
            bat = by_key[key]
            targets.append(
                {
                    "what": f"{spec.env_id} batched at B=4096 >= {TARGET_BATCHED:g}x peer",
                    "value": bat["vs_peer"],
                    "ok": None if peer is None else bat["vs_peer"] >= TARGET_BATCHED,
                }
            )
        mem = memory[spec.env_id]["peak_mb"]
        targets.append(
            {
                "what": f"{spec.env_id} {MEMORY_B} batched envs < {TARGET_MEMORY_MB:g} MB",
                "value": mem,
                "ok": mem < TARGET_MEMORY_MB,
            }
        )
    return {
        "benchmark": "env_throughput",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "method": {
            "seconds_per_run": args.seconds,
            "runs": args.repeats,
            "warmup_s": args.warmup,
            "statistic": "median of runs, cases timed round robin",
            "actions": "pre-generated with numpy (seed 0) and cycled; ParallelEnv: prebuilt "
            "dicts of Python ints; AEC: Python ints; batched: int64 [B, N] arrays",
            "threads": "OMP/OPENBLAS/MKL_NUM_THREADS=1 set before importing numpy",
            "peer": "mpe2 simple_spread_v3.parallel_env(), N=3, default args, one instance",
        },
        "machine": machine(),
        "peer_env_steps_per_s": peer,
        "results": rows,
        "memory": {"batch": MEMORY_B, "steps": MEMORY_STEPS, **memory},
        "targets": [{**t, "result": verdict(t["ok"])} for t in targets],
        "reference": {
            "source": "ECOSYSTEM.md peer figures (not measured here)",
            "peer_env_steps_per_s": ECOSYSTEM_PEER,
            "numpy_toy_batched_env_steps_per_s": ECOSYSTEM_TOY_BATCHED,
            "numpy_toy_batched_vs_peer": {
                b: v / ECOSYSTEM_PEER for b, v in ECOSYSTEM_TOY_BATCHED.items()
            },
            "python_toy_parallel_env_steps_per_s": ECOSYSTEM_TOY_PARALLEL,
            "python_toy_parallel_vs_peer": ECOSYSTEM_TOY_PARALLEL / ECOSYSTEM_PEER,
        },
    }


def ratio(x: float | None) -> str:
    return "" if x is None else f"{x:,.0f}x" if x >= 10 else f"{x:.2g}x"


def markdown(rep: dict[str, Any]) -> str:
    m, rows = rep["machine"], rep["results"]
    meth = rep["method"]
    if rep["peer_env_steps_per_s"] is None:
        peer = 'the peer was not measured (`pip install "mt-envs[mpe]"` to include it)'
    else:
        peer = f"mpe2 {m['mpe2']}; ratios against the peer measured in the same run"
    lines = [
        "## Environment throughput",
        "",
        f"{m['cpu']}, {m['cores']} cores, one thread; Python {m['python']}, numpy {m['numpy']}; "
        f"{m['date'][:10]}. Median of {meth['runs']} runs of {meth['seconds_per_run']:g} s "
        f"after a warm-up; random actions pre-generated and cycled; {peer} "
        "(`python benchmarks/env_throughput.py`).",
        "",
        "| env | envs | env-steps/s | agent-steps/s | per-env efficiency | vs peer |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        eff = fmt(r["per_env_efficiency"]) if "per_env_efficiency" in r else ""
        lines.append(
            f"| {r['label']} | {r['batch']} | {fmt(r['env_steps_per_s'])} | "
            f"{fmt(r['agent_steps_per_s'])} | {eff} | {ratio(r['vs_peer'])} |"
        )
    mem = rep["memory"]
    lines += [
        "",
        "Per-env efficiency is env-steps/s divided by the number of envs: it would stay constant "
        "if throughput grew linearly with the batch size.",
        "",
        f"Memory of {mem['batch']} batched envs (tracemalloc peak of building, resetting and "
        f"{mem['steps']} steps): "
        + "; ".join(
            f"{k} {v['peak_mb']:.1f} MB (arrays held {v['env_arrays_mb']:.1f} MB, one "
            f"step's outputs {v['step_outputs_mb']:.1f} MB)"
            for k, v in mem.items()
            if isinstance(v, dict)
        )
        + ".",
        "",
        "| target | measured | result |",
        "|---|--:|---|",
    ]
    for t in rep["targets"]:
        val = (
            ""
            if t["value"] is None
            else (f"{t['value']:.1f} MB" if "MB" in t["what"] else ratio(t["value"]))
        )
        lines.append(f"| {t['what']} | {val} | {t['result']} |")
    ref = rep["reference"]
    toy = ref["numpy_toy_batched_vs_peer"]
    lines += [
        "",
        "Reference, quoted from the project's ecosystem notes (not measured here): a bare "
        "numpy-vectorised 6x6 toroidal capture toy reached "
        + ", ".join(f"{ratio(v)} at {b}" for b, v in toy.items())
        + f" envs, and a pure-Python ParallelEnv toy {ratio(ref['python_toy_parallel_vs_peer'])}, "
        f"against that machine's peer ({fmt(ref['peer_env_steps_per_s'])} env-steps/s).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Env-steps/s of the capture envs (ParallelEnv, AEC, batched) against mpe2's "
        "simple_spread_v3, with memory of 4096 batched envs; writes benchmarks/results/"
        "env_throughput.{json,md}.",
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one timed run (s)")
    parser.add_argument("--quick", action="store_true", help="0.5 s runs (a smoke test)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (median)")
    parser.add_argument(
        "--batch-sizes",
        type=lambda s: tuple(int(b) for b in s.split(",")),
        default=BATCH_SIZES,
        help="comma-separated batch sizes (default 1,64,256,1024,4096)",
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS, help="where results go")
    parser.add_argument("--no-write", action="store_true", help="print only, write no files")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 0.5
    args.warmup = min(1.0, args.seconds / 2)
    if args.seconds <= 0 or args.repeats < 1 or min(args.batch_sizes) < 1:
        parser.error("--seconds, --repeats and batch sizes must be positive")

    try:
        import mpe2  # noqa: F401

        with_peer = True
    except ImportError:
        with_peer = False
        print(PEER_MISSING)

    cases = make_cases(args.batch_sizes, with_peer)
    print(
        f"{len(cases)} cases x {args.repeats} runs of {args.seconds:g} s "
        f"(threads: {', '.join(f'{v}=1' for v in THREAD_VARS)})"
    )
    measure(cases, args.seconds, args.repeats, args.warmup)
    memory = {s.env_id: measure_memory(s) for s in SPECS}
    peer = next((c.env_steps for c in cases if c.key == "peer/parallel"), None)
    rep = build_report(cases, memory, args, peer)
    md = markdown(rep)
    print()
    print(md)
    if not args.no_write:
        write_atomic(args.out_dir / "env_throughput.json", json.dumps(rep, indent=1) + "\n")
        write_atomic(args.out_dir / "env_throughput.md", md)
        print(
            f"wrote {args.out_dir / 'env_throughput.json'} and {args.out_dir / 'env_throughput.md'}"
        )
    failed = any(t["ok"] is False for t in rep["targets"])
    return 1 if (failed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
