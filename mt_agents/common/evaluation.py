"""Per-task evaluation of a model: returns, discounted returns, success and length with CIs.

:func:`evaluate_multitask` plays exactly ``n_episodes`` episodes of every task and returns an
:class:`EvaluationResult`, which renders as markdown, CSV or JSON.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mt_agents.common.utils import as_vector_env, mean_ci95

__all__ = ["EvaluationResult", "evaluate_multitask"]

#: Columns of a result row, in order (``*_ci95``: half-width of the 95% interval).
ROW_KEYS = (
    "task_id",
    "task",
    "episodes",
    "return",
    "return_ci95",
    "disc_return",
    "disc_return_ci95",
    "success_rate",
    "success_rate_ci95",
    "length",
    "length_ci95",
)
_METRICS = (
    ("return", "return"),
    ("disc_return", "discounted_return"),
    ("success_rate", "terminated"),
    ("length", "length"),
)
#: Largest number of steps one evaluation round may take before it is declared stuck.
MAX_ROUND_STEPS = 1_000_000


def _row(task_id: int | None, task: str, episodes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {"task_id": task_id, "task": task, "episodes": len(episodes)}
    for key, source in _METRICS:
        mean, ci = mean_ci95(float(e[source]) for e in episodes)
        row[key], row[f"{key}_ci95"] = mean, ci
    return row


def _mean_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The unweighted mean over tasks; its CI combines the tasks' standard errors
    (``sqrt(sum_t se_t^2) / T``), treating tasks as fixed strata rather than samples."""
    out: dict[str, Any] = {
        "task_id": None,
        "task": "mean",
        "episodes": int(sum(r["episodes"] for r in rows)),
    }
    t = len(rows)
    for key, _ in _METRICS:
        out[key] = float(np.mean([r[key] for r in rows])) if rows else math.nan
        cis = [r[f"{key}_ci95"] for r in rows]
        out[f"{key}_ci95"] = (
            None
            if not rows or any(c is None for c in cis)
            else math.sqrt(sum(c * c for c in cis)) / t
        )
    return out


