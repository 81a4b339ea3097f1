"""Figure 2 of paper 000: Dec-DRQN vs Dec-HDRQN on MAMT 3x3 .. 7x7 (n = 2, Pf = 0.3).

Single-task runs, one per grid size and learner (the paper shows one curve each; ``--seeds``
adds more), with the settings of ``dec_hdrqn_mast.py`` (whose run cache this script shares: the
6x6 runs of one are reused by the other when their settings agree). The paper finds Dec-DRQN
unstable at 5x5 and failing at 6x6 and 7x7 while Dec-HDRQN learns every size.

Outputs: ``benchmarks/results/dec_hdrqn_figure2.json`` and ``.md`` (final discounted return of
each run beside the greedy chaser's) and ``docs/_static/dec_hdrqn_figure2.png`` (two panels like
the paper's: discounted return of greedy-action evaluations vs env steps, one line per size).

Usage::

    python benchmarks/dec_hdrqn_figure2.py --jobs 2            # 10 runs of 1.5M env steps
    python benchmarks/dec_hdrqn_figure2.py --timesteps 1000000 --exploration-fraction 0.5
                                                               # the committed results
    python benchmarks/dec_hdrqn_figure2.py --timesteps 3000 --curve-points 3 --no-write
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import dec_hdrqn_mast as base  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import write_atomic  # noqa: E402

NAME = "dec_hdrqn_figure2"
SIZES = [3, 4, 5, 6, 7]


def plot(rep: dict[str, Any], path: Path) -> None:
    """Panel (a) Dec-DRQN, (b) Dec-HDRQN: one curve per grid size (mean over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    learners = rep["learners"]
    fig, axes = plt.subplots(1, len(learners), figsize=(5.2 * len(learners), 3.8), squeeze=False)
    for ax, (letter, learner) in zip(axes[0], zip("abcd", learners, strict=False), strict=True):
        for size in rep["sizes"]:
            runs = rep["runs"][f"mamt{size}"][learner]
            steps, mean, low, high = base.mean_curve(runs)
            if len(steps):
                (line,) = ax.plot(steps, mean, label=f"{size}x{size}")
                ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15)
                greedy = np.mean([r["disc_return"] for r in rep["runs"][f"mamt{size}"]["greedy"]])
                ax.axhline(greedy, color=line.get_color(), linestyle=":", linewidth=1)
        ax.set_title(f"({letter}) {learner}, MAMT n=2, Pf=0.3")
        ax.set_xlabel("env steps")
        ax.set_ylim(-0.02, 1.0)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"discounted return (gamma {base.GAMMA:g})")
    axes[0][-1].legend(title="task (dotted: greedy)", loc="lower right", fontsize=8)
    base.save_figure(fig, path)
    plt.close(fig)


def markdown(rep: dict[str, Any]) -> str:
    learners = rep["learners"]
    lines = [
        "## Figure 2: MAMT 3x3 .. 7x7, n=2, Pf=0.3",
        "",
        f"{rep['timesteps']} env steps on {rep['num_envs']} envs per run, seeds "
        f"{', '.join(map(str, rep['seeds']))}; discounted return of {rep['episodes']} "
        "greedy-action episodes after training, mean over seeds "
        "(`python benchmarks/dec_hdrqn_figure2.py`).",
        "",
        "| task | " + " | ".join(learners) + " | greedy chaser |",
        "|---|" + "--:|" * (len(learners) + 1),
    ]
    for size in rep["sizes"]:
        cells = []
        for learner in [*learners, "greedy"]:
            runs = rep["runs"][f"mamt{size}"][learner]
            cells.append(f"{np.mean([r['disc_return'] for r in runs]):.3f}")
        lines.append(f"| {size}x{size} | " + " | ".join(cells) + " |")
    lines += ["", "Learning curves: `docs/_static/dec_hdrqn_figure2.png`."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=base.FULL_TIMESTEPS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--sizes", type=int, nargs="+", choices=SIZES, default=SIZES)
    parser.add_argument("--num-envs", type=int, default=base.NUM_ENVS)
    parser.add_argument("--episodes", type=int, default=50, help="evaluation episodes per run")
    parser.add_argument("--curve-points", type=int, default=10, help="evaluations during training")
    parser.add_argument("--curve-episodes", type=int, default=20)
    parser.add_argument(
        "--learners", nargs="+", choices=list(base.LEARNERS), default=["Dec-DRQN", "Dec-HDRQN"]
    )
    parser.add_argument("--device", default="auto")
    base.add_run_options(parser)
    parser.add_argument("--plot", type=Path, default=base.DOCS_STATIC / f"{NAME}.png")
    args = parser.parse_args(argv)
    if min(args.timesteps, args.episodes, args.num_envs, args.jobs) < 1:
        parser.error("--timesteps, --episodes, --num-envs and --jobs must be >= 1")
    torch.set_num_threads(1)
    start = time.perf_counter()
    keys = [f"mamt{m}" for m in args.sizes]
    jobs = [(k, name, seed) for k in keys for seed in args.seeds for name in args.learners]
    done = base.run_all(jobs, args)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for k in keys:
        runs[k] = {name: [done[(k, name, seed)] for seed in args.seeds] for name in args.learners}
        runs[k]["greedy"] = [base.run_greedy(base.CASES[k], s, args) for s in args.seeds]
    rep = {
        "benchmark": NAME,
        "timesteps": args.timesteps,
        "seeds": args.seeds,
        "sizes": args.sizes,
        "num_envs": args.num_envs,
        "episodes": args.episodes,
        "gamma": base.GAMMA,
        "learners": args.learners,
        "learner_kwargs": {n: base.learner_kwargs(n, args) for n in args.learners},
        "runs": runs,
        "total_seconds": time.perf_counter() - start,
        "machine": base.machine(),
    }
    md = markdown(rep)
    print()
    print(md)
    if not args.no_write:
        write_atomic(args.out_dir / f"{NAME}.json", json.dumps(rep, indent=2) + "\n")
        write_atomic(args.out_dir / f"{NAME}.md", md)
        plot(rep, args.plot)
        print(f"wrote {args.out_dir / NAME}.json and .md, and {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
