"""Multi-task distillation vs Multi-HDRQN on MAMT (paper 000, figure 5 and supplement F).

The reproduction of paper 000's multi-task result on ``mamt-2a-3to6`` (MAMT, n = 2, Pf = 0.3,
grids 3x3 to 6x6 with alternating identity / swap assignments and differing target dynamics):

1. **Phase I:** a Dec-HDRQN specialist team per task (``--specialist-timesteps``, one value or one
   per task), trained one after another.
2. **Phase II:** :class:`mt_agents.PolicyDistillation` of the specialists into one DRQN per agent
   that never sees the task id (``--distill-timesteps``).
3. **Multi-HDRQN**, the paper's baseline: one Dec-HDRQN trained directly on the task-sampling env
   for the same total env steps as phases I and II together.

Each seed is one run of :func:`mt_agents.run_pipeline` in ``--runs-dir/seed<k>``; an interrupted
benchmark resumes where it stopped (finished specialists, distillations and baselines are kept),
so run the same command again. Every learner is evaluated on ``--episodes`` (50, as in the paper)
greedy episodes per task, beside the scripted greedy chaser (privileged: told the task).

Reported per task: the discounted return (gamma 0.95) of each specialist on its task, of the
distilled team and of Multi-HDRQN, mean +- sd across seeds, the distilled / specialist ratio, env
steps and wall times. Targets (issue 7): the distilled team within 10% of each specialist's
discounted return on every task, Multi-HDRQN reported beside it (the paper finds it far worse);
judged only at the full budget (the defaults, >= 3 seeds), otherwise "not judged".

Results: ``benchmarks/results/distill_mamt.json`` and ``.md``, the figure
``docs/_static/distill_mamt.png`` (per task: mean curves across seeds against env steps).

Usage::

    python benchmarks/distill_mamt.py    # full: 4 tasks, 3 seeds (hours on 2 CPU cores)
    python benchmarks/distill_mamt.py --device cuda
    python benchmarks/distill_mamt.py --tasks 0 1 --specialist-timesteps 60000 120000 \\
        --distill-timesteps 30000 --seeds 0 1 2 --label small   # the reduced run of the docs
    python benchmarks/distill_mamt.py --demo --seeds 0  # the demo's table, times and GIFs
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import cpu_name, dist_version, write_atomic  # noqa: E402

from mt_agents.distillation.pipeline import PipelineConfig, run_pipeline  # noqa: E402

NAME = "distill_mamt"
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCS_STATIC = ROOT / "docs" / "_static"
TASK_SET = "mamt-2a-3to6"
#: The full budget: env steps per specialist (3x3, 4x4, 5x5, 6x6) and of the distillation. The
#: distillation's 1M env steps are about 125k regressions of 32 traces (4 per collection step of
#: 32 envs), near the paper's 100K distillation epochs; at 300k the student was still improving
#: on 5x5 (0.68x its specialist, seed 0).
FULL_SPECIALIST = (150_000, 300_000, 1_000_000, 1_500_000)
FULL_DISTILL = 1_000_000
FULL_SEEDS = 3


def config_for(args: argparse.Namespace, seed: int) -> PipelineConfig:
    spec = args.specialist_timesteps
    return PipelineConfig(
        env_id="mamt_v0",
        task_set=TASK_SET,
        tasks=tuple(args.tasks),
        specialist_timesteps=spec[0] if len(spec) == 1 else tuple(spec),
        distill_timesteps=args.distill_timesteps,
        multi_hdrqn=not args.no_multi,
        num_envs=args.num_envs,
        seed=seed,
        eval_episodes=args.episodes,
        curve_episodes=args.curve_episodes,
        gif_episodes=0,
        device=args.device,
    )


def run_seed(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """Run (or resume) one seed's pipeline and return its report."""
    out = args.runs_dir / f"seed{seed}"
    config = config_for(args, seed)
    resume = (out / "pipeline.json").exists()
    print(f"== seed {seed}: {'resuming' if resume else 'starting'} {out}", flush=True)
    result = run_pipeline(config, out, resume=resume, verbose=1, progress=False)
    assert result is not None
    return result.report


