"""The ``mt-agents distill`` and ``mt-agents demo`` commands (added to :mod:`mt_agents.cli`).

``mt-agents distill`` runs the two-phase pipeline of :mod:`mt_agents.distillation.pipeline` into a
run folder; ``--resume`` continues an interrupted run at its first unfinished phase, and
``--stop-after PHASE`` stops early (for example after the specialists). ``mt-agents demo`` is the
same pipeline on two small MAMT tasks (3x3 and 4x4 of ``mamt-2a-3to6``), sized to finish in about
ten minutes on two CPU cores, ending with the per-task table and a GIF of the distilled team per
task.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mt_envs.cli import UsageError

__all__ = ["DEMO_CONFIG", "add_commands", "cmd_demo", "cmd_distill", "demo_config"]

#: The demo's settings (``PipelineConfig`` keyword arguments): about 6 minutes in all on a
#: two-core CPU shared with other jobs (340 s of training, measured).
DEMO_CONFIG: dict[str, Any] = {
    "env_id": "mamt_v0",
    "task_set": "mamt-2a-3to6",
    "tasks": (0, 1),
    "specialist_timesteps": (150_000, 300_000),
    "distill_timesteps": 60_000,
    "num_envs": 16,
    "seed": 0,
    "eval_episodes": 50,
    "gif_episodes": 3,
}


def demo_config(scale: float = 1.0, seed: int = 0, device: str = "auto") -> Any:
    """The demo's :class:`~mt_agents.distillation.pipeline.PipelineConfig`.

    Args:
        scale: Multiplies every training budget (0.1: a quick look whose teams are still poor).
        seed: Seed of the run.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.
    """
    from mt_agents.distillation.pipeline import PipelineConfig

    if not scale > 0:
        raise UsageError(f"--scale {scale} is invalid: need a number > 0")
    kwargs = dict(DEMO_CONFIG, seed=seed, device=device)
    kwargs["specialist_timesteps"] = tuple(
        max(1, round(s * scale)) for s in DEMO_CONFIG["specialist_timesteps"]
    )
    kwargs["distill_timesteps"] = max(1, round(DEMO_CONFIG["distill_timesteps"] * scale))
    if scale < 1:
        kwargs["eval_episodes"] = max(5, round(DEMO_CONFIG["eval_episodes"] * scale))
    return PipelineConfig(**kwargs)


def _threads(k: int) -> None:
    if k:
        import torch

        torch.set_num_threads(k)


def _finish(result: Any, out: Path) -> int:
    if result is None:
        print(f"Stopped; continue with: mt-agents distill --out {out} --resume")
        return 0
    print()
    print(result.table)
    print()
    steps = result.report["env_steps"]
    wall = result.report["wall_s"]
    total_wall = sum(wall["specialists"]) + wall["distill"] + wall.get("multi_hdrqn", 0.0)
    print(
        f"Env steps: specialists {steps['specialists']}, distillation {steps['distill']}"
        + (f", Multi-HDRQN {steps['multi_hdrqn']}" if "multi_hdrqn" in steps else "")
        + f"; training wall time {total_wall:.0f} s."
    )
    for path in result.files:
        print(f"Wrote {path}")
    return 0


def _run(config: Any, out: Path, args: argparse.Namespace, resume: bool) -> int:
    from mt_agents.distillation.pipeline import PipelineError, run_pipeline

    _threads(args.torch_threads)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    if progress:
        import warnings

        warnings.filterwarnings("ignore", message="rich is experimental")
    try:
        result = run_pipeline(
            config,
            out,
            resume=resume,
            stop_after=getattr(args, "stop_after", None),
            verbose=args.verbose,
            progress=progress,
        )
    except PipelineError as exc:
        raise UsageError(str(exc)) from exc
    except KeyboardInterrupt:
        print(
            f"\nInterrupted; finished phases are kept. Continue with: mt-agents distill --out "
            f"{out} --resume",
            file=sys.stderr,
        )
        return 130
    return _finish(result, out)


def cmd_distill(args: argparse.Namespace) -> int:
    """Run or resume the specialise-distil-evaluate pipeline."""
    from mt_agents.distillation.pipeline import PipelineConfig

    out = Path(args.out)
    if args.resume:
        given = [
            flag
            for flag, value in (
                ("--task-set", args.task_set),
                ("--tasks", args.tasks),
                ("--specialist-timesteps", args.specialist_timesteps),
                ("--distill-timesteps", args.distill_timesteps),
            )
            if value is not None
        ]
        if given:
            raise UsageError(
                f"{', '.join(given)} cannot change a resumed run (it keeps its settings); start "
                "a new --out folder instead"
            )
        return _run(None, out, args, resume=True)
    if args.task_set is None:
        raise UsageError("--task-set NAME is required for a new run (see 'mt-envs list')")
    from mt_envs import task_sets

    env_id = args.env or task_sets.env_id_of(args.task_set)
    if args.specialist_timesteps is None or args.distill_timesteps is None:
        raise UsageError(
            "--specialist-timesteps N [N ...] and --distill-timesteps N are required for a new run"
        )
    spec = args.specialist_timesteps
    distill_kwargs: dict[str, Any] = {}
    if args.temperature is not None:
        distill_kwargs["temperature"] = args.temperature
    config = PipelineConfig(
        env_id=env_id,
        task_set=args.task_set,
        tasks=None if args.tasks is None else tuple(args.tasks),
        specialist_timesteps=spec[0] if len(spec) == 1 else tuple(spec),
        distill_timesteps=args.distill_timesteps,
        multi_hdrqn=args.multi_hdrqn,
        num_envs=args.num_envs,
        seed=args.seed,
        distill_kwargs=distill_kwargs,
        eval_episodes=args.eval_episodes,
        curve_freq=args.curve_freq,
        curve_episodes=args.curve_episodes,
        gif_episodes=args.gif_episodes,
        device=args.device,
    )
    return _run(config, out, args, resume=False)


def cmd_demo(args: argparse.Namespace) -> int:
    """Specialists on two small MAMT tasks, distilled into one team; table and GIFs."""
    from mt_agents.distillation.pipeline import PIPELINE_FILE

    out = Path(args.out)
    config = demo_config(args.scale, args.seed, args.device)
    resume = (out / PIPELINE_FILE).exists()
    print(
        "mt-agents demo: Dec-HDRQN specialists on MAMT 3x3 and 4x4 (two agents, each must catch "
        "its own target, targets flicker out of sight 30% of the time), then one distilled team "
        "that is never told which task it plays."
        + (f" Resuming the run in {out}." if resume else f" Run folder: {out}")
    )
    return _run(config, out, args, resume=resume)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda")
    p.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        metavar="K",
        help="torch CPU threads (default 1, fastest for these small networks; 0: torch's)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars (default: when stderr is a terminal)",
    )
    p.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="0 quiet, 1 a line per phase (default), 2 also the training logs",
    )


def add_commands(sub: Any) -> None:
    """Add ``distill`` and ``demo`` to the ``mt-agents`` subcommands.

    Args:
        sub: The subparsers action of the ``mt-agents`` parser.
    """
    from mt_agents.distillation.pipeline import PHASES

    p = sub.add_parser(
        "distill",
        help="specialists per task, distilled into one task-agnostic team, with a report",
        description="Phase I trains a Dec-HDRQN specialist team per task (one after another), "
        "phase II distils them into one DRQN per agent that never sees the task id; then every "
        "team is evaluated per task and report.md / report.json / curves.png / GIFs are written "
        "into --out. --resume continues at the first unfinished phase.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Example: mt-agents distill --task-set mamt-2a-3to6 --tasks 0 1 "
        "--specialist-timesteps 150000 300000 --distill-timesteps 100000 --out runs/distill",
    )
    p.add_argument("--env", metavar="ID", help="env id (default: the task set's)")
    p.add_argument("--task-set", metavar="NAME", help="registered task set (required)")
    p.add_argument("--tasks", type=int, nargs="+", metavar="I", help="use these tasks of the set")
    p.add_argument(
        "--specialist-timesteps",
        type=int,
        nargs="+",
        metavar="N",
        help="env steps per specialist: one value, or one per task",
    )
    p.add_argument(
        "--distill-timesteps", type=int, metavar="N", help="env steps of the distillation"
    )
    p.add_argument(
        "--multi-hdrqn",
        action="store_true",
        help="also train the Multi-HDRQN baseline for the same total env steps",
    )
    p.add_argument("--temperature", type=float, help="distillation temperature (default 0.01)")
    p.add_argument("--num-envs", type=int, default=16, metavar="B", help="batch size (16)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--eval-episodes", type=int, default=50, metavar="K", help="per task (50)")
    p.add_argument(
        "--curve-freq", type=int, metavar="N", help="env steps between curve evaluations"
    )
    p.add_argument(
        "--curve-episodes", type=int, default=10, metavar="K", help="per task per curve point"
    )
    p.add_argument(
        "--gif-episodes", type=int, default=1, metavar="K", help="episodes per GIF (0: none)"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--stop-after", choices=PHASES, help="stop once this phase is done")
    _common(p)
    p.set_defaults(func=cmd_distill)

    p = sub.add_parser(
        "demo",
        help="the main demo: specialists on two MAMT tasks distilled into one team (~6 min)",
        description="Train Dec-HDRQN specialists on MAMT 3x3 and 4x4, distil them into one team "
        "that never sees the task id, print the per-task table and write a GIF of the distilled "
        "team per task into --out. Run again to resume an interrupted demo.",
    )
    p.add_argument(
        "--out", default="mt_agents_demo", metavar="DIR", help="run folder (./mt_agents_demo)"
    )
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every training budget (0.1: a quick look with untrained-looking teams)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    _common(p)
    p.set_defaults(func=cmd_demo)
