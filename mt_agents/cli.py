"""The ``mt-agents`` command: train, evaluate and plot the multi-agent learners.

Run ``mt-agents --help`` or ``mt-agents COMMAND --help``. A first run, about a minute on a laptop::

    mt-agents train dec-hdrqn --env mast_v0 --task-set mast-2a-4to8 --task 0 \\
        --timesteps 40000 --out runs/mast4
    mt-agents eval runs/mast4 --episodes 50 --baseline greedy random
    mt-agents plot runs/mast4

``mt-agents demo`` trains specialists on two MAMT tasks and distils them into one team;
``mt-agents distill`` runs that two-phase pipeline on any task set (``--resume`` continues it).

A run folder (``--out``) holds ``run.json`` (the command's settings), ``progress.csv`` (SB3's csv
log; a resumed session appends ``progress_2.csv``, ...), ``checkpoints/`` (the latest few, written
atomically), ``model.zip`` (the final model) and, with ``--eval-freq``, ``eval/`` and
``best_model.zip``. ``--resume`` continues an interrupted run from its newest checkpoint, with
``num_timesteps`` (and so the exploration schedule) continuing. Ctrl-C stops training at the
next step, saves a checkpoint and exits with code 130.

Every command is also callable in-process: ``main(["eval", "runs/mast4"])`` returns the exit
code (0 on success, 2 on a usage error, 130 when interrupted) instead of exiting. Errors are one
line on stderr, ``mt-agents: error: ...``, as for ``mt-envs``.

Hyperparameter options (``--hysteretic-beta 0.2``, ``--trace-length 8``, ``--double-q``, ...) are
generated from the learner's constructor: its typed keyword arguments, defaults and docstring.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import inspect
import json
import re
import signal
import sys
import threading
import time
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

import mt_envs
from mt_envs import registry, task_sets
from mt_envs.cli import (
    UsageError,
    _Parser,  # the parser raising UsageError, shared with mt-envs
    run,
)
from mt_envs.play import FORMATS
from mt_envs.utils import unknown_name_error

if TYPE_CHECKING:
    from stable_baselines3.common.callbacks import BaseCallback

    from mt_agents.common.base import MultiAgentAlgorithm
    from mt_agents.common.evaluation import EvaluationResult
    from mt_envs.tasks import Task, TaskSet
    from mt_envs.vector.base import MultiAgentVectorEnv

__all__ = [
    "ALGORITHMS",
    "BASELINES",
    "BaselineModel",
    "UsageError",
    "build_parser",
    "hyperparameter_options",
    "latest_checkpoint",
    "main",
]

PROG = "mt-agents"
#: CLI name -> ``module:Class`` of each learner (imported on use).
ALGORITHMS: dict[str, str] = {
    "dec-hdrqn": "mt_agents.dec_hdrqn:DecHDRQN",
    "q-learning": "mt_agents.tabular:QLearning",
    "soft-q-learning": "mt_agents.tabular:SoftQLearning",
    "multidistral": "mt_agents.tabular:MultiDistral",
    "dcpg": "mt_agents.dcpg:DCPG",
}
#: Scripted policies ``eval --baseline`` measures beside a model.
BASELINES = ("greedy", "random")
RUN_FILE = "run.json"
MODEL_FILE = "model.zip"
CHECKPOINT_DIR = "checkpoints"
_CHECKPOINT_RE = re.compile(r"^(?P<prefix>.+)_(?P<steps>\d+)_steps\.zip$")
#: Constructor arguments the CLI sets itself (never hyperparameter options).
_RUN_ARGUMENTS = frozenset(
    {"self", "env", "device", "seed", "tensorboard_log", "verbose", "_init_setup_model"}
)


# -- hyperparameter options ----------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class HyperOption:
    """One constructor argument of a learner, exposed as a command-line option.

    Attributes:
        name: The keyword argument (``hysteretic_beta``).
        flag: The option (``--hysteretic-beta``).
        default: The constructor's default.
        help: The docstring's description of the argument.
        kwargs: What ``ArgumentParser.add_argument`` gets besides the flag.
    """

    name: str
    flag: str
    default: Any
    help: str
    kwargs: dict[str, Any]


def _docstring_args(cls: type) -> dict[str, str]:
    """``{argument: description}`` from the ``Args:`` section of a Google-style docstring."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    out: dict[str, str] = {}
    in_args = False
    current: str | None = None
    for line in doc.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            in_args = line.strip() == "Args:"
            current = None
            continue
        if not in_args:
            continue
        match = re.match(r"^\s{4}(\w+)(?: \([^)]*\))?: ?(.*)$", line)
        if match and indent == 4:
            current = match.group(1)
            out[current] = match.group(2).strip()
        elif current is not None:
            out[current] += " " + line.strip()
    # Plain text for --help: drop reST literals and roles.
    return {k: re.sub(r":\w+:`~?([^`]+)`", r"\1", v).replace("``", "") for k, v in out.items()}