def mean_sd(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    return float(statistics.fmean(vals)), float(statistics.stdev(vals)) if len(vals) > 1 else 0.0


def summarise(reports: dict[int, dict[str, Any]], full: bool) -> dict[str, Any]:
    first = next(iter(reports.values()))
    tasks = [r["task"] for r in first["rows"]]
    rows = []
    for k, name in enumerate(tasks):
        row: dict[str, Any] = {"task_id": k, "task": name}
        for key in ("specialist", "distilled", "multi_hdrqn", "greedy"):
            vals = [rep["rows"][k].get(key) for rep in reports.values()]
            if all(v is None for v in vals):
                continue
            row[key], row[f"{key}_sd"] = mean_sd(vals)
        ratios = [rep["rows"][k]["ratio"] for rep in reports.values()]
        row["ratio"], row["ratio_sd"] = mean_sd(ratios)
        row["ratio_per_seed"] = ratios
        row["ratio_of_means"] = (
            row["distilled"] / row["specialist"] if row["specialist"] > 0 else math.nan
        )
        row["within_10pct"] = (
            bool(row["ratio_of_means"] >= 0.9) if full else "not judged (reduced budget)"
        )
        rows.append(row)
    steps = first["env_steps"]
    walls = {
        key: mean_sd(
            [float(np.sum(rep["wall_s"][key])) for rep in reports.values() if key in rep["wall_s"]]
        )
        for key in ("specialists", "distill", "multi_hdrqn")
        if key in first["wall_s"]
    }
    return {
        "rows": rows,
        "env_steps": steps,
        "wall_s_mean_sd": walls,
        "targets_met": (all(r["within_10pct"] is True for r in rows) if full else "not judged"),
    }


def machine() -> dict[str, Any]:
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "mt_envs": dist_version("mt-envs"),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def _cell(row: dict[str, Any], key: str) -> str:
    if key not in row or row[key] is None or not math.isfinite(row[key]):
        return "n/a"
    return f"{row[key]:.3f} ± {row[f'{key}_sd']:.3f}"


def markdown(rep: dict[str, Any]) -> str:
    s = rep["summary"]
    cmd = rep["command"]
    seeds = rep["seeds"]
    lines = [
        f"Command: `{cmd}` ({len(seeds)} seed{'s' if len(seeds) != 1 else ''}, "
        f"{rep['episodes']} evaluation episodes per task and learner; mean ± sd across seeds of "
        "the discounted return, gamma 0.95).",
        "",
        "| task | specialist | distilled | distilled / specialist (per seed) | Multi-HDRQN | "
        "greedy chaser |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for r in s["rows"]:
        per_seed = ", ".join(
            "n/a" if v is None or not math.isfinite(v) else f"{v:.2f}" for v in r["ratio_per_seed"]
        )
        lines.append(
            f"| {r['task_id']}: {r['task']} | {_cell(r, 'specialist')} | {_cell(r, 'distilled')} | "
            f"**{r['ratio_of_means']:.2f}** ({per_seed}) | {_cell(r, 'multi_hdrqn')} | "
            f"{_cell(r, 'greedy')} |"
        )
    steps = s["env_steps"]
    walls = s["wall_s_mean_sd"]
    lines += [
        "",
        "| phase | env steps | wall time per seed (s, mean ± sd) |",
        "|---|--:|--:|",
        f"| specialists | {' + '.join(str(v) for v in steps['specialists'])} | "
        f"{walls['specialists'][0]:.0f} ± {walls['specialists'][1]:.0f} |",
        f"| distillation | {steps['distill']} | {walls['distill'][0]:.0f} ± "
        f"{walls['distill'][1]:.0f} |",
    ]
    if "multi_hdrqn" in steps:
        lines.append(
            f"| Multi-HDRQN | {steps['multi_hdrqn']} | {walls['multi_hdrqn'][0]:.0f} ± "
            f"{walls['multi_hdrqn'][1]:.0f} |"
        )
    verdict = s["targets_met"]
    lines += [
        "",
        "Target (distilled within 10% of every specialist): "
        + (("**met**" if verdict else "**not met**") if isinstance(verdict, bool) else verdict)
        + f". Machine: {rep['machine']['cpu']} ({rep['machine']['cores']} cores), "
        f"torch {rep['machine']['torch']}, {rep['date']}.",
    ]
    return "\n".join(lines) + "\n"


def plot(reports: dict[int, dict[str, Any]], runs_dir: Path, path: Path) -> None:
    """Figure 5: per task, mean curve across seeds of each approach against its env steps."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    phases_by_seed = {
        s: json.loads((runs_dir / f"seed{s}" / "pipeline.json").read_text())["phases"]
        for s in reports
    }
    first = next(iter(reports.values()))
    names = [r["task"] for r in first["rows"]]
    n = len(names)
    cols = min(n, 2)
    lines = math.ceil(n / cols)
    fig = Figure(figsize=(5.5 * cols, 3.4 * lines), dpi=100)
    FigureCanvasAgg(fig)
    spec_steps = first["env_steps"]["specialists"]
    offsets = np.cumsum([0, *spec_steps])

    def mean_curve(curves: list[list[dict[str, Any]]], task: str) -> tuple[np.ndarray, np.ndarray]:
        length = min(len(c) for c in curves)
        xs = np.array([curves[0][i]["timesteps"] for i in range(length)], dtype=float)
        ys = np.array(
            [[c[i]["disc_return"][task] for i in range(length)] for c in curves], dtype=float
        )
        return xs, ys.mean(axis=0)

    for k, name in enumerate(names):
        ax = fig.add_subplot(lines, cols, k + 1)
        spec = [p["specialists"][str(k)]["curve"] for p in phases_by_seed.values()]
        xs, ys = mean_curve(spec, name)
        ax.plot(offsets[k] + xs, ys, color="tab:blue", label="specialist (phase I)")
        dist = [p["distill"]["curve"] for p in phases_by_seed.values()]
        xs, ys = mean_curve(dist, name)
        ax.plot(offsets[-1] + xs, ys, color="tab:green", label="distilled (phase II)")
        multi = [p["multi_hdrqn"]["curve"] for p in phases_by_seed.values() if "multi_hdrqn" in p]
        if multi:
            xs, ys = mean_curve(multi, name)
            ax.plot(xs, ys, color="tab:red", label="Multi-HDRQN")
        greedy = [rep["rows"][k].get("greedy") for rep in reports.values()]
        if all(g is not None for g in greedy):
            ax.axhline(float(np.mean(greedy)), color="gray", linestyle=":", label="greedy chaser")
        ax.axvline(offsets[-1], color="black", linewidth=0.6, alpha=0.5)
        ax.set_title(name, fontsize="small")
        ax.set_xlabel("env steps")
        ax.set_ylabel("disc. return")
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize="x-small", loc="best")
    fig.suptitle(f"{TASK_SET}: distillation vs Multi-HDRQN, mean of {len(reports)} seeds")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)


def run_demo(args: argparse.Namespace) -> int:
    """The ``mt-agents demo`` run, measured: its table, env steps and wall times go to
    ``distill_demo.md`` / ``.json`` and its GIFs to ``docs/_static/distill_demo_<task>.gif``."""
    from mt_agents.distillation.cli import demo_config

    out = args.runs_dir / "demo"
    resume = (out / "pipeline.json").exists()
    config = demo_config(seed=args.seeds[0], device=args.device)
    started = time.perf_counter()
    result = run_pipeline(config, out, resume=resume, verbose=1)
    assert result is not None
    total = time.perf_counter() - started
    rep = result.report
    wall = rep["wall_s"]
    steps = rep["env_steps"]
    train_wall = float(np.sum(wall["specialists"]) + wall["distill"])
    lines = [
        f"`mt-agents demo` (seed {config.seed}; {config.eval_episodes} evaluation episodes per "
        "task; discounted return, gamma 0.95, mean ± 95% CI half-width):",
        "",
        result.table,
        "",
        f"Env steps: specialists {' + '.join(str(v) for v in steps['specialists'])}, "
        f"distillation {steps['distill']}. Training wall time {train_wall:.0f} s "
        f"({', '.join(f'{w:.0f}' for w in wall['specialists'])} and {wall['distill']:.0f} s)"
        + ("" if resume else f"; the whole demo {total:.0f} s")
        + f" on {cpu_name()} ({os.cpu_count()} cores, shared with other jobs), "
        f"{datetime.date.today().isoformat()}.",
    ]
    md = "\n".join(lines) + "\n"
    print(md)
    if not args.no_write:
        data = {"report": rep, "demo_wall_s": None if resume else total, "machine": machine()}
        write_atomic(args.out_dir / "distill_demo.json", json.dumps(data, indent=2) + "\n")
        write_atomic(args.out_dir / "distill_demo.md", md)
        for gif in rep["gifs"]:
            target = DOCS_STATIC / f"distill_demo_{Path(gif).stem}.gif"
            target.write_bytes((out / gif).read_bytes())
            print(f"Wrote {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument(
        "--specialist-timesteps", type=int, nargs="+", default=list(FULL_SPECIALIST)
    )
    parser.add_argument("--distill-timesteps", type=int, default=FULL_DISTILL)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(FULL_SEEDS)))
    parser.add_argument("--num-envs", type=int, default=32)
    parser.add_argument("--episodes", type=int, default=50, help="evaluation episodes per task")
    parser.add_argument("--curve-episodes", type=int, default=10)
    parser.add_argument("--no-multi", action="store_true", help="skip the Multi-HDRQN baseline")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--label", default=None, help="suffix of the result and plot files")
    parser.add_argument("--runs-dir", type=Path, default=None)
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--no-write", action="store_true", help="print, do not write results")
    parser.add_argument(
        "--demo", action="store_true", help="measure the 'mt-agents demo' run instead"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    stem = NAME if args.label is None else f"{NAME}_{args.label}"
    if args.runs_dir is None:
        args.runs_dir = RESULTS / ".cache" / stem
    if args.demo:
        return run_demo(args)
    full = (
        sorted(args.tasks) == [0, 1, 2, 3]
        and len(args.seeds) >= FULL_SEEDS
        and all(
            s >= f
            for s, f in zip(
                args.specialist_timesteps * (4 if len(args.specialist_timesteps) == 1 else 1),
                FULL_SPECIALIST,
                strict=True,
            )
        )
        if len(args.specialist_timesteps) in (1, 4)
        else False
    ) and args.distill_timesteps >= FULL_DISTILL
    started = time.perf_counter()
    reports = {seed: run_seed(args, seed) for seed in args.seeds}
    rep = {
        "name": NAME,
        "command": "python benchmarks/distill_mamt.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "date": datetime.date.today().isoformat(),
        "seeds": list(args.seeds),
        "episodes": args.episodes,
        "full_budget": full,
        "summary": summarise(reports, full),
        "per_seed": {
            str(s): {"rows": r["rows"], "wall_s": r["wall_s"]} for s, r in reports.items()
        },
        "benchmark_wall_s": time.perf_counter() - started,
        "machine": machine(),
    }
    md = markdown(rep)
    print(md)
    if not args.no_write:
        write_atomic(args.out_dir / f"{stem}.json", json.dumps(rep, indent=2) + "\n")
        write_atomic(args.out_dir / f"{stem}.md", md)
        plot_path = args.plot or DOCS_STATIC / f"{stem}.png"
        plot(reports, args.runs_dir, plot_path)
        print(f"Wrote {args.out_dir / f'{stem}.json'}, {args.out_dir / f'{stem}.md'}, {plot_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
