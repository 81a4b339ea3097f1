"""Callbacks for the multi-agent learners (SB3's callback classes work with them as well)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback, EventCallback

from mt_agents.common.evaluation import ROW_KEYS, EvaluationResult, evaluate_multitask
from mt_agents.common.utils import as_vector_env, atomic_write, key_name

__all__ = ["MultiAgentEvalCallback"]

#: Result row key -> logger key suffix (``eval/<suffix>``, ``eval/task/<name>/<suffix>``).
EVAL_LOG_KEYS = {
    "return": "mean_reward",
    "disc_return": "mean_disc_reward",
    "success_rate": "success_rate",
    "length": "mean_ep_length",
}
#: Metrics that may choose the best model.
BEST_METRICS = ("return", "disc_return", "success_rate")


class MultiAgentEvalCallback(EventCallback):
    """Evaluate the model per task during training (SB3's ``EvalCallback`` for many tasks).

    Every ``eval_freq`` env steps (``model.num_timesteps``, summed over the batch, unlike
    SB3's count of ``env.step`` calls) it runs :func:`~mt_agents.evaluate_multitask` and logs
    ``eval/mean_reward``, ``eval/mean_disc_reward``, ``eval/success_rate``,
    ``eval/mean_ep_length`` and the same under ``eval/task/<task name>/``. Each evaluation
    uses the same ``seed``, so successive results differ by the policy only.

    Args:
        eval_env: A separate env to evaluate on (batched or a ParallelEnv).
        eval_freq: Env steps between evaluations, >= 1.
        n_episodes: Episodes per task per evaluation, >= 1.
        log_path: Folder for ``evaluations.csv`` (one row per task and evaluation, plus the
            mean rows, appended) and ``evaluations.json`` (every evaluation, rewritten
            atomically); ``None``: logger only.
        best_model_save_path: Folder where ``best_model.zip`` is saved whenever
            ``best_metric`` (mean over tasks) improves; ``None``: no saving.
        deterministic: Greedy actions during evaluation.
        gamma: Discount of the discounted return (``None``: the model's ``gamma``).
        seed: Seed of every evaluation's first reset.
        best_metric: ``"disc_return"``, ``"return"`` or ``"success_rate"``.
        callback_on_new_best: Called when a new best model is found.
        callback_after_eval: Called after every evaluation.
        verbose: 1 prints each evaluation's table.

    Raises:
        ValueError: For invalid frequencies, counts or metric names.
    """

    def __init__(
        self,
        eval_env: Any,
        eval_freq: int = 10_000,
        n_episodes: int = 10,
        log_path: str | os.PathLike[str] | None = None,
        best_model_save_path: str | os.PathLike[str] | None = None,
        deterministic: bool = True,
        gamma: float | None = None,
        seed: int | None = 0,
        best_metric: str = "disc_return",
        callback_on_new_best: BaseCallback | None = None,
        callback_after_eval: BaseCallback | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(callback_after_eval, verbose=verbose)
        for name, value in (("eval_freq", eval_freq), ("n_episodes", n_episodes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} is invalid: need an int >= 1")
        if best_metric not in BEST_METRICS:
            raise ValueError(
                f"best_metric={best_metric!r} is invalid: choose one of {', '.join(BEST_METRICS)}"
            )
        self.eval_env = as_vector_env(eval_env)
        self.eval_freq = eval_freq
        self.n_episodes = n_episodes
        self.log_path = None if log_path is None else Path(log_path)
        self.best_model_save_path = (
            None if best_model_save_path is None else Path(best_model_save_path)
        )
        self.deterministic = deterministic
        self.gamma = gamma
        self.seed = seed
        self.best_metric = best_metric
        self.callback_on_new_best = callback_on_new_best
        if callback_on_new_best is not None:
            callback_on_new_best.parent = self
        self.best_value = -math.inf
        self.last_result: EvaluationResult | None = None
        self.results: list[tuple[int, EvaluationResult]] = []
        self._next_eval = eval_freq

    def _init_callback(self) -> None:
        if self.log_path is not None:
            self.log_path.mkdir(parents=True, exist_ok=True)
        if self.best_model_save_path is not None:
            self.best_model_save_path.mkdir(parents=True, exist_ok=True)
        if self.callback_on_new_best is not None:
            self.callback_on_new_best.init_callback(self.model)
        # Continue the schedule of a resumed run.
        steps = int(self.model.num_timesteps)
        self._next_eval = (steps // self.eval_freq + 1) * self.eval_freq

    def _on_step(self) -> bool:
        if self.model.num_timesteps < self._next_eval:
            return True
        steps = int(self.model.num_timesteps)
        self._next_eval = (steps // self.eval_freq + 1) * self.eval_freq
        return self.evaluate()

    def evaluate(self) -> bool:
        """Run one evaluation now, log and save it.

        Returns:
            Whether training should continue (the answers of the chained callbacks).
        """
        steps = int(self.model.num_timesteps)
        gamma = self.gamma if self.gamma is not None else float(getattr(self.model, "gamma", 0.95))
        result = evaluate_multitask(
            self.model,
            self.eval_env,
            n_episodes=self.n_episodes,
            deterministic=self.deterministic,
            gamma=gamma,
            seed=self.seed,
        )
        self.last_result = result
        self.results.append((steps, result))
        for row_key, log_key in EVAL_LOG_KEYS.items():
            self.logger.record(f"eval/{log_key}", result.mean[row_key])
            for row in result.rows:
                name = key_name(str(row["task"]))
                self.logger.record(f"eval/task/{name}/{log_key}", row[row_key])
        self.logger.record("time/total_timesteps", steps, exclude="tensorboard")
        self.logger.dump(steps)
        if self.verbose >= 1:
            print(f"Evaluation at {steps} env steps:\n{result.to_markdown()}")
        if self.log_path is not None:
            self._write_logs(steps, result)
        value = float(result.mean[self.best_metric])
        continue_training = True
        if value > self.best_value:
            self.best_value = value
            if self.best_model_save_path is not None:
                self.model.save(self.best_model_save_path / "best_model.zip")
                if self.verbose >= 1:
                    print(f"New best {self.best_metric} {value:.4f}: saved best_model.zip")
            if self.callback_on_new_best is not None:
                continue_training = self.callback_on_new_best.on_step()
        if self.callback is not None:
            continue_training = continue_training and self._on_event()
        return continue_training

    def _write_logs(self, steps: int, result: EvaluationResult) -> None:
        assert self.log_path is not None
        path = self.log_path / "evaluations.csv"
        fields = ["timesteps", *ROW_KEYS]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        if not path.exists():
            writer.writeheader()
        for row in [*result.rows, result.mean]:
            writer.writerow(
                {"timesteps": steps, **{k: "" if row[k] is None else row[k] for k in ROW_KEYS}}
            )
        with path.open("a", encoding="utf-8") as f:
            f.write(buf.getvalue())
        data = [{"timesteps": s, **json.loads(r.to_json())} for s, r in self.results]
        text = json.dumps(data, indent=1).encode()
        atomic_write(self.log_path / "evaluations.json", lambda f: f.write(text))