def _number(text: str) -> int | float:
    """An int when the text is one (``100000``), otherwise a float (``0.2``, ``1e-3``)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"need a number, got {text!r}") from None


def _or_none(kind: type) -> Any:
    def parse(text: str) -> Any:
        if text.lower() == "none":
            return None
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"need {'an int' if kind is int else 'a number'} or 'none', got {text!r}"
            ) from None

    parse.__name__ = f"{kind.__name__}_or_none"
    return parse


def _option_kwargs(hint: Any) -> dict[str, Any] | None:
    """``add_argument`` keywords for a type hint (``None``: not expressible on a command line)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    optional = False
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        optional = len(rest) < len(args)
        if len(rest) != 1:
            return None
        hint = rest[0]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is Literal:
        return {"choices": [str(a) for a in args]}
    if hint in (int, float):
        return {"type": _or_none(hint) if optional else hint, "metavar": hint.__name__.upper()}
    if origin in (Sequence, list, tuple) or (
        isinstance(origin, type) and issubclass(origin, Sequence)
    ):
        item = args[0] if args else float
        return {"nargs": "+", "type": int if item is int else _number, "metavar": "V"}
    if hint is str:
        return {"type": str}
    return None


def hyperparameter_options(cls: type) -> list[HyperOption]:
    """The command-line options of a learner's hyperparameters, from its constructor.

    Every keyword argument of ``cls.__init__`` with a default, except the run settings the CLI
    sets itself (``env``, ``device``, ``seed``, ``tensorboard_log``, ``verbose``), becomes an
    option named after it (``trace_length`` -> ``--trace-length``); ``bool`` arguments get
    ``--x`` / ``--no-x``, ``Literal`` ones a choice, sequences several values and optional
    numbers accept ``none``. The help text is the docstring's description of the argument.

    Args:
        cls: A :class:`~mt_agents.common.MultiAgentAlgorithm` subclass.

    Returns:
        The options, in the constructor's order.
    """
    module = sys.modules[cls.__module__]
    init: Any = cls.__init__  # type: ignore[misc]
    try:
        hints = typing.get_type_hints(init, vars(module))
    except Exception:  # an annotation that cannot be resolved: fall back to the defaults' types
        hints = {}
    docs = _docstring_args(cls)
    options = []
    for name, param in inspect.signature(init).parameters.items():
        if name in _RUN_ARGUMENTS or param.default is inspect.Parameter.empty:
            continue
        hint = hints.get(name, type(param.default) if param.default is not None else None)
        kwargs = _option_kwargs(hint)
        if kwargs is None:
            continue
        default = param.default
        shown = list(default) if isinstance(default, tuple) else default
        text = docs.get(name, "").replace("%", "%%")
        kwargs["help"] = f"{text} (default {shown})".strip()
        kwargs["dest"] = f"hp_{name}"
        kwargs["default"] = argparse.SUPPRESS
        options.append(
            HyperOption(name, "--" + name.replace("_", "-"), default, text, dict(kwargs))
        )
    return options


# -- algorithms, envs and run folders ------------------------------------------------------------
def _algorithm_class(name: str) -> type[MultiAgentAlgorithm]:
    if name not in ALGORITHMS:
        raise unknown_name_error("algorithm", name, ALGORITHMS)
    module_name, _, cls_name = ALGORITHMS[name].partition(":")
    cls: type[MultiAgentAlgorithm] = getattr(importlib.import_module(module_name), cls_name)
    return cls


def _default_task_set(env_id: str) -> str:
    env = registry.env_module(env_id).parallel_env()
    try:
        return str(env.task_set.name)
    finally:
        env.close()


def _resolve_tasks(
    env_id: str | None, task_set: str | None, task: int | None
) -> tuple[str, str, int | None]:
    """``(env id, task-set name, task index)`` from ``--env``, ``--task-set`` and ``--task``."""
    if env_id is None and task_set is None:
        raise UsageError("give the environment: --env ID and/or --task-set NAME")
    if env_id is not None and env_id not in registry.ENV_MODULES:
        raise unknown_name_error("environment id", env_id, registry.env_ids())
    if task_set is None:
        assert env_id is not None
        task_set = _default_task_set(env_id)
    ts = task_sets.get(task_set)
    meant_for = task_sets.env_id_of(task_set)
    if env_id is None:
        env_id = meant_for
    elif meant_for != env_id:
        raise UsageError(
            f"task set {task_set!r} is meant for {meant_for}, not {env_id}: use --env {meant_for} "
            f"(or see 'mt-envs list')"
        )
    if task is not None and not 0 <= task < len(ts):
        raise UsageError(
            f"--task {task} is out of range: task set {task_set!r} has tasks 0..{len(ts) - 1} "
            f"(see 'mt-envs describe {task_set}')"
        )
    return env_id, task_set, task


def _tasks(task_set: str, task: int | None) -> TaskSet | Task:
    ts = task_sets.get(task_set)
    return ts if task is None else ts[task]


def _make_env(
    env_id: str, task_set: str, task: int | None, num_envs: int, seed: int | None
) -> MultiAgentVectorEnv:
    return mt_envs.make_vec(env_id, num_envs, tasks=_tasks(task_set, task), seed=seed)


def _write_json(path: Path, data: Any) -> None:
    from mt_agents.common.utils import atomic_write

    text = (json.dumps(data, indent=2) + "\n").encode()
    atomic_write(path, lambda f: f.write(text))


