"""The two-phase multi-task pipeline of paper 000 as one call: specialise, distil, evaluate, report.

::

    from mt_agents.distillation.pipeline import PipelineConfig, run_pipeline

    config = PipelineConfig(task_set="mamt-2a-3to6", tasks=(0, 1),
                            specialist_timesteps=(150_000, 300_000), distill_timesteps=100_000)
    result = run_pipeline(config, "runs/distill")
    print(result.table)

Phases, each recorded in ``<out>/pipeline.json`` as it finishes (so an interrupted run resumes at
the first unfinished one with ``resume=True``, and a training phase continues from the
checkpoint it writes at each of its curve points):

1. ``specialists``: one :class:`~mt_agents.DecHDRQN` team per task, one after another. Each
   trains on the multi-task env with a fixed task sampler (:func:`mt_envs.tasks.fixed`), so
   its observation padding and encoding are those of the whole set, and is saved as
   ``specialists/task<k>/model.zip``. Finished specialists are never retrained.
2. ``distill``: :class:`~mt_agents.PolicyDistillation` on the task-sampling env with the
   specialists as teachers; ``distill/model.zip``.
3. ``multi_hdrqn`` (optional, the paper's baseline): one Dec-HDRQN trained directly on the
   task-sampling env for the same total env steps as phases 1 and 2 together.
4. ``evaluate``: each specialist on its task, the student (and Multi-HDRQN) on every task, and the
   greedy chaser of the capture envs for reference, ``eval_episodes`` episodes per task.
5. ``report``: ``report.md`` (the per-task table), ``report.json`` (every number, curve, env
   step count and wall time), ``curves.png`` (figure 5: per-task discounted return against the
   env steps of each approach) and, with ``gif_episodes > 0``, ``gifs/<task>.gif`` of the
   distilled team on every task.

During training, every learner is evaluated per task every ``curve_freq`` env steps on
``curve_episodes`` episodes (its learning curve). Run folders are never overwritten: a folder
that already holds a pipeline needs ``resume=True``, with the same configuration.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

import mt_envs
from mt_agents.common.utils import atomic_write
from mt_envs.tasks import TaskSet, fixed

if TYPE_CHECKING:
    from stable_baselines3.common.callbacks import BaseCallback

    from mt_agents.common.base import MultiAgentAlgorithm
    from mt_agents.common.evaluation import EvaluationResult
    from mt_envs.vector.base import MultiAgentVectorEnv

__all__ = [
    "PHASES",
    "ModelPolicy",
    "PipelineConfig",
    "PipelineError",
    "PipelineResult",
    "run_pipeline",
]

_Model = TypeVar("_Model", bound="MultiAgentAlgorithm")

PIPELINE_FILE = "pipeline.json"
#: A phase's checkpoint in its folder, and the curve / wall time it had reached.
CHECKPOINT_FILE = "checkpoint.zip"
PARTIAL_FILE = "checkpoint.json"
#: The phases, in order.
PHASES = ("specialists", "distill", "multi_hdrqn", "evaluate", "report")
#: The phases whose results depend on each phase (redone when it runs again).
_DEPENDENTS = {
    "specialists": ("distill", "evaluate", "report"),
    "distill": ("evaluate", "report"),
    "multi_hdrqn": ("evaluate", "report"),
    "evaluate": ("report",),
    "report": (),
}
_FORMAT = "mt-agents-distill-pipeline"


class PipelineError(ValueError):
    """A run folder that cannot be started or resumed as asked (the message says what to do)."""


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Settings of a pipeline run (stored in ``pipeline.json``; a resumed run keeps them).

    Args:
        env_id: A registered env id (its task set's env).
        task_set: A registered task-set name.
        tasks: Ids of the tasks of the set to use (``None``: all).
        specialist_timesteps: Env steps of each specialist: one number for all, or one per task.
        distill_timesteps: Env steps collected by the teachers during distillation.
        multi_hdrqn: Also train the Multi-HDRQN baseline for the same total env steps.
        num_envs: Batch size of every training env.
        seed: Seed of the whole run (each learner and env derives its own from it).
        specialist_kwargs: Extra :class:`~mt_agents.DecHDRQN` arguments of the specialists.
        distill_kwargs: Extra :class:`~mt_agents.PolicyDistillation` arguments.
        multi_kwargs: Extra :class:`~mt_agents.DecHDRQN` arguments of Multi-HDRQN.
        eval_episodes: Episodes per task of the final evaluation.
        curve_freq: Env steps between learning-curve evaluations (``None``: 10 per learner).
        curve_episodes: Episodes per task of each learning-curve evaluation.
        gif_episodes: Episodes per task in the distilled team's GIFs (0: no GIFs).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.
    """

    env_id: str = "mamt_v0"
    task_set: str = "mamt-2a-3to6"
    tasks: tuple[int, ...] | None = None
    specialist_timesteps: int | tuple[int, ...] = 300_000
    distill_timesteps: int = 100_000
    multi_hdrqn: bool = False
    num_envs: int = 16
    seed: int = 0
    specialist_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    distill_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    multi_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    eval_episodes: int = 50
    curve_freq: int | None = None
    curve_episodes: int = 10
    gif_episodes: int = 1
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.tasks is not None:
            object.__setattr__(self, "tasks", tuple(int(t) for t in self.tasks))
        if not isinstance(self.specialist_timesteps, int):
            object.__setattr__(
                self, "specialist_timesteps", tuple(int(s) for s in self.specialist_timesteps)
            )
        for name in ("specialist_kwargs", "distill_kwargs", "multi_kwargs"):
            object.__setattr__(self, name, dict(getattr(self, name)))
        for name in ("env_id", "task_set", "device"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(
                    f"PipelineConfig {name}={getattr(self, name)!r} is invalid: need a str"
                )
        if not isinstance(self.multi_hdrqn, bool):
            raise ValueError(
                f"PipelineConfig multi_hdrqn={self.multi_hdrqn!r} is invalid: need True or False"
            )
        for name, low in (
            ("distill_timesteps", 0),
            ("num_envs", 1),
            ("seed", 0),
            ("eval_episodes", 1),
            ("curve_episodes", 1),
            ("gif_episodes", 0),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(
                    f"PipelineConfig {name}={value!r} is invalid: need an int >= {low}"
                )
        steps = self.specialist_timesteps
        for s in (steps,) if isinstance(steps, int) else steps:
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise ValueError(
                    f"PipelineConfig specialist_timesteps={steps!r} is invalid: need an int >= 0 "
                    "or one per task"
                )
        if self.curve_freq is not None and (
            isinstance(self.curve_freq, bool)
            or not isinstance(self.curve_freq, int)
            or self.curve_freq < 1
        ):
            raise ValueError(
                f"PipelineConfig curve_freq={self.curve_freq!r} is invalid: need an int >= 1 "
                "or None"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        data = dataclasses.asdict(self)
        data["tasks"] = None if self.tasks is None else list(self.tasks)
        steps = self.specialist_timesteps
        data["specialist_timesteps"] = steps if isinstance(steps, int) else list(steps)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineConfig:
        """Rebuild settings from :meth:`to_dict` output (unknown keys are refused)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise PipelineError(f"unknown pipeline settings {unknown}: known are {sorted(names)}")
        kwargs = dict(data)
        if isinstance(kwargs.get("specialist_timesteps"), list):
            kwargs["specialist_timesteps"] = tuple(kwargs["specialist_timesteps"])
        if isinstance(kwargs.get("tasks"), list):
            kwargs["tasks"] = tuple(kwargs["tasks"])
        return cls(**kwargs)

    def task_set_obj(self) -> TaskSet:
        """The tasks of the run: the named set, or the chosen subset of it (renamed
        ``<set>[i,j]``)."""
        full = mt_envs.task_sets.get(self.task_set)
        if self.tasks is None:
            return full
        bad = [t for t in self.tasks if not 0 <= t < len(full)]
        if bad or not self.tasks or len(set(self.tasks)) != len(self.tasks):
            raise ValueError(
                f"PipelineConfig tasks={list(self.tasks)} is invalid: give distinct task ids in "
                f"0..{len(full) - 1} of {self.task_set!r} (see 'mt-envs describe {self.task_set}')"
            )
        label = ",".join(str(t) for t in self.tasks)
        return TaskSet(
            f"{full.name}[{label}]",
            tuple(full[t] for t in self.tasks),
            f"tasks {label} of {full.name}",
        )

    def specialist_steps(self, n_tasks: int) -> list[int]:
        """Env steps of each specialist."""
        steps = self.specialist_timesteps
        if isinstance(steps, int):
            return [steps] * n_tasks
        if len(steps) != n_tasks:
            raise ValueError(
                f"PipelineConfig specialist_timesteps has {len(steps)} values for {n_tasks} "
                "tasks: give one number, or one per task"
            )
        return list(steps)

    def multi_steps(self, n_tasks: int) -> int:
        """Env steps of Multi-HDRQN: those of the specialists and the distillation together."""
        return sum(self.specialist_steps(n_tasks)) + self.distill_timesteps


@dataclasses.dataclass
class PipelineResult:
    """What :func:`run_pipeline` produced.

    Attributes:
        out_dir: The run folder.
        report: The content of ``report.json``.
        table: The per-task markdown table of ``report.md``.
        files: Paths of the report files (``report.md``, ``report.json``, ``curves.png``, GIFs).
        phases_run: The phases this call ran (the others were done before or not asked for).
    """

    out_dir: Path
    report: dict[str, Any]
    table: str
    files: list[Path]
    phases_run: list[str]


class ModelPolicy:
    """A model as a :func:`mt_envs.play.run_episodes` policy (PettingZoo dicts, recurrent state).

    Args:
        model: A trained model (``predict`` with dict observations, ``state``, ``episode_start``).
        deterministic: Greedy actions.
    """

    def __init__(self, model: Any, deterministic: bool = True) -> None:
        self.model = model
        self.deterministic = deterministic
        self._state: Any = None
        self._start = True

    def reset(self) -> None:
        """Forget the episode (called after every env reset)."""
        self._state, self._start = None, True

    def __call__(self, observations: Mapping[str, Any], infos: Mapping[str, Any]) -> dict[str, int]:
        """One action per agent present in ``observations``."""
        masks = {
            a: infos[a]["action_mask"]
            for a in observations
            if isinstance(infos.get(a), Mapping) and "action_mask" in infos[a]
        }
        actions, self._state = self.model.predict(
            dict(observations),
            state=self._state,
            episode_start=self._start,
            deterministic=self.deterministic,
            action_mask=masks or None,
        )
        self._start = False
        return actions


# -- the run folder ------------------------------------------------------------------------------
def _write_json(path: Path, data: Any) -> Path:
    text = (json.dumps(data, indent=2, allow_nan=False) + "\n").encode()
    return atomic_write(path, lambda f: f.write(text))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class _RunState:
    """``pipeline.json``: the settings and what each finished phase recorded."""

    def __init__(self, out_dir: Path, config: PipelineConfig, phases: dict[str, Any]) -> None:
        self.out_dir = out_dir
        self.config = config
        self.phases = phases

    @classmethod
    def open(cls, out_dir: Path, config: PipelineConfig | None, resume: bool) -> _RunState:
        path = out_dir / PIPELINE_FILE
        if path.exists():
            if not resume:
                raise PipelineError(
                    f"{out_dir} already holds a pipeline run: resume it (resume=True, or "
                    "'mt-agents distill --out DIR --resume') or choose another folder"
                )
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(data, dict) or data.get("format") != _FORMAT:
                    raise PipelineError(f"{path} is not a pipeline run file")
                saved = PipelineConfig.from_dict(data["config"])
                saved.specialist_steps(len(saved.task_set_obj()))  # the saved settings are valid
                phases = dict(data["phases"])
                bad = sorted(str(k) for k, v in phases.items() if not isinstance(v, dict))
                if bad:
                    raise ValueError(f"the records of phases {bad} are not objects")
            except PipelineError:
                raise
            except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
                raise PipelineError(
                    f"{path} is unreadable ({exc!r}): the run folder is damaged"
                ) from exc
            if config is not None and config.to_dict() != saved.to_dict():
                changed = sorted(
                    k for k, v in config.to_dict().items() if saved.to_dict().get(k) != v
                )
                raise PipelineError(
                    f"{out_dir} was started with other settings ({', '.join(changed)} differ): "
                    "a resumed run keeps its settings (resume without settings, or start a new "
                    "folder)"
                )
            return cls(out_dir, saved, phases)
        if resume and config is None:
            raise PipelineError(
                f"{out_dir} holds no pipeline run ({PIPELINE_FILE} is missing): start one with "
                "settings"
            )
        if config is None:
            config = PipelineConfig()
        state = cls(out_dir, config, {})
        state.save()
        return state

    def save(self) -> None:
        _write_json(
            self.out_dir / PIPELINE_FILE,
            _finite(
                {
                    "format": _FORMAT,
                    "mt_envs_version": mt_envs.__version__,
                    "config": self.config.to_dict(),
                    "phases": self.phases,
                }
            ),
        )

    def done(self, phase: str, key: str | None = None) -> bool:
        entry = self.phases.get(phase)
        if key is not None:
            entry = entry.get(key) if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or entry.get("done") is not True:
            return False  # (a damaged record: the phase runs again)
        model = entry.get("model")
        return model is None or (isinstance(model, str) and (self.out_dir / model).is_file())


# -- learning curves -----------------------------------------------------------------------------
def _curve_callback(
    eval_env: MultiAgentVectorEnv,
    every: int,
    n_episodes: int,
    tasks: list[int],
    seed: int,
    points: list[dict[str, Any]] | None = None,
    on_point: Callable[[MultiAgentAlgorithm, list[dict[str, Any]]], None] | None = None,
) -> BaseCallback:
    """A callback evaluating ``tasks`` every ``every`` env steps (and at the start and end),
    logging ``eval/task/<name>/mean_disc_reward`` and keeping ``points`` (continuing the given
    ones on a resumed phase). ``on_point(model, points)`` runs after each evaluation during
    training (the phase checkpoints there), not after the last."""
    from stable_baselines3.common.callbacks import BaseCallback

    from mt_agents.common.evaluation import evaluate_multitask
    from mt_agents.common.utils import key_name

    class CurveCallback(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.points: list[dict[str, Any]] = list(points or [])
            self._next = every

        def _evaluate(self) -> None:
            steps = int(self.model.num_timesteps)
            if self.points and self.points[-1]["timesteps"] == steps:
                return
            result = evaluate_multitask(
                self.model, eval_env, n_episodes=n_episodes, seed=seed, tasks=tasks
            )
            point: dict[str, Any] = {"timesteps": steps, "disc_return": {}, "success_rate": {}}
            for row in result.rows:
                point["disc_return"][row["task"]] = row["disc_return"]
                point["success_rate"][row["task"]] = row["success_rate"]
                self.logger.record(
                    f"eval/task/{key_name(row['task'])}/mean_disc_reward", row["disc_return"]
                )
            self.logger.record("eval/mean_disc_reward", result.mean["disc_return"])
            self.points.append(point)

        def _on_training_start(self) -> None:
            self._evaluate()
            self._next = (int(self.model.num_timesteps) // every + 1) * every

        def _on_step(self) -> bool:
            if self.model.num_timesteps >= self._next:
                self._evaluate()
                self._next = (int(self.model.num_timesteps) // every + 1) * every
                if on_point is not None:
                    on_point(self.model, self.points)  # type: ignore[arg-type]
            return True

        def _on_training_end(self) -> None:
            self._evaluate()

    return CurveCallback()


def _dump_callback(every: int) -> BaseCallback:
    from stable_baselines3.common.callbacks import BaseCallback

    class DumpEvery(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self._next = every

        def _on_step(self) -> bool:
            if self.model.num_timesteps >= self._next:
                self.model.dump_logs()
                self._next = (int(self.model.num_timesteps) // every + 1) * every
            return True

        def _on_training_end(self) -> None:
            self.model.dump_logs()

    return DumpEvery()


def _logger(folder: Path, stdout: bool) -> Any:
    from stable_baselines3.common import logger as sb3_logger

    folder.mkdir(parents=True, exist_ok=True)
    suffix, k = "", 1
    while (folder / f"progress{suffix}.csv").exists():
        k += 1
        suffix = f"_{k}"
    formats: list[Any] = [sb3_logger.make_output_format("csv", str(folder), suffix)]
    if stdout:
        formats.append(sb3_logger.HumanOutputFormat(sys.stdout, max_length=96))
    return sb3_logger.Logger(folder=str(folder), output_formats=formats)


def _seed(config: PipelineConfig, *path: int) -> int:
    return int(np.random.SeedSequence([config.seed, *path]).generate_state(1)[0] % 2**31)


# -- phases --------------------------------------------------------------------------------------
class _Runner:
    def __init__(
        self, state: _RunState, verbose: int, progress: bool, say: Callable[[str], None]
    ) -> None:
        self.state = state
        self.config = state.config
        self.out = state.out_dir
        self.verbose = verbose
        self.progress = progress
        self.say = say
        self.task_set = self.config.task_set_obj()
        self.names = list(self.task_set.names)
        self.n_tasks = len(self.task_set)
        from mt_agents.common.utils import resolve_device

        self.device = resolve_device(self.config.device)

    def make_env(self, num_envs: int, seed: int, task: int | None = None) -> MultiAgentVectorEnv:
        sampler: Any = "uniform" if task is None else fixed(task)
        return mt_envs.make_vec(
            self.config.env_id, num_envs, tasks=self.task_set, sampler=sampler, seed=seed
        )

    def curve_every(self, total: int) -> int:
        return self.config.curve_freq or max(self.config.num_envs, total // 10)

    def resume_point(
        self,
        model: _Model,
        total: int,
        folder: Path,
        teachers: Mapping[int, Path] | None,
    ) -> tuple[_Model, list[dict[str, Any]], float] | None:
        """The phase's checkpoint (model, curve so far, wall seconds so far) when an earlier
        session left a usable one in ``folder``; ``None`` to start the phase over."""
        ckpt, partial = folder / CHECKPOINT_FILE, folder / PARTIAL_FILE
        if not (ckpt.is_file() and partial.is_file()):
            return None
        try:
            saved = json.loads(partial.read_text(encoding="utf-8"))
            if not isinstance(saved, dict) or saved.get("total") != total:
                raise ValueError(f"{partial} belongs to another budget")
            points, wall = saved["curve"], float(saved["wall_s"])
            if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
                raise ValueError(f"{partial}: the curve is not a list of points")
            done = int(saved["timesteps"])
            # A fresh env stream for the new session: the phase's seed would replay its start.
            session = _seed(self.config, 11, done)
            loaded = type(model).load(ckpt, env=model.env, device=self.device, seed=session)
            if teachers is not None:
                loaded.set_teachers(teachers)  # type: ignore[attr-defined]
            if not done <= loaded.num_timesteps < total:
                raise ValueError(f"{ckpt} is at {loaded.num_timesteps} env steps, not {done}")
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            self.say(f"    the checkpoint in {folder} is unusable ({exc}); starting the phase over")
            return None
        self.say(f"    resuming at {loaded.num_timesteps} of {total} env steps from {ckpt}")
        return loaded, points, wall

    def train(
        self,
        model: _Model,
        total: int,
        folder: Path,
        eval_tasks: list[int],
        seed: int,
        teachers: Mapping[int, Path] | None = None,
    ) -> tuple[_Model, list[dict[str, Any]], float]:
        """Train ``model`` with curve evaluations and csv logs in ``folder``; save it there.

        At every curve point the phase checkpoints into ``folder`` (the model, with optimizer
        state, and the curve so far), so an interrupted phase continues from its last point
        rather than from the start; the replay or distillation memories are not saved and
        refill. Returns the trained model (the one passed, or the checkpoint's), its curve and
        the wall seconds of all sessions."""
        folder.mkdir(parents=True, exist_ok=True)
        points: list[dict[str, Any]] = []
        wall_before = 0.0
        resumed = self.resume_point(model, total, folder, teachers)
        if resumed is not None:
            model, points, wall_before = resumed
        eval_env = self.make_env(min(self.config.num_envs, 32), seed)
        logger = _logger(folder, stdout=self.verbose >= 2)
        model.set_logger(logger)
        every = self.curve_every(total)
        started = time.perf_counter()

        def checkpoint(trained: MultiAgentAlgorithm, curve: list[dict[str, Any]]) -> None:
            if trained.num_timesteps >= total:
                return  # the phase ends now and saves its model
            trained.save(folder / CHECKPOINT_FILE)
            partial = {
                "total": total,
                "timesteps": int(trained.num_timesteps),
                "wall_s": wall_before + time.perf_counter() - started,
                "curve": curve,
            }
            _write_json(folder / PARTIAL_FILE, _finite(partial))

        curve = _curve_callback(
            eval_env, every, self.config.curve_episodes, eval_tasks, seed, points, checkpoint
        )
        done_before = int(model.num_timesteps)
        try:
            model.learn(
                total - done_before,
                callback=[curve, _dump_callback(every)],
                log_interval=None,
                reset_num_timesteps=done_before == 0,
                progress_bar=self.progress,
            )
        finally:
            logger.close()
            eval_env.close()
        wall = wall_before + time.perf_counter() - started
        model.save(folder / "model.zip")
        return model, list(curve.points), wall  # type: ignore[attr-defined]

    @staticmethod
    def drop_checkpoint(folder: Path) -> None:
        """Remove a finished phase's checkpoint (after ``pipeline.json`` records the phase)."""
        for name in (CHECKPOINT_FILE, PARTIAL_FILE):
            (folder / name).unlink(missing_ok=True)

    def specialists(self) -> list[str]:
        from mt_agents.dec_hdrqn import DecHDRQN

        steps = self.config.specialist_steps(self.n_tasks)
        ran = []
        entries = self.state.phases.setdefault("specialists", {})
        for k in range(self.n_tasks):
            key = str(k)
            if self.state.done("specialists", key):
                self.say(f"[phase I] specialist of task {k} ({self.names[k]}): done before, kept")
                continue
            self.say(
                f"[phase I] training the specialist of task {k} ({self.names[k]}) for "
                f"{steps[k]} env steps"
            )
            env = self.make_env(self.config.num_envs, _seed(self.config, 1, k), task=k)
            try:
                model = DecHDRQN(
                    env,
                    seed=_seed(self.config, 2, k),
                    device=self.device,
                    **self.config.specialist_kwargs,
                )
                folder = self.out / "specialists" / f"task{k}"
                model, curve, wall = self.train(
                    model, steps[k], folder, [k], _seed(self.config, 3, k)
                )
            finally:
                env.close()
            entries[key] = {
                "done": True,
                "task": self.names[k],
                "model": str((folder / "model.zip").relative_to(self.out)),
                "timesteps": int(model.num_timesteps),
                "wall_s": wall,
                "curve": curve,
            }
            self.state.save()
            self.drop_checkpoint(folder)
            ran.append(f"specialists/{k}")
        return ran

    def distill(self) -> None:
        from mt_agents.distillation.policy_distillation import PolicyDistillation

        spec = self.state.phases["specialists"]
        teachers = {k: self.out / spec[str(k)]["model"] for k in range(self.n_tasks)}
        total = self.config.distill_timesteps
        self.say(f"[phase II] distilling {self.n_tasks} specialist teams for {total} env steps")
        env = self.make_env(self.config.num_envs, _seed(self.config, 4))
        try:
            model = PolicyDistillation(
                env,
                teachers,
                seed=_seed(self.config, 5),
                device=self.device,
                **self.config.distill_kwargs,
            )
            folder = self.out / "distill"
            model, curve, wall = self.train(
                model, total, folder, list(range(self.n_tasks)), _seed(self.config, 6), teachers
            )
        finally:
            env.close()
        self.state.phases["distill"] = {
            "done": True,
            "model": "distill/model.zip",
            "timesteps": int(model.num_timesteps),
            "wall_s": wall,
            "curve": curve,
        }
        self.state.save()
        self.drop_checkpoint(folder)

    def multi_hdrqn(self) -> None:
        from mt_agents.dec_hdrqn import DecHDRQN

        total = self.config.multi_steps(self.n_tasks)
        self.say(f"[baseline] training Multi-HDRQN on all tasks for {total} env steps")
        env = self.make_env(self.config.num_envs, _seed(self.config, 7))
        try:
            model = DecHDRQN(
                env, seed=_seed(self.config, 8), device=self.device, **self.config.multi_kwargs
            )
            folder = self.out / "multi_hdrqn"
            model, curve, wall = self.train(
                model, total, folder, list(range(self.n_tasks)), _seed(self.config, 9)
            )
        finally:
            env.close()
        self.state.phases["multi_hdrqn"] = {
            "done": True,
            "model": "multi_hdrqn/model.zip",
            "timesteps": int(model.num_timesteps),
            "wall_s": wall,
            "curve": curve,
        }
        self.state.save()
        self.drop_checkpoint(folder)

    def evaluate(self) -> None:
        from mt_agents import load_model
        from mt_agents.common.evaluation import evaluate_multitask

        n = self.config.eval_episodes
        seed = _seed(self.config, 10)
        self.say(f"[evaluate] {n} episodes per task")
        env = self.make_env(min(self.config.num_envs, 32), seed)
        results: dict[str, Any] = {}

        def run(model: Any, tasks: list[int] | None = None, venv: Any = None) -> Any:
            res: EvaluationResult = evaluate_multitask(
                model, venv if venv is not None else env, n_episodes=n, seed=seed, tasks=tasks
            )
            return json.loads(res.to_json())

        try:
            spec = self.state.phases["specialists"]
            results["specialists"] = {}
            for k in range(self.n_tasks):
                model = load_model(self.out / spec[str(k)]["model"], env=env, device=self.device)
                row = run(model, [k])["tasks"][0]
                results["specialists"][self.names[k]] = row
            student = load_model(self.out / "distill/model.zip", env=env, device=self.device)
            results["distilled"] = run(student)
            if self.state.done("multi_hdrqn"):
                multi = load_model(self.out / "multi_hdrqn/model.zip", env=env, device=self.device)
                results["multi_hdrqn"] = run(multi)
            try:
                from mt_agents.cli import BaselineModel

                greedy = BaselineModel("greedy", env, seed=seed)
                results["greedy"] = run(greedy, venv=greedy.env)
            except ValueError:  # not a capture env: no greedy reference
                pass
        finally:
            env.close()
        self.state.phases["evaluate"] = {
            "done": True,
            "episodes_per_task": n,
            "seed": seed,
            "results": results,
        }
        self.state.save()

    def report(self) -> tuple[dict[str, Any], str, list[Path]]:
        self.say("[report] writing report.md, report.json, curves.png and GIFs")
        phases = self.state.phases
        results = phases["evaluate"]["results"]
        rows = []
        for k, name in enumerate(self.names):
            spec_row = results["specialists"][name]
            dist_row = _row_of(results["distilled"], name)
            row: dict[str, Any] = {
                "task_id": k,
                "task": name,
                "specialist": spec_row["disc_return"],
                "specialist_ci95": spec_row["disc_return_ci95"],
                "distilled": dist_row["disc_return"],
                "distilled_ci95": dist_row["disc_return_ci95"],
            }
            row["ratio"] = row["distilled"] / row["specialist"] if row["specialist"] > 0 else None
            row["within_10pct"] = row["ratio"] is not None and row["ratio"] >= 0.9
            if "multi_hdrqn" in results:
                m = _row_of(results["multi_hdrqn"], name)
                row["multi_hdrqn"], row["multi_hdrqn_ci95"] = (
                    m["disc_return"],
                    m["disc_return_ci95"],
                )
            if "greedy" in results:
                g = _row_of(results["greedy"], name)
                row["greedy"], row["greedy_ci95"] = g["disc_return"], g["disc_return_ci95"]
            rows.append(row)
        steps = {
            "specialists": [
                phases["specialists"][str(k)]["timesteps"] for k in range(self.n_tasks)
            ],
            "distill": phases["distill"]["timesteps"],
        }
        wall = {
            "specialists": [phases["specialists"][str(k)]["wall_s"] for k in range(self.n_tasks)],
            "distill": phases["distill"]["wall_s"],
        }
        if "multi_hdrqn" in phases and phases["multi_hdrqn"].get("done"):
            steps["multi_hdrqn"] = phases["multi_hdrqn"]["timesteps"]
            wall["multi_hdrqn"] = phases["multi_hdrqn"]["wall_s"]
        table = _markdown_table(rows, self.config.eval_episodes)
        files: list[Path] = []
        curves = self.out / "curves.png"
        try:
            files.append(plot_pipeline_curves(phases, self.names, curves, rows))
        except ImportError as exc:  # matplotlib missing
            self.say(f"[report] no curves.png ({exc})")
        gifs: list[str] = []
        if self.config.gif_episodes > 0:
            try:
                gifs = self.gifs()
            except ImportError as exc:  # pygame-ce / imageio missing
                self.say(f"[report] no GIFs ({exc}): pip install 'mt-envs[render]'")
        files.extend(self.out / g for g in gifs)
        report = {
            "task_set": self.task_set.to_dict(),
            "config": self.config.to_dict(),
            "metric": f"discounted return (gamma 0.95), {self.config.eval_episodes} greedy "
            "episodes per task, mean and 95% CI half-width",
            "rows": rows,
            "all_within_10pct": all(r["within_10pct"] for r in rows),
            "env_steps": steps,
            "wall_s": wall,
            "evaluations": results,
            "gifs": gifs,
        }
        md = _report_markdown(self.task_set, report, table, gifs)
        files.insert(0, _write_json(self.out / "report.json", _finite(report)))
        files.insert(0, atomic_write(self.out / "report.md", lambda f: f.write(md.encode())))
        self.state.phases["report"] = {"done": True}
        self.state.save()
        return report, table, files

    def load_report(self) -> tuple[dict[str, Any], str, list[Path]]:
        """The report of a finished run, as :meth:`report` returned it."""
        report = json.loads((self.out / "report.json").read_text(encoding="utf-8"))
        table = _markdown_table(report["rows"], self.config.eval_episodes)
        names = ["report.md", "report.json", "curves.png", *report.get("gifs", [])]
        return report, table, [self.out / n for n in names if (self.out / n).is_file()]

    def gifs(self) -> list[str]:
        from mt_agents import load_model
        from mt_envs import registry
        from mt_envs.recording import record_episodes, save_gif

        student = load_model(self.out / "distill/model.zip", device=self.device)
        env = registry.env_module(self.config.env_id).parallel_env(
            tasks=self.task_set, render_mode="rgb_array"
        )
        out = []
        try:
            for k, name in enumerate(self.names):
                frames, _ = record_episodes(
                    env,
                    ModelPolicy(student),
                    episodes=self.config.gif_episodes,
                    seed=_seed(self.config, 11, k),
                    task=k,
                )
                rel = f"gifs/{name}.gif"
                save_gif(frames, self.out / rel, fps=5)
                out.append(rel)
        finally:
            env.close()
        return out


def _row_of(result: Mapping[str, Any], task: str) -> dict[str, Any]:
    for row in result["tasks"]:
        if row["task"] == task:
            return dict(row)
    raise KeyError(task)


def _fmt(value: Any, ci: Any = None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if ci is None else f"{value:.3f} ± {ci:.3f}"


def _markdown_table(rows: Sequence[Mapping[str, Any]], episodes: int) -> str:
    has_multi = any("multi_hdrqn" in r for r in rows)
    has_greedy = any("greedy" in r for r in rows)
    header = ["task", "specialist", "distilled", "distilled / specialist"]
    if has_multi:
        header.append("Multi-HDRQN")
    if has_greedy:
        header.append("greedy chaser")
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["--:"] * (len(header) - 1)) + "|",
    ]
    for r in rows:
        cells = [
            f"{r['task_id']}: {r['task']}",
            _fmt(r["specialist"], r["specialist_ci95"]),
            _fmt(r["distilled"], r["distilled_ci95"]),
            "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}",
        ]
        if has_multi:
            cells.append(_fmt(r.get("multi_hdrqn"), r.get("multi_hdrqn_ci95")))
        if has_greedy:
            cells.append(_fmt(r.get("greedy"), r.get("greedy_ci95")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _report_markdown(
    task_set: TaskSet, report: Mapping[str, Any], table: str, gifs: Sequence[str]
) -> str:
    steps, wall = report["env_steps"], report["wall_s"]
    parts = [
        f"# Multi-task distillation: {task_set.name}",
        "",
        f"Discounted return (gamma 0.95) of greedy episodes, mean ± 95% CI half-width over "
        f"{report['config']['eval_episodes']} episodes per task. The distilled team never sees "
        "the task id; the specialists and the greedy chaser are each told their task.",
        "",
        table,
        "",
        "| phase | env steps | wall time (s) |",
        "|---|--:|--:|",
    ]
    for k, (s, w) in enumerate(zip(steps["specialists"], wall["specialists"], strict=True)):
        parts.append(f"| specialist {k} | {s} | {w:.1f} |")
    parts.append(f"| distillation | {steps['distill']} | {wall['distill']:.1f} |")
    if "multi_hdrqn" in steps:
        parts.append(f"| Multi-HDRQN | {steps['multi_hdrqn']} | {wall['multi_hdrqn']:.1f} |")
    ok = "yes" if report["all_within_10pct"] else "no"
    parts += ["", f"Distilled within 10% of every specialist: **{ok}**.", ""]
    parts += ["![learning curves](curves.png)", ""]
    parts += [f"![{Path(g).stem}]({g})" for g in gifs]
    return "\n".join(parts) + "\n"


def _draw(
    ax: Any, task: str, curve: Sequence[Mapping[str, Any]], offset: float, color: str, label: str
) -> None:
    points = [p for p in curve if p["disc_return"].get(task) is not None]
    if points:
        xs = [offset + p["timesteps"] for p in points]
        ax.plot(xs, [p["disc_return"][task] for p in points], color=color, label=label)


def plot_pipeline_curves(
    phases: Mapping[str, Any],
    names: Sequence[str],
    out_png: str | os.PathLike[str],
    rows: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Figure 5: one panel per task, discounted return against the env steps of each approach.

    The specialists train one after another, so specialist ``k``'s curve spans its own stretch
    of env steps; the distilled team's curve follows all of them; Multi-HDRQN's spans the same
    total from 0. The greedy chaser is a dotted line.

    Args:
        phases: The ``phases`` of ``pipeline.json``.
        names: Task names, in task-id order.
        out_png: Destination (written atomically).
        rows: Report rows (for the greedy level), optional.

    Returns:
        The PNG's path.
    """
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(names)
    cols = min(n, 2)
    lines = math.ceil(n / cols)
    fig = Figure(figsize=(5.5 * cols, 3.4 * lines), dpi=100)
    FigureCanvasAgg(fig)
    spec = phases["specialists"]
    offsets = np.cumsum([0] + [spec[str(k)]["timesteps"] for k in range(n)])
    for k, name in enumerate(names):
        ax = fig.add_subplot(lines, cols, k + 1)

        _draw(ax, name, spec[str(k)]["curve"], offsets[k], "tab:blue", "specialist (phase I)")
        if "distill" in phases:
            _draw(ax, name, phases["distill"]["curve"], offsets[-1], "tab:green", "distilled")
        if "multi_hdrqn" in phases:
            _draw(ax, name, phases["multi_hdrqn"]["curve"], 0, "tab:red", "Multi-HDRQN")
        if rows is not None and rows[k].get("greedy") is not None:
            ax.axhline(rows[k]["greedy"], color="gray", linestyle=":", label="greedy chaser")
        ax.axvline(offsets[-1], color="black", linewidth=0.6, alpha=0.5)
        ax.set_title(name, fontsize="small")
        ax.set_xlabel("env steps")
        ax.set_ylabel("disc. return")
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(fontsize="x-small", loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    return atomic_write(out_png, lambda f: f.write(data))


# -- the one call --------------------------------------------------------------------------------
def run_pipeline(
    config: PipelineConfig | None,
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    stop_after: str | None = None,
    verbose: int = 1,
    progress: bool = False,
    say: Callable[[str], None] | None = None,
) -> PipelineResult | None:
    """Run (or resume) the two-phase pipeline into a run folder.

    Args:
        config: The settings; ``None`` with ``resume=True`` takes those of the folder.
        out_dir: The run folder (created).
        resume: Continue the run in ``out_dir``: finished phases (and finished specialists) are
            kept, the first unfinished one starts over.
        stop_after: Stop once this phase is done (one of :data:`PHASES`); ``None``: run all.
        verbose: 0 silent, 1 one line per phase, 2 also the training logs.
        progress: Progress bars while training.
        say: Where the phase lines go (default ``print`` when ``verbose >= 1``).

    Returns:
        The report, or ``None`` when stopped before the report.

    Raises:
        PipelineError: For a folder that already holds a run (without ``resume``) or holds one
            with other settings.
        ValueError: For invalid settings.
    """
    if stop_after is not None and stop_after not in PHASES:
        raise ValueError(f"stop_after={stop_after!r} is invalid: choose one of {PHASES}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if config is not None:
        config.task_set_obj()  # validate before writing anything
        config.specialist_steps(len(config.task_set_obj()))
    state = _RunState.open(out, config, resume)
    if say is None:
        say = print if verbose >= 1 else (lambda _msg: None)
    runner = _Runner(state, verbose, progress, say)
    ran: list[str] = []
    for phase in PHASES:
        if phase == "multi_hdrqn" and not state.config.multi_hdrqn:
            continue
        if phase == "specialists":
            new = runner.specialists()
            if new:
                for later in _DEPENDENTS[phase]:
                    state.phases.pop(later, None)
            ran += new
        elif phase == "report" and state.done(phase) and (out / "report.json").is_file():
            try:
                report, table, files = runner.load_report()
            except (
                OSError,
                ValueError,
                KeyError,
                TypeError,
                AttributeError,
                RecursionError,
            ) as exc:
                say(f"[report] report.json is damaged ({exc!r}): writing it again")
                report, table, files = runner.report()
                ran.append(phase)
            else:
                say(f"[report] done before: {out / 'report.md'}")
            return PipelineResult(out, report, table, files, ran)
        elif state.done(phase) and phase != "report":
            say(f"[{phase}] done before, kept")
        elif phase == "report":
            report, table, files = runner.report()
            ran.append(phase)
            return PipelineResult(out, report, table, files, ran)
        else:
            for later in _DEPENDENTS[phase]:  # their results would be stale
                state.phases.pop(later, None)
            getattr(runner, phase)()
            ran.append(phase)
        if phase == stop_after:
            say(f"stopped after phase {phase!r}; resume to continue")
            return None
    raise AssertionError("unreachable: the report phase returns")
