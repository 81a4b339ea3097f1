"""The ``mt-envs`` command: list, describe, play, benchmark and record the environments.

Run ``mt-envs --help`` or ``mt-envs COMMAND --help``. Start with ``mt-envs demo``: it plays the
greedy chaser and random actions on the four tasks of ``mamt-2a-3to6`` and writes a GIF per task
and a results table in a few seconds.

Every command is also callable in-process: ``main(["play", "mamt_v0", "--episodes", "5"])``
returns the exit code (0 on success, 2 on a usage error) instead of exiting.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np

import mt_envs
from mt_envs import registry, task_sets
from mt_envs.play import (
    FORMATS,
    GAMMA,
    POLICIES,
    format_table,
    make_policy,
    run_episodes,
    summarize,
)
from mt_envs.tasks import TaskSet
from mt_envs.utils import UnknownNameError, unknown_name_error

PROG = "mt-envs"
DEMO_TASK_SET = "mamt-2a-3to6"
DEMO_ENV = "mamt_v0"
#: Episodes of each task that the demo's GIFs show.
DEMO_GIF_EPISODES = 2


class UsageError(Exception):
    """A problem with the command line (or a run folder, for ``mt-agents``); reported as one
    line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` raising :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


class _Progress:
    """A carriage-return counter on stderr, shown only when stdout is a terminal."""

    def __init__(self, total: int, label: str, stream: IO[str] | None = None) -> None:
        self.total, self.label, self.done = total, label, 0
        self.stream = sys.stderr if stream is None else stream
        self.enabled = sys.stdout.isatty() and total > 1
        self._last = 0.0

    def step(self, k: int = 1) -> None:
        self.done += k
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            self.stream.write(f"\r{self.label}: {self.done}/{self.total} episodes")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * (len(self.label) + 40) + "\r")
            self.stream.flush()


# -- resolving names -----------------------------------------------------------------------------
def _first_line(text: str | None) -> str:
    for line in (text or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _resolve(name: str, task_set: str | None) -> tuple[str, TaskSet]:
    """Env id and task set from an ``ID`` (env id or task-set name) and ``--task-set``."""
    if name in registry.ENV_MODULES:
        env_id = name
        set_name = task_set
    elif name in task_sets.names():
        env_id, set_name = task_sets.env_id_of(name), task_set or name
    else:
        raise unknown_name_error(
            "environment id or task set", name, [*registry.env_ids(), *task_sets.names()]
        )
    if set_name is None:
        module = registry.env_module(env_id)
        set_name = module.parallel_env().task_set.name
    ts = task_sets.get(set_name)
    meant_for = task_sets.env_id_of(set_name)
    if meant_for != env_id:
        raise UsageError(
            f"task set {set_name!r} is meant for {meant_for}, not {env_id}: run "
            f"'{PROG} play {meant_for} --task-set {set_name}'"
        )
    return env_id, ts


def _task_ids(ts: TaskSet, task: int | None) -> list[int]:
    if task is None:
        return list(range(len(ts)))
    if not 0 <= task < len(ts):
        raise UsageError(
            f"--task {task} is out of range: task set {ts.name!r} has tasks 0..{len(ts) - 1} "
            f"(see '{PROG} describe {ts.name}')"
        )
    return [task]


def _make_per_task(env_id: str, ts: TaskSet, **kwargs: Any) -> Any:
    """The env of ``env_id`` over ``ts``, playing one task per episode.

    Families with a team mode (GridWorld, chain: agent ``i`` always plays task ``i``) are built in
    their ``"sampled"`` mode, so that ``play`` and ``record`` can report and show each task.
    """
    env = registry.make(env_id, tasks=ts, **kwargs)
    if getattr(env.unwrapped, "mode", None) == "team":
        env.close()
        env = registry.make(env_id, tasks=ts, mode="sampled", **kwargs)
    return env


def _play_all(
    env: Any,
    policy_name: str,
    tasks: list[int],
    episodes: int,
    seed: int,
    progress: _Progress | None = None,
    on_step: Callable[[Any, int, bool], None] | None = None,
) -> list[dict[str, Any]]:
    """``episodes`` episodes of each task; task ``k`` is seeded ``seed + k``."""
    rows: list[dict[str, Any]] = []

    def tick(e: Any, episode: int, done: bool) -> None:
        if on_step is not None:
            on_step(e, episode, done)
        if done and progress is not None:
            progress.step()

    for k in tasks:
        policy = make_policy(policy_name, env, seed + k)
        rows += run_episodes(env, policy, episodes, seed=seed + k, task=k, on_step=tick)
    return rows


# -- commands ------------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    """Print the env ids and the registered task sets."""
    ids = registry.env_ids()
    width = max(len(i) for i in ids)
    print("Environments:")
    for env_id in ids:
        print(f"  {env_id:<{width}}  {_first_line(registry.env_module(env_id).__doc__)}")
    names = task_sets.names()
    width = max(len(n) for n in names)
    env_w = max(len(task_sets.env_id_of(n)) for n in names)
    print("\nTask sets:")
    for name in names:
        ts = task_sets.get(name)
        env_id = task_sets.env_id_of(name)
        count = f"{len(ts)} task" + ("s" if len(ts) != 1 else "")
        print(f"  {name:<{width}}  {env_id:<{env_w}}  {count:>8}  {ts.description}")
    print(f"\nMore: '{PROG} describe ID' for an env card or a task set's tasks.")
    return 0


def _task_rows(ts: TaskSet) -> list[dict[str, Any]]:
    from mt_envs.capture.task import CaptureTask

    rows: list[dict[str, Any]] = []
    for i, t in enumerate(ts):
        if isinstance(t, CaptureTask):
            rows.append(
                {
                    "task_id": i,
                    "task": t.name,
                    "grid": f"{t.grid_size}x{t.grid_size}",
                    "agents": t.n_agents,
                    "targets": t.n_targets,
                    "flicker": t.flicker,
                    "assignment": " ".join(str(a) for a in t.assignment or ()),
                    "horizon": t.max_steps,
                }
            )
        else:
            fields = {k: v for k, v in t.to_dict().items() if k != "family"}
            rows.append({"task_id": i, "task": t.name, **{k: str(v) for k, v in fields.items()}})
    return rows


def cmd_describe(args: argparse.Namespace) -> int:
    """Print an env card, or the tasks of a task set."""
    name = args.id
    if name in registry.ENV_MODULES:
        print((registry.env_module(name).__doc__ or "").strip())
        sets = ", ".join(task_sets.names(name)) or "none"
        print(f"\nTask sets for {name}: {sets}")
        return 0
    if name in task_sets.names():
        ts = task_sets.get(name)
        print(f"{ts.name} ({task_sets.env_id_of(name)}, {len(ts)} tasks): {ts.description}\n")
        print(format_table(_task_rows(ts), args.format))
        return 0
    raise unknown_name_error(
        "environment id or task set", name, [*registry.env_ids(), *task_sets.names()]
    )


def cmd_play(args: argparse.Namespace) -> int:
    """Play episodes and print the per-task table."""
    env_id, ts = _resolve(args.id, args.task_set)
    tasks = _task_ids(ts, args.task)
    render = args.render
    env = _make_per_task(env_id, ts, render_mode=render)
    frames: list[np.ndarray] = []
    recorder = _recorder(env) if args.record else None

    shown: set[tuple[int, int]] = set()

    def on_step(e: Any, episode: int, done: bool) -> None:
        if render == "ansi":
            print(e.render(), end="\n\n")
        elif render == "human" and (e.task_id, episode) not in shown:
            shown.add((e.task_id, episode))
            e.render()  # the env draws itself after each step; this shows the reset state
        if recorder is not None and episode < args.record_episodes:
            frames.append(recorder(e))
            if done:
                frames.extend([frames[-1]] * 3)

    progress = _Progress(args.episodes * len(tasks), f"{args.policy} on {ts.name}")
    try:
        rows = _play_all(env, args.policy, tasks, args.episodes, args.seed, progress, on_step)
    finally:
        progress.close()
        env.close()
    summary = summarize(rows, GAMMA)
    if args.format == "markdown":
        count = f"{args.episodes} episode{'s' if args.episodes != 1 else ''} per task"
        print(f"{env_id} | task set {ts.name} | policy {args.policy} | {count} | seed {args.seed}")
        print()
    print(format_table(summary, args.format))
    if args.record:
        from mt_envs.recording import save_gif

        path = save_gif(frames, args.record, fps=args.fps)
        print(f"\nWrote {path}", file=sys.stderr if args.format != "markdown" else sys.stdout)
    return 0


def _recorder(env: Any) -> Callable[[Any], np.ndarray]:
    from mt_envs.recording import frame_grabber

    grab = frame_grabber(env)
    return lambda _e: grab()


def cmd_record(args: argparse.Namespace) -> int:
    """Record episodes as a GIF."""
    from mt_envs.recording import record_episodes, save_gif

    env_id, ts = _resolve(args.id, args.task_set)
    if args.task is not None:
        _task_ids(ts, args.task)
    env = _make_per_task(env_id, ts, render_mode="rgb_array")
    policy = make_policy(args.policy, env, args.seed)
    try:
        frames, stats = record_episodes(env, policy, args.episodes, seed=args.seed, task=args.task)
    finally:
        env.close()
    path = save_gif(frames, args.out, fps=args.fps)
    captured = sum(bool(s["captured"]) for s in stats)
    print(
        f"Wrote {path}: {len(stats)} episode(s) of {env_id} ({ts.name}), policy {args.policy}, "
        f"{captured} captured, {len(frames)} frames at {args.fps:g} fps"
    )
    return 0


def _bench_parallel(env_id: str, ts: TaskSet, seconds: float) -> tuple[float, float]:
    env = registry.make(env_id, tasks=ts)
    n_agents = len(env.possible_agents)
    n_actions = int(env.action_space(env.possible_agents[0]).n)
    pool = np.random.default_rng(0).integers(0, n_actions, size=(4096, n_agents)).tolist()
    env.reset(seed=0)
    steps = agent_steps = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for k in range(256):
            agents = env.agents
            row = pool[(steps + k) & 4095]
            env.step({a: row[i] for i, a in enumerate(agents)})
            agent_steps += len(agents)
            if not env.agents:
                env.reset()
        steps += 256
    elapsed = time.perf_counter() - start
    return steps / elapsed, agent_steps / elapsed


def _bench_vector(env_id: str, ts: TaskSet, num_envs: int, seconds: float) -> tuple[float, float]:
    venv = registry.make_vec(env_id, num_envs, tasks=ts, seed=0)
    _, info = venv.reset(seed=0)
    n_actions = int(venv.single_action_space.n)
    pool = np.random.default_rng(0).integers(0, n_actions, size=(16, num_envs, venv.num_agents))
    steps = agent_steps = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for k in range(16):
            agent_steps += int(info["agent_mask"].sum())
            _, _, _, _, info = venv.step(pool[k])
        steps += 16
    elapsed = time.perf_counter() - start
    venv.close()
    return steps * num_envs / elapsed, agent_steps / elapsed


def cmd_bench(args: argparse.Namespace) -> int:
    """Measure env throughput with random actions."""
    env_id, ts = _resolve(args.id, args.task_set)
    if args.seconds <= 0:
        raise UsageError(f"--seconds {args.seconds} is invalid: need a duration > 0")
    if any(b < 1 for b in args.num_envs):
        raise UsageError(f"--num-envs {args.num_envs} is invalid: every batch size must be >= 1")
    rows: list[dict[str, Any]] = []
    env_sps, agent_sps = _bench_parallel(env_id, ts, args.seconds)
    rows.append(
        {
            "api": "ParallelEnv",
            "num_envs": 1,
            "env_steps_per_s": env_sps,
            "agent_steps_per_s": agent_sps,
        }
    )
    for b in args.num_envs:
        env_sps, agent_sps = _bench_vector(env_id, ts, b, args.seconds)
        rows.append(
            {
                "api": "make_vec",
                "num_envs": b,
                "env_steps_per_s": env_sps,
                "agent_steps_per_s": agent_sps,
            }
        )
    if args.format == "markdown":
        print(f"{env_id} | task set {ts.name} | random actions | {args.seconds:g} s per row\n")
        for r in rows:
            r["env_steps_per_s"] = round(r["env_steps_per_s"])
            r["agent_steps_per_s"] = round(r["agent_steps_per_s"])
    print(format_table(rows, args.format))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Greedy vs random on every task of mamt-2a-3to6, with GIFs and result files."""
    start = time.perf_counter()
    if args.episodes < 1:
        raise UsageError(f"--episodes {args.episodes} is invalid: need at least 1")
    out = Path(args.out)
    ts = task_sets.get(DEMO_TASK_SET)
    env = registry.make(DEMO_ENV, tasks=ts)
    tasks = list(range(len(ts)))
    results: dict[str, list[dict[str, Any]]] = {}
    progress = _Progress(args.episodes * len(tasks) * len(POLICIES), "demo")
    try:
        for name in ("greedy", "random"):
            rows = _play_all(env, name, tasks, args.episodes, args.seed, progress)
            results[name] = summarize(rows, GAMMA)
    finally:
        progress.close()
    out.mkdir(parents=True, exist_ok=True)
    gifs: list[Path] = []
    if not args.no_gif:
        from mt_envs.recording import record_episodes, save_gif

        gif_env = registry.make(DEMO_ENV, tasks=ts, render_mode="rgb_array")
        try:
            for k in tasks:
                policy = make_policy("greedy", gif_env, args.seed + k)
                frames, _ = record_episodes(
                    gif_env, policy, min(DEMO_GIF_EPISODES, args.episodes), args.seed + k, k
                )
                gifs.append(save_gif(frames, out / f"{ts[k].name}.gif", fps=5))
        finally:
            gif_env.close()

    rate = {
        name: float(np.mean([r["capture_rate"] for r in rows])) for name, rows in results.items()
    }
    disc = {
        name: float(np.mean([r["disc_return"] for r in rows])) for name, rows in results.items()
    }
    title = (
        f"{DEMO_ENV} on {DEMO_TASK_SET}: {args.episodes} episode(s) per task, seed {args.seed}, "
        f"discount {GAMMA:g}"
    )
    verdict = (
        f"Greedy chaser captures {rate['greedy']:.0%} of episodes (mean discounted return "
        f"{disc['greedy']:.3f}); random actions {rate['random']:.0%} ({disc['random']:.3f})."
    )
    md = [f"# mt-envs demo\n\n{title}\n"]
    for name in ("greedy", "random"):
        md.append(f"## {name}\n\n{format_table(results[name])}\n")
    command = f"{PROG} demo --episodes {args.episodes} --seed {args.seed}"
    md.append(f"{verdict}\n\nReproduce: `{command}`\n")
    _write_text(out / "results.md", "\n".join(md))
    payload = {
        "env_id": DEMO_ENV,
        "task_set": DEMO_TASK_SET,
        "episodes_per_task": args.episodes,
        "seed": args.seed,
        "gamma": GAMMA,
        **results,
    }
    _write_text(out / "results.json", json.dumps(payload, indent=2) + "\n")

    print(title + "\n")
    for name in ("greedy", "random"):
        print(f"{name}:\n{format_table(results[name])}\n")
    print(verdict)
    what = f"{len(gifs)} GIFs, results.md and results.json" if gifs else "results.md, results.json"
    print(f"Wrote {what} to {out.resolve()} in {time.perf_counter() - start:.1f} s.")
    return 0


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` atomically (temporary file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# -- parser --------------------------------------------------------------------------------------
def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"need an int >= 0, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"need an int >= 1, got {value}")
    return value


def _add_target(p: argparse.ArgumentParser, task_set: bool = True) -> None:
    """The positional ``ID`` (env id or task-set name) and, optionally, ``--task-set``."""
    p.add_argument("id", metavar="ID", help="env id (e.g. mamt_v0) or task-set name")
    if task_set:
        p.add_argument("--task-set", metavar="NAME", help="task set (default: the env's own)")


def _add_format(p: argparse.ArgumentParser, what: str = "table") -> None:
    """``--format markdown|csv|json`` of the printed table."""
    p.add_argument("--format", choices=FORMATS, default="markdown", help=f"{what} format")


def build_parser() -> argparse.ArgumentParser:
    """The ``mt-envs`` argument parser."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description="Multi-task multi-agent PettingZoo environments: list, describe, play, "
        "benchmark and record them.",
        epilog=f"Start with '{PROG} demo'. 'ID' is an env id (see '{PROG} list') or a task-set "
        "name, which implies its env.",
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {mt_envs.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    p = sub.add_parser(
        "list", help="list env ids and task sets", description="List env ids and task sets."
    )
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "describe",
        help="print an env card or a task set's tasks",
        description="Print the env card of an env id, or the tasks of a task set (grid, agents, "
        "flicker, assignment, horizon).",
    )
    _add_target(p, task_set=False)
    _add_format(p, "task table")
    p.set_defaults(func=cmd_describe)

    def add_common(p: argparse.ArgumentParser, policy_default: str) -> None:
        _add_target(p)
        p.add_argument(
            "--task", type=_non_negative, metavar="I", help="play only task I of the set"
        )
        p.add_argument(
            "--policy",
            choices=POLICIES,
            default=policy_default,
            help=f"who acts: random legal actions, the family's scripted baseline, or the "
            f"capture envs' greedy chaser "
            f"(default {policy_default})",
        )
        p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
        p.add_argument("--fps", type=float, default=5.0, help="GIF frames per second (default 5)")

    p = sub.add_parser(
        "play",
        help="play episodes and print per-task results",
        description="Play episodes of every task of a set (or one task) and print, per task, the "
        f"mean return, the discounted return (gamma {GAMMA:g}) with its 95% confidence "
        "half-width, the capture rate and the episode length. Task k is seeded SEED + k.",
    )
    add_common(p, "random")
    p.add_argument("--episodes", type=_positive, default=20, help="episodes per task (default 20)")
    p.add_argument(
        "--render", choices=("ansi", "human"), help="print text frames, or show a window"
    )
    p.add_argument("--record", metavar="OUT.gif", help="also write a GIF of the first episodes")
    p.add_argument(
        "--record-episodes",
        type=_positive,
        default=1,
        metavar="N",
        help="episodes of each task that --record keeps (default 1)",
    )
    _add_format(p)
    p.set_defaults(func=cmd_play)

    p = sub.add_parser(
        "bench",
        help="measure env throughput",
        description="Steps per second of the ParallelEnv and of the batched env "
        "(mt_envs.make_vec) with random actions, for each batch size.",
    )
    _add_target(p)
    p.add_argument(
        "--num-envs",
        type=int,
        nargs="+",
        default=[1, 64, 1024],
        metavar="B",
        help="batch sizes of the batched env (default 1 64 1024)",
    )
    p.add_argument("--seconds", type=float, default=2.0, help="seconds per measurement (default 2)")
    _add_format(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "record",
        help="record episodes as a GIF",
        description="Play episodes with a policy and write them as an animated GIF "
        '(needs pip install "mt-envs[render]").',
    )
    add_common(p, "scripted")
    p.add_argument("--out", required=True, metavar="FILE", help="GIF to write")
    p.add_argument("--episodes", type=_positive, default=1, help="episodes (default 1)")
    p.set_defaults(func=cmd_record)

    p = sub.add_parser(
        "demo",
        help="greedy vs random on mamt-2a-3to6, with GIFs",
        description=f"Play the greedy chaser and random actions on every task of "
        f"{DEMO_TASK_SET} ({DEMO_ENV}), print per-task tables, and write one GIF per task "
        "(<task name>.gif) plus results.md and results.json into DIR.",
    )
    p.add_argument(
        "--out", default="mt_envs_demo", metavar="DIR", help="output folder (default mt_envs_demo)"
    )
    p.add_argument(
        "--episodes", type=int, default=100, help="episodes per task and policy (default 100)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--no-gif", action="store_true", help="skip the GIFs (no pygame needed)")
    p.set_defaults(func=cmd_demo)
    return parser


def run(prog: str, parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` with ``parser`` and run the chosen subcommand (``args.func``), the shared
    error handling of the ``mt-envs`` and ``mt-agents`` command lines.

    Returns:
        The exit code: 0 on success, 2 on a usage error or a failure reported in one line
        (``<prog>: error: ...`` on stderr), 130 when interrupted.
    """

    def error(message: str) -> int:
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2

    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except UsageError as exc:
        return error(str(exc))
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except (UsageError, UnknownNameError, ValueError, ImportError, OSError) as exc:
        message = str(exc)
        return error(message.splitlines()[0] if message else type(exc).__name__)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mt-envs`` command line.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 2 on a usage error or a failure reported in one line
        (``mt-envs: error: ...`` on stderr), 130 when interrupted.
    """
    return run(PROG, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