def _read_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{run_dir} is not a run folder (no {RUN_FILE}): start it without --resume"
        ) from None
    except (OSError, ValueError, RecursionError) as exc:  # (RecursionError: absurd nesting)
        raise UsageError(f"{path} is unreadable ({exc!r}): the run folder is damaged") from exc
    if not isinstance(data, dict) or "algorithm" not in data or "env" not in data:
        raise UsageError(f"{path} is not an mt-agents run file")
    problem = _run_file_problem(data)
    if problem is not None:
        raise UsageError(
            f"{path} is damaged ({problem}): restore it, or start a new run in another --out"
        )
    return data


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _run_file_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with the settings of a ``run.json`` (``None``: nothing)."""
    for key in ("algorithm", "env", "task_set"):
        if not isinstance(data.get(key), str):
            return f"{key} is {data.get(key)!r}, not a name"
    if "task" not in data:
        return "task is missing"
    if data["task"] is not None and not _is_int(data["task"], 0):
        return f"task is {data['task']!r}, not an int >= 0 or null"
    for key, low in (("num_envs", 1), ("seed", 0), ("timesteps", 0)):
        if not _is_int(data.get(key), low):
            return f"{key} is {data.get(key)!r}, not an int >= {low}"
    for key in ("checkpoint_freq", "log_every"):
        if data.get(key) is not None and not _is_int(data[key], 1):
            return f"{key} is {data[key]!r}, not an int >= 1"
    if not isinstance(data.get("sessions", []), list):
        return f"sessions is {data.get('sessions')!r}, not a list"
    if not isinstance(data.get("hyperparameters", {}), dict):
        return f"hyperparameters is {data.get('hyperparameters')!r}, not an object"
    return None


def _remove_stale_temporaries(run_dir: Path) -> list[Path]:
    """Delete the temporary files a killed session left behind (an atomic write interrupted
    before its rename: ``.<name>.<random>.tmp``); they are never read, only clutter."""
    removed = []
    for folder in (run_dir, run_dir / CHECKPOINT_DIR):
        if folder.is_dir():
            for p in folder.glob(".*.tmp"):
                if p.is_file():
                    p.unlink(missing_ok=True)
                    removed.append(p)
    return removed


def checkpoint_steps(path: Path) -> int | None:
    """The step count in a checkpoint's file name (``dec_hdrqn_4096_steps.zip`` -> 4096)."""
    match = _CHECKPOINT_RE.match(path.name)
    return int(match.group("steps")) if match else None


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest checkpoint of a run folder (``None`` when it has none).

    Args:
        run_dir: A folder written by ``mt-agents train``.

    Returns:
        The checkpoint with the largest step count in ``run_dir/checkpoints``.
    """
    folder = Path(run_dir) / CHECKPOINT_DIR
    found = (
        [(checkpoint_steps(p), p) for p in folder.glob("*_steps.zip")] if folder.is_dir() else []
    )
    found = [(s, p) for s, p in found if s is not None]
    return max(found, key=lambda sp: (sp[0], sp[1].name))[1] if found else None


def _progress_files(run_dir: Path) -> list[Path]:
    def order(p: Path) -> int:
        match = re.match(r"^progress(?:_(\d+))?\.csv$", p.name)
        return int(match.group(1) or 1) if match else 0

    return sorted((p for p in run_dir.glob("progress*.csv") if order(p)), key=order)


# -- callbacks of a CLI run ----------------------------------------------------------------------
def _callbacks() -> Any:
    """The callback classes (defined on first use: SB3 is imported only by commands needing it)."""
    from stable_baselines3.common.callbacks import BaseCallback

    class CheckpointEvery(BaseCallback):
        """Save the model every ``save_freq`` env steps into ``folder``, keeping the newest
        ``keep`` (writes are atomic: a reader never sees half a file)."""

        def __init__(self, folder: Path, save_freq: int, prefix: str, keep: int) -> None:
            super().__init__()
            self.folder, self.save_freq, self.prefix, self.keep = folder, save_freq, prefix, keep
            self._next = save_freq

        def _init_callback(self) -> None:
            self._next = (self.model.num_timesteps // self.save_freq + 1) * self.save_freq

        def _on_step(self) -> bool:
            if self.model.num_timesteps >= self._next:
                self.save()
                self._next = (self.model.num_timesteps // self.save_freq + 1) * self.save_freq
            return True

        def save(self) -> Path:
            steps = int(self.model.num_timesteps)
            model: Any = self.model  # an mt_agents learner: save() returns the path
            path = Path(model.save(self.folder / f"{self.prefix}_{steps}_steps.zip"))
            old = sorted(
                (p for p in self.folder.glob(f"{self.prefix}_*_steps.zip") if p != path),
                key=lambda p: checkpoint_steps(p) or 0,
            )
            for p in old[: max(0, len(old) - (self.keep - 1))]:
                p.unlink(missing_ok=True)
            return path

    class DumpEvery(BaseCallback):
        """Write the logger's row every ``every`` env steps, and at the end of training."""

        def __init__(self, every: int) -> None:
            super().__init__()
            self.every = every
            self._next = every
            self._dumped_at = -1

        def _init_callback(self) -> None:
            self._next = (self.model.num_timesteps // self.every + 1) * self.every

        def _on_step(self) -> bool:
            if self.model.num_timesteps >= self._next:
                self.model.dump_logs()
                self._dumped_at = self.model.num_timesteps
                self._next = (self.model.num_timesteps // self.every + 1) * self.every
            return True

        def _on_training_end(self) -> None:
            if self.model.num_timesteps != self._dumped_at:
                self.model.dump_logs()

    class StopWhen(BaseCallback):
        """Stop training (``on_step`` returns False) once ``flag`` is set."""

        def __init__(self, flag: threading.Event) -> None:
            super().__init__()
            self.flag = flag

        def _on_step(self) -> bool:
            return not self.flag.is_set()

    return CheckpointEvery, DumpEvery, StopWhen


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Turn the first SIGINT / SIGTERM into a flag (training stops cleanly at the next step);
    a second one interrupts at once. Outside the main thread: a flag that is never set."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        del frame
        flag.set()
        for s, h in previous.items():  # a second signal acts as usual
            signal.signal(s, h)
        print(
            f"\n{PROG}: {signal.Signals(signum).name}: stopping after this step (again to abort)",
            file=sys.stderr,
        )

    for s in previous:
        signal.signal(s, handler)
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _make_logger(run_dir: Path, stdout: bool) -> Any:
    """SB3 logger of a run: ``progress.csv`` (``progress_<k>.csv`` for later sessions, never
    overwriting), tensorboard events when tensorboard is installed, and a table on stdout."""
    from stable_baselines3.common import logger as sb3_logger

    suffix, k = "", 1
    while (run_dir / f"progress{suffix}.csv").exists():
        k += 1
        suffix = f"_{k}"
    formats: list[Any] = [sb3_logger.make_output_format("csv", str(run_dir), suffix)]
    if sb3_logger.SummaryWriter is not None:
        formats.append(sb3_logger.make_output_format("tensorboard", str(run_dir / "tb"), suffix))
    if stdout:
        # Long enough for per-task keys (rollout/task/<task name>/ep_disc_rew_mean): SB3's
        # default of 36 characters truncates two keys of one task to the same text and fails.
        formats.append(sb3_logger.HumanOutputFormat(sys.stdout, max_length=96))
    return sb3_logger.Logger(folder=str(run_dir), output_formats=formats)


# -- train ---------------------------------------------------------------------------------------
def _hyperparameters_given(args: argparse.Namespace) -> dict[str, Any]:
    return {k[3:]: v for k, v in vars(args).items() if k.startswith("hp_")}


def cmd_train(args: argparse.Namespace) -> int:
    """Train a learner into a run folder, or resume one."""
    from mt_agents.common.utils import resolve_device

    cls = _algorithm_class(args.algorithm)
    run_dir = Path(args.out)
    overrides = _hyperparameters_given(args)
    for name in ("num_envs", "checkpoint_freq", "log_every", "keep_checkpoints"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} {value} is invalid: need an int >= 1")
    device = resolve_device(args.device)
    if device.type == "cpu" and args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)

    if args.resume:
        run = _read_run(run_dir)
        if run["algorithm"] != args.algorithm:
            raise UsageError(
                f"{run_dir} holds a {run['algorithm']} run: resume it with "
                f"'{PROG} train {run['algorithm']} --out {run_dir} --resume'"
            )
        for flag, key in (("env", "env"), ("task_set", "task_set"), ("task", "task")):
            given = getattr(args, flag)
            if given is not None and given != run[key]:
                raise UsageError(
                    f"--{flag.replace('_', '-')} {given} differs from the run's {run[key]}: a "
                    "resumed run keeps its tasks (start a new run with another --out)"
                )
        # (checked again: a damaged run.json must not reach make_vec with a bad task)
        env_id, set_name, task = _resolve_tasks(run["env"], run["task_set"], run.get("task"))
        ckpt = latest_checkpoint(run_dir)
        if ckpt is None and (run_dir / MODEL_FILE).is_file():
            ckpt = run_dir / MODEL_FILE
        if ckpt is None:
            raise UsageError(
                f"{run_dir} has no checkpoint to resume from: start it again without --resume"
            )
        total = args.timesteps if args.timesteps is not None else int(run["timesteps"])
        num_envs = args.num_envs or int(run["num_envs"])
        seed = int(run["seed"]) if args.seed is None else args.seed
    else:
        if args.timesteps is None:
            raise UsageError("--timesteps N is required (env steps, summed over the batch)")
        if latest_checkpoint(run_dir) is not None or (run_dir / MODEL_FILE).exists():
            raise UsageError(
                f"{run_dir} already holds a run: add --resume to continue it, or choose "
                "another --out"
            )
        if (run_dir / RUN_FILE).exists():  # a run that failed before its first checkpoint
            for stale in _progress_files(run_dir):
                stale.unlink()
        env_id, set_name, task = _resolve_tasks(args.env, args.task_set, args.task)
        total = args.timesteps
        num_envs = args.num_envs or 16
        seed = 0 if args.seed is None else args.seed
        run = {
            "algorithm": args.algorithm,
            "env": env_id,
            "task_set": set_name,
            "task": task,
            "num_envs": num_envs,
            "seed": seed,
            "hyperparameters": overrides,
            "sessions": [],
        }
    if total < 0:
        raise UsageError(f"--timesteps {total} is invalid: need an int >= 0")
    checkpoint_freq = args.checkpoint_freq or run.get("checkpoint_freq") or 25_000
    log_every = args.log_every or run.get("log_every") or max(num_envs, min(10_000, total // 50))
    run.update(
        timesteps=total,
        num_envs=num_envs,
        checkpoint_freq=checkpoint_freq,
        log_every=log_every,
        mt_envs_version=mt_envs.__version__,
    )

    venv = _make_env(env_id, set_name, task, num_envs, None)
    envs = [venv]
    logger = None
    try:
        if args.resume:
            assert ckpt is not None
            from mt_agents import load_model

            # A fresh env stream per session: the same seed would replay the first episodes.
            session = len(run.get("sessions", []))
            session_seed = int(np.random.SeedSequence([seed, session]).generate_state(1)[0])
            model = load_model(ckpt, env=venv, device=device, seed=session_seed, **overrides)
            if not isinstance(model, cls):
                raise UsageError(f"{ckpt} holds a {model.algorithm_name} model, not {cls.__name__}")
        else:
            try:
                model = cls(venv, device=device, seed=seed, **overrides)
            except TypeError as exc:  # spaces the learner cannot handle
                raise UsageError(str(exc)) from exc
        done_before = int(model.num_timesteps)
        run["sessions"] = [
            *run.get("sessions", []),
            {"start_timesteps": done_before, "overrides": overrides, "device": str(device)},
        ]
        run_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(run_dir)
        _write_json(run_dir / RUN_FILE, run)
        if done_before >= total:
            print(f"{run_dir} has trained {done_before} of {total} env steps: nothing to do.")
            model.save(run_dir / MODEL_FILE)
            return 0

        logger = _make_logger(run_dir, stdout=args.verbose >= 1)
        model.set_logger(logger)
        checkpoint_cls, dump_cls, stop_cls = _callbacks()
        prefix = str(model.algorithm_name)
        checkpointer = checkpoint_cls(
            run_dir / CHECKPOINT_DIR, checkpoint_freq, prefix, args.keep_checkpoints
        )
        callbacks: list[BaseCallback] = [checkpointer, dump_cls(log_every)]
        if args.eval_freq:
            from mt_agents.common.callbacks import MultiAgentEvalCallback

            eval_env = _make_env(env_id, set_name, task, min(num_envs, 32), None)
            envs.append(eval_env)
            callbacks.append(
                MultiAgentEvalCallback(
                    eval_env,
                    eval_freq=args.eval_freq,
                    n_episodes=args.eval_episodes,
                    log_path=run_dir / "eval",
                    best_model_save_path=run_dir,
                    seed=seed + 1,
                )
            )
        what = f"{env_id}, task set {set_name}" + ("" if task is None else f", task {task}")
        verb = "Resuming" if args.resume else "Training"
        print(
            f"{verb} {cls.__name__} on {what}: {done_before} -> {total} env steps, {num_envs} "
            f"envs, seed {seed}, device {device}; run folder {run_dir}",
            file=sys.stderr,
        )
        progress = sys.stderr.isatty() if args.progress is None else args.progress
        if progress:
            import warnings

            # SB3's bar is tqdm.rich, which warns that it is experimental on every run.
            warnings.filterwarnings("ignore", message="rich is experimental")
        started = time.perf_counter()
        with _stop_on_signals() as stop:
            callbacks.append(stop_cls(stop))
            model.learn(
                total - done_before,
                callback=callbacks,
                log_interval=None,
                reset_num_timesteps=not args.resume,
                progress_bar=progress,
            )
        elapsed = time.perf_counter() - started
        ckpt_path = checkpointer.save()
        steps = int(model.num_timesteps)
        rate = (steps - done_before) / max(elapsed, 1e-9)
        if stop.is_set():
            print(
                f"Interrupted at {steps} env steps; saved {ckpt_path}. Continue with: {PROG} "
                f"train {args.algorithm} --out {run_dir} --resume",
                file=sys.stderr,
            )
            return 130
        model_path = model.save(run_dir / MODEL_FILE)
        print(
            f"Trained {steps - done_before} env steps in {elapsed:.1f} s ({rate:.0f} steps/s); "
            f"wrote {model_path}. Evaluate with: {PROG} eval {run_dir}"
        )
        return 0
    finally:
        if logger is not None:
            logger.close()
        for env in envs:
            env.close()


# -- eval ----------------------------------------------------------------------------------------
class BaselineModel:
    """A scripted policy behind a model's ``predict``, for :func:`mt_agents.evaluate_multitask`.

    ``"greedy"`` is the capture envs' greedy chaser (:class:`mt_envs.capture.GreedyPolicy`). It
    is privileged: it reads each env's task id (grid size, assignment), which it takes from the
    infos of the env it plays, so evaluate with :attr:`env` (a pass-through view of ``venv``
    that records them). ``"random"`` draws uniform legal actions.

    Example::

        baseline = BaselineModel("greedy", venv)
        print(evaluate_multitask(baseline, baseline.env, n_episodes=50).to_markdown())

    Args:
        name: ``"greedy"`` or ``"random"``.
        venv: The batched env to evaluate on.
        seed: Seed of the random actions.

    Raises:
        ValueError: For an unknown name, or ``"greedy"`` on an env that is not a capture env.
    """

    def __init__(self, name: str, venv: MultiAgentVectorEnv, seed: int | None = 0) -> None:
        if name not in BASELINES:
            raise unknown_name_error("baseline", name, BASELINES)
        self.name = name
        self.env = _TaskIdRecorder(venv)
        self._rng = np.random.default_rng(seed)
        self._greedy: Any = None
        if name == "greedy":
            from mt_envs.capture import GreedyPolicy

            try:
                self._greedy = GreedyPolicy.for_env(venv)
            except (TypeError, AttributeError) as exc:
                raise ValueError(
                    "the greedy baseline plays the capture envs (mast_v0, mamt_v0) only; use "
                    "--baseline random here"
                ) from exc

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_mask: np.ndarray | None = None,
    ) -> tuple[np.ndarray, Any]:
        """Actions ``int64 [B, N]`` for observations ``[B, N, D]`` (``state`` passes through)."""
        del deterministic
        obs = np.asarray(observation)
        if self._greedy is not None:
            return self._greedy.act(obs, self.env.task_id, episode_start).astype(np.int64), state
        n_actions = int(self.env.single_action_space.n)
        noise = self._rng.random((*obs.shape[:2], n_actions))
        if action_mask is not None:
            noise = np.where(np.asarray(action_mask, dtype=bool), noise, -1.0)
        return noise.argmax(axis=-1).astype(np.int64), state


class _TaskIdRecorder:
    """A batched env, unchanged, that remembers the task ids of its last reset or step."""

    def __init__(self, venv: Any) -> None:
        self._venv = venv
        self.task_id = np.zeros(int(venv.num_envs), dtype=np.int64)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._venv, name)

    def _seen(self, info: dict[str, Any]) -> None:
        if "task_id" in info:
            self.task_id = np.asarray(info["task_id"], dtype=np.int64)

    def reset(self, *args: Any, **kwargs: Any) -> Any:
        obs, info = self._venv.reset(*args, **kwargs)
        self._seen(info)
        return obs, info

    def step(self, actions: Any) -> Any:
        out = self._venv.step(actions)
        self._seen(out[-1])
        return out


def _model_file(target: Path) -> Path:
    """The model of ``MODEL``: a file, or a run folder's ``model.zip`` (else newest checkpoint)."""
    if target.is_dir():
        if (target / MODEL_FILE).is_file():
            return target / MODEL_FILE
        ckpt = latest_checkpoint(target)
        if ckpt is None:
            raise UsageError(f"{target} holds no {MODEL_FILE} and no checkpoint")
        return ckpt
    return target


def _run_of(model_path: Path) -> dict[str, Any] | None:
    """The ``run.json`` of the run folder a model file belongs to (its folder or the parent)."""
    for folder in (model_path.parent, model_path.parent.parent):
        if (folder / RUN_FILE).is_file():
            with contextlib.suppress(UsageError):
                return _read_run(folder)
    return None


def _registered_subset(saved: TaskSet | None) -> tuple[str, str] | None:
    """``(env id, name)`` of a saved task set that is a subset of a registered one, such as the
    ``mamt-2a-3to6[0,1]`` of a distillation run on tasks 0 and 1; ``None`` for any other set.

    The subset's tasks must equal the registered set's tasks at those indices, so a renamed or
    edited set is not evaluated on the wrong env by its name alone."""
    if saved is None:
        return None
    match = re.fullmatch(r"(.+)\[(\d+(?:,\d+)*)\]", saved.name)
    if match is None or match.group(1) not in task_sets.names():
        return None
    base = task_sets.get(match.group(1))
    picked = [int(i) for i in match.group(2).split(",")]
    if len(picked) != len(saved) or any(i >= len(base) for i in picked):
        return None
    if any(base[i] != saved[k] for k, i in enumerate(picked)):
        return None
    return task_sets.env_id_of(match.group(1)), saved.name


def _eval_header(
    label: str, env_id: str, set_name: str, task: int | None, episodes: int, seed: int
) -> str:
    what = set_name if task is None else f"{set_name} task {task}"
    return (
        f"{env_id} | task set {what} | {label} | {episodes} episode"
        f"{'s' if episodes != 1 else ''} per task | seed {seed}"
    )


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a model per task (and scripted baselines beside it)."""
    from mt_agents import load_model
    from mt_agents.common.evaluation import evaluate_multitask
    from mt_agents.common.utils import atomic_write

    if args.episodes < 1:
        raise UsageError(f"--episodes {args.episodes} is invalid: need at least 1")
    if args.num_envs < 1:
        raise UsageError(f"--num-envs {args.num_envs} is invalid: need an int >= 1")
    if not 0.0 <= args.gamma <= 1.0:
        raise UsageError(f"--gamma {args.gamma} is invalid: need a number in [0, 1]")
    path = _model_file(Path(args.model))
    model = load_model(path, device=args.device)  # ModelFileError (a ValueError) for bad files
    run = _run_of(path)
    tasks: TaskSet | Task | None = None
    if args.env is None and args.task_set is None:
        if run is not None:
            env_id, set_name, task = run["env"], run["task_set"], run["task"]
            if args.task is not None:
                task = args.task
            env_id, set_name, task = _resolve_tasks(env_id, set_name, task)
        elif model.task_set is not None and model.task_set.name in task_sets.names():
            env_id, set_name, task = _resolve_tasks(None, model.task_set.name, args.task)
        elif (subset := _registered_subset(model.task_set)) is not None:
            env_id, set_name = subset
            saved = model.task_set
            assert saved is not None
            task = args.task
            if task is not None and not 0 <= task < len(saved):
                raise UsageError(
                    f"--task {task} is out of range: {path} was trained on {len(saved)} tasks "
                    f"({set_name}), numbered 0..{len(saved) - 1}"
                )
            tasks = saved if task is None else saved[task]
        else:
            raise UsageError(
                f"{path} does not say which env it was trained on: give --env ID and --task-set "
                "NAME"
            )
    else:
        env_id, set_name, task = _resolve_tasks(args.env, args.task_set, args.task)
    if tasks is None:
        tasks = _tasks(set_name, task)
    venv = mt_envs.make_vec(env_id, args.num_envs, tasks=tasks, seed=args.seed)
    try:
        model.set_env(venv)  # refuses an env with other spaces or agent count
        kwargs = {
            "n_episodes": args.episodes,
            "gamma": args.gamma,
            "seed": args.seed,
            "deterministic": not args.stochastic,
        }
        results: dict[str, EvaluationResult] = {"model": evaluate_multitask(model, venv, **kwargs)}
        for name in dict.fromkeys(args.baseline or ()):
            baseline = BaselineModel(name, venv, seed=args.seed)
            results[name] = evaluate_multitask(baseline, baseline.env, **kwargs)
    finally:
        venv.close()

    payload = {
        "model": str(path),
        "algorithm": model.algorithm_name,
        "num_timesteps": int(model.num_timesteps),
        "env": env_id,
        "task_set": set_name,
        "task": task,
        "episodes_per_task": args.episodes,
        "seed": args.seed,
        "gamma": args.gamma,
        "deterministic": not args.stochastic,
        "results": {k: json.loads(r.to_json()) for k, r in results.items()},
    }
    text = json.dumps(payload, indent=2) + "\n"
    if args.format == "json":
        sys.stdout.write(text)
    elif args.format == "csv":
        for k, (label, result) in enumerate(results.items()):
            lines = result.to_csv().splitlines()
            body = lines if k == 0 else lines[1:]
            for i, line in enumerate(body):
                print(("policy," if k == 0 and i == 0 else f"{label},") + line)
    else:
        for label, result in results.items():
            name = (
                f"{model.algorithm_name} ({model.num_timesteps} env steps)"
                if label == "model"
                else label
            )
            print(_eval_header(name, env_id, set_name, task, args.episodes, args.seed))
            print()
            print(result.to_markdown())
            print()
    if args.out:
        out = atomic_write(args.out, lambda f: f.write(text.encode()))
        print(f"Wrote {out}", file=sys.stderr if args.format != "markdown" else sys.stdout)
    return 0


# -- plot ----------------------------------------------------------------------------------------
_DEFAULT_METRIC = {"rollout": "ep_disc_rew_mean", "eval": "mean_disc_reward"}


def cmd_plot(args: argparse.Namespace) -> int:
    """Draw a run's per-task learning curves."""
    from mt_agents.plot import plot_learning_curves

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir} is not a folder: give a run folder of '{PROG} train'")
    files = _progress_files(run_dir)
    if not files:
        raise UsageError(f"{run_dir} has no progress.csv: give the --out folder of '{PROG} train'")
    if args.smooth < 1:
        raise UsageError(f"--smooth {args.smooth} is invalid: need an int >= 1")
    metric = args.metric or _DEFAULT_METRIC[args.prefix]
    out = Path(args.out) if args.out else run_dir / f"{args.prefix}_{metric}.png"
    path = plot_learning_curves(
        files, out, metric=metric, prefix=args.prefix, smooth=args.smooth, title=args.title
    )
    print(f"Wrote {path} ({len(files)} log file{'s' if len(files) != 1 else ''})")
    return 0