@dataclass
class EvaluationResult:
    """What :func:`evaluate_multitask` measured.

    Attributes:
        rows: One dict per task, in task-id order, with :data:`ROW_KEYS` (returns are team
            returns: summed rewards over the team, divided by its size; ``success_rate`` is the
            share of episodes that terminated rather than being truncated, a capture in the
            capture envs; ``*_ci95`` are normal-approximation half-widths ``1.96 s / sqrt(n)``,
            ``None`` for one episode).
        mean: The unweighted mean over tasks (task ``"mean"``), CIs from the tasks' standard
            errors.
        episodes: Every episode: ``task_id``, ``task``, ``return``, ``discounted_return``,
            ``terminated``, ``length``.
        gamma: Discount of ``disc_return``.
        deterministic: Whether actions were greedy.
        n_episodes: Episodes per task.
        seed: Seed of the first reset.
    """

    rows: list[dict[str, Any]]
    mean: dict[str, Any]
    episodes: list[dict[str, Any]] = field(repr=False)
    gamma: float
    deterministic: bool
    n_episodes: int
    seed: int | None

    @classmethod
    def from_episodes(
        cls,
        episodes: Sequence[dict[str, Any]],
        *,
        gamma: float,
        deterministic: bool,
        n_episodes: int,
        seed: int | None,
    ) -> EvaluationResult:
        """Summarise per-episode records (as in :attr:`episodes`) per task."""
        groups: dict[int, list[dict[str, Any]]] = {}
        for e in episodes:
            groups.setdefault(int(e["task_id"]), []).append(e)
        rows = [_row(t, str(groups[t][0]["task"]), groups[t]) for t in sorted(groups)]
        return cls(
            rows=rows,
            mean=_mean_row(rows),
            episodes=list(episodes),
            gamma=gamma,
            deterministic=deterministic,
            n_episodes=n_episodes,
            seed=seed,
        )

    def row(self, task: int | str) -> dict[str, Any]:
        """The row of a task id or name (``"mean"``: the mean row).

        Raises:
            KeyError: For a task that was not evaluated.
        """
        if task == "mean":
            return self.mean
        for r in self.rows:
            if task in (r["task_id"], r["task"]):
                return r
        raise KeyError(
            f"task {task!r} was not evaluated: rows are {[r['task'] for r in self.rows]}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the per-episode records)."""
        return {
            "gamma": self.gamma,
            "deterministic": self.deterministic,
            "n_episodes": self.n_episodes,
            "seed": self.seed,
            "tasks": self.rows,
            "mean": self.mean,
        }

    def to_json(self, indent: int | None = 2, episodes: bool = False) -> str:
        """The summary as JSON (``episodes=True`` adds every episode's record)."""
        data = self.to_dict()
        if episodes:
            data["episodes"] = self.episodes
        return json.dumps(_finite(data), indent=indent)

    def to_csv(self) -> str:
        """One CSV line per task plus the mean row, columns :data:`ROW_KEYS`."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(ROW_KEYS), lineterminator="\n")
        writer.writeheader()
        for r in [*self.rows, self.mean]:
            writer.writerow({k: "" if r[k] is None else r[k] for k in ROW_KEYS})
        return buf.getvalue()

    def to_markdown(self, digits: int = 3) -> str:
        """An aligned markdown table: ``mean ± ci95`` cells, one row per task and the mean."""

        def cell(r: dict[str, Any], key: str) -> str:
            v, ci = r[key], r[f"{key}_ci95"]
            text = (
                "n/a"
                if v is None or (isinstance(v, float) and math.isnan(v))
                else f"{v:.{digits}f}"
            )
            return text if ci is None else f"{text} ± {ci:.{digits}f}"

        header = [
            "id",
            "task",
            "episodes",
            "return",
            f"disc. return (gamma {self.gamma:g})",
            "success",
            "length",
        ]
        body = [
            [
                "" if r["task_id"] is None else str(r["task_id"]),
                str(r["task"]),
                str(r["episodes"]),
                *(cell(r, k) for k, _ in _METRICS),
            ]
            for r in [*self.rows, self.mean]
        ]
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
        right = [True, False, True, True, True, True, True]

        def line(cells: Sequence[str]) -> str:
            parts = [
                c.rjust(w) if rj else c.ljust(w)
                for c, w, rj in zip(cells, widths, right, strict=True)
            ]
            return "| " + " | ".join(parts) + " |"

        rule = "|" + "|".join(
            "-" * (w + 1) + ":" if rj else "-" * (w + 2)
            for w, rj in zip(widths, right, strict=True)
        )
        return "\n".join([line(header), rule + "|", *(line(b) for b in body)])

    def __str__(self) -> str:
        return self.to_markdown()


def _finite(value: Any) -> Any:
    """JSON has no NaN: nan becomes None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _task_ids(info: dict[str, Any], b: int) -> np.ndarray:
    return np.asarray(info.get("task_id", np.zeros(b, dtype=np.int64)), dtype=np.int64)


def _accepts(fn: Any, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


class _Round:
    """Plays the first episode of every counted env copy after one reset."""

    def __init__(self, model: Any, venv: Any, deterministic: bool, gamma: float) -> None:
        self.model = model
        self.venv = venv
        self.deterministic = deterministic
        self.gamma = gamma
        predict = getattr(model, "predict", None)
        if not callable(predict):
            raise TypeError(
                f"model must have a predict(observation, state=..., episode_start=..., "
                f"deterministic=...) method; got {type(model).__name__}"
            )
        self.predict = predict
        self.pass_mask = _accepts(predict, "action_mask")

    def play(
        self, obs: np.ndarray, info: dict[str, Any], counted: np.ndarray, task_names: Any
    ) -> list[dict[str, Any]]:
        """The first episode of each counted copy from a fresh reset, in copy order."""
        venv = self.venv
        b = venv.num_envs
        task_id = _task_ids(info, b)
        team = self._team(info, b)
        active = counted.copy()
        ret = np.zeros(b)
        disc = np.zeros(b)
        scale = np.ones(b)
        length = np.zeros(b, dtype=np.int64)
        starts = np.ones(b, dtype=bool)
        state = None
        out: dict[int, dict[str, Any]] = {}
        steps = 0
        while active.any():
            kwargs: dict[str, Any] = {
                "state": state,
                "episode_start": starts,
                "deterministic": self.deterministic,
            }
            if self.pass_mask and "action_mask" in info:
                kwargs["action_mask"] = info["action_mask"]
            actions, state = self.predict(obs, **kwargs)
            obs, rew, term, _trunc, info = venv.step(np.asarray(actions))
            team_rew = np.asarray(rew, dtype=np.float64).sum(axis=1) / team
            ret += np.where(active, team_rew, 0.0)
            disc += np.where(active, scale * team_rew, 0.0)
            scale *= self.gamma
            length += active
            ended = np.asarray(info["episode"]["mask"], dtype=bool)
            for k in np.flatnonzero(ended & active):
                tid = int(task_id[k])
                out[int(k)] = {
                    "task_id": tid,
                    "task": task_names(tid),
                    "return": float(ret[k]),
                    "discounted_return": float(disc[k]),
                    "terminated": bool(np.asarray(term[k]).any()),
                    "length": int(length[k]),
                }
            active &= ~ended
            starts = ended
            if ended.any():
                team = np.where(ended, self._team(info, b), team)
            steps += 1
            if steps > MAX_ROUND_STEPS:
                raise RuntimeError(
                    f"an evaluation episode ran for more than {MAX_ROUND_STEPS} steps: the env "
                    "never ends its episodes (give it a step limit)"
                )
        return [out[k] for k in sorted(out)]

    @staticmethod
    def _team(info: dict[str, Any], b: int) -> np.ndarray:
        mask = info.get("agent_mask")
        if mask is None:
            return np.ones(b)
        return np.maximum(np.asarray(mask).sum(axis=1), 1).astype(np.float64)


def evaluate_multitask(
    model: Any,
    env: Any,
    n_episodes: int = 50,
    deterministic: bool = True,
    gamma: float = 0.95,
    seed: int | None = 0,
    tasks: Sequence[int] | None = None,
) -> EvaluationResult:
    """Evaluate a model on exactly ``n_episodes`` episodes of every task of an env.

    Each evaluation round resets the env with ``options={"task": ...}`` and counts the first
    episode of each env copy (later episodes of a copy that finished early are played but not
    counted, so no task is over-represented by its short episodes). Batched envs that accept
    one task id per copy (the native cores) play several tasks per round; others (a
    :class:`~mt_envs.vector.SyncVectorEnv`, a ParallelEnv) play one task per round.

    Args:
        model: Anything with ``predict(observation [B, N, D], state=, episode_start=,
            deterministic=)`` returning ``(actions [B, N], state)``, such as an mt_agents
            model; ``action_mask=`` is passed when ``predict`` accepts it.
        env: A batched env (:func:`mt_envs.make_vec`) or a PettingZoo ParallelEnv (wrapped in
            a one-copy SyncVectorEnv). Its episodes must end (a step limit).
        n_episodes: Episodes per task, >= 1.
        deterministic: Greedy actions.
        gamma: Discount of the discounted return (paper 000 reports 0.95).
        seed: Seed of the first reset (later resets continue the env's streams); ``None``:
            not reseeded.
        tasks: Task ids to evaluate (default: every task of ``env.task_set``). An env without
            a task set plays ``n_episodes`` episodes of whatever it samples.

    Returns:
        The per-task and mean statistics, with every episode's record.

    Raises:
        ValueError: For ``n_episodes < 1``, unknown task ids, or an env that ignores
            ``reset(options={"task": ...})``.
        TypeError: For a model without ``predict``.
    """
    if (
        isinstance(n_episodes, bool)
        or not isinstance(n_episodes, (int, np.integer))
        or n_episodes < 1
    ):
        raise ValueError(f"n_episodes={n_episodes!r} is invalid: need an int >= 1")
    if not 0.0 <= float(gamma) <= 1.0:
        raise ValueError(f"gamma={gamma!r} is invalid: need a number in [0, 1]")
    n_episodes = int(n_episodes)
    venv = as_vector_env(env)
    task_set = getattr(venv, "task_set", None)

    def task_names(tid: int) -> str:
        if task_set is not None and 0 <= tid < len(task_set):
            return str(task_set.names[tid])
        return f"task_{tid}"

    runner = _Round(model, venv, deterministic, float(gamma))
    b = int(venv.num_envs)
    episodes: list[dict[str, Any]] = []
    pending_seed = seed  # the first reset is seeded, later ones continue the streams

    def finish() -> EvaluationResult:
        episodes.sort(key=lambda e: e["task_id"])
        return EvaluationResult.from_episodes(
            episodes,
            gamma=float(gamma),
            deterministic=deterministic,
            n_episodes=n_episodes,
            seed=seed,
        )

    if task_set is None:
        if tasks is not None:
            raise ValueError("tasks=... needs an env with a task set (env.task_set is None)")
        while len(episodes) < n_episodes:
            counted = np.arange(b) < n_episodes - len(episodes)
            obs, info = venv.reset(seed=pending_seed)
            pending_seed = None
            episodes.extend(runner.play(obs, info, counted, task_names))
        return finish()

    ids = list(range(len(task_set))) if tasks is None else [int(t) for t in tasks]
    bad = [t for t in ids if not 0 <= t < len(task_set)]
    if bad or not ids:
        raise ValueError(
            f"tasks={tasks!r} is invalid: give task ids in 0..{len(task_set) - 1} of task set "
            f"{task_set.name!r}"
        )
    queue = [t for t in ids for _ in range(n_episodes)]
    per_copy = b > 1  # try one task id per copy; fall back to one task per round
    while queue:
        if per_copy:
            take = queue[:b]
            want = np.full(b, take[-1], dtype=np.int64)
            want[: len(take)] = take
            k = len(take)
            try:
                obs, info = venv.reset(seed=pending_seed, options={"task": want})
            except (ValueError, TypeError, IndexError, KeyError):
                per_copy = False
                continue
            if not np.array_equal(_task_ids(info, b)[:k], want[:k]):
                per_copy = False
                continue
        else:
            t = queue[0]
            k = min(b, queue.count(t))
            obs, info = venv.reset(seed=pending_seed, options={"task": t})
            if not np.all(_task_ids(info, b)[:k] == t):
                raise ValueError(
                    f"the env did not play task {t} after reset(options={{'task': {t}}}): it "
                    "cannot be evaluated per task (use an mt_envs env or a MultiTaskEnv)"
                )
        pending_seed = None
        episodes.extend(runner.play(obs, info, np.arange(b) < k, task_names))
        del queue[:k]  # task-major: the first k entries are the tasks just played
    return finish()