# -- parser --------------------------------------------------------------------------------------
def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"need an int >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"need an int >= 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"need an int >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"need an int >= 0, got {value}")
    return value


def _add_env_options(p: argparse.ArgumentParser, default_note: str) -> None:
    p.add_argument("--env", metavar="ID", help=f"env id, e.g. mamt_v0 ({default_note})")
    p.add_argument(
        "--task-set",
        metavar="NAME",
        help="task set (default: the env's own); a registered name implies its env",
    )
    p.add_argument("--task", type=_non_negative, metavar="I", help="use only task I of the set")


def build_parser() -> argparse.ArgumentParser:
    """The ``mt-agents`` argument parser (hyperparameter options come from each learner)."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description="Train, evaluate and plot multi-agent learners on the mt-envs environments.",
        epilog=f"Start with '{PROG} demo' (specialists, then one distilled team, about 5 "
        f"minutes), or '{PROG} train dec-hdrqn --env mast_v0 --task-set mast-2a-4to8 --task 0 "
        f"--timesteps 40000 --out runs/mast4'. Env ids and task sets: 'mt-envs list'.",
        formatter_class=fmt,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {mt_envs.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    p = sub.add_parser(
        "train",
        help="train a learner into a run folder (or resume one)",
        description="Train a learner; logs, checkpoints and the final model go to the run "
        "folder --out. Hyperparameters are the learner's options below.",
    )
    algos = p.add_subparsers(dest="algorithm", metavar="ALGORITHM", title="algorithms")
    algos.required = True
    for name, target in ALGORITHMS.items():
        cls = _algorithm_class(name)
        summary = (inspect.cleandoc(cls.__doc__ or "").splitlines() or [""])[0]
        a = algos.add_parser(
            name,
            help=summary,
            description=f"{summary.rstrip('.')} ({target.replace(':', '.')}). A resumed run "
            "(--resume) "
            "keeps its env and tasks; --timesteps is the run's total.",
        )
        g = a.add_argument_group("run")
        g.add_argument("--env", metavar="ID", help="env id, e.g. mamt_v0")
        g.add_argument(
            "--task-set",
            metavar="NAME",
            help="task set (default: the env's own); a registered name implies its env",
        )
        g.add_argument("--task", type=_non_negative, metavar="I", help="train on task I only")
        g.add_argument(
            "--timesteps",
            type=_non_negative,
            metavar="N",
            help="total env steps of the run, summed over the batch (required for a new run)",
        )
        g.add_argument("--num-envs", type=_positive, metavar="B", help="batch size (default 16)")
        g.add_argument("--seed", type=_non_negative, help="seed (default 0)")
        g.add_argument("--out", required=True, metavar="DIR", help="run folder")
        g.add_argument(
            "--resume", action="store_true", help="continue the run in --out from its checkpoint"
        )
        g.add_argument(
            "--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1"
        )
        g.add_argument(
            "--torch-threads",
            type=_non_negative,
            default=1,
            metavar="K",
            help="torch CPU threads (default 1, fastest for these small networks; 0: torch's)",
        )
        g.add_argument(
            "--checkpoint-freq",
            type=_positive,
            metavar="N",
            help="env steps between checkpoints (default 25000)",
        )
        g.add_argument(
            "--keep-checkpoints",
            type=_positive,
            default=3,
            metavar="K",
            help="checkpoints kept (default 3)",
        )
        g.add_argument(
            "--log-every",
            type=_positive,
            metavar="N",
            help="env steps between log rows (default timesteps/50, at most 10000)",
        )
        g.add_argument(
            "--eval-freq",
            type=_positive,
            metavar="N",
            help="evaluate per task every N env steps (eval/ logs, best_model.zip)",
        )
        g.add_argument(
            "--eval-episodes",
            type=_positive,
            default=10,
            metavar="K",
            help="episodes per task per evaluation (default 10)",
        )
        g.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="progress bar (default: when stderr is a terminal)",
        )
        g.add_argument(
            "--verbose",
            type=int,
            choices=(0, 1),
            default=1,
            help="1: print the log table at each log row (default), 0: quiet",
        )
        h = a.add_argument_group(f"{cls.__name__} hyperparameters")
        for opt in hyperparameter_options(cls):
            h.add_argument(opt.flag, **opt.kwargs)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "eval",
        help="evaluate a model per task",
        description="Play N episodes of every task with a model (deterministic by default) and "
        "print per task the return, the discounted return, the success (capture) rate and the "
        "episode length with 95% confidence half-widths; --out writes them as JSON.",
    )
    p.add_argument(
        "model", metavar="MODEL", help="model file, or a run folder (its model.zip or checkpoint)"
    )
    _add_env_options(p, "default: the run's, or the model's task set")
    p.add_argument("--episodes", type=int, default=50, help="episodes per task (default 50)")
    p.add_argument("--num-envs", type=int, default=32, metavar="B", help="batch size (default 32)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first reset (default 0)")
    p.add_argument(
        "--gamma", type=float, default=0.95, help="discount of the discounted return (0.95)"
    )
    p.add_argument("--stochastic", action="store_true", help="act with exploration")
    p.add_argument(
        "--baseline",
        nargs="+",
        choices=BASELINES,
        metavar="NAME",
        help=f"also evaluate scripted policies: {', '.join(BASELINES)} (greedy: capture envs)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda")
    p.add_argument("--format", choices=FORMATS, default="markdown", help="table format")
    p.add_argument("--out", metavar="FILE.json", help="also write the results as JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "plot",
        help="draw per-task learning curves of a run",
        description="Draw one curve per task (and the mean) from a run folder's csv logs "
        "(progress.csv and those of resumed sessions) and write a PNG.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder of 'mt-agents train'")
    p.add_argument(
        "--prefix",
        choices=("rollout", "eval"),
        default="rollout",
        help="training episodes (rollout) or evaluations (eval, with --eval-freq)",
    )
    p.add_argument(
        "--metric",
        help="ep_disc_rew_mean (default), ep_rew_mean, success_rate, ep_len_mean; for eval: "
        "mean_disc_reward (default), mean_reward, success_rate, mean_ep_length",
    )
    p.add_argument("--smooth", type=int, default=1, help="moving average over K log rows")
    p.add_argument("--title", help="figure title")
    p.add_argument("--out", metavar="FILE.png", help="default RUN_DIR/<prefix>_<metric>.png")
    p.set_defaults(func=cmd_plot)

    # distill, demo (mt_agents.distillation.cli)
    from mt_agents.distillation.cli import add_commands as add_distillation_commands

    add_distillation_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mt-agents`` command line.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 2 on a usage error or a failure reported in one line
        (``mt-agents: error: ...`` on stderr), 130 when interrupted.
    """
    return run(PROG, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
