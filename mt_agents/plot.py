"""Per-task learning curves from the csv logs of ``learn()`` (matplotlib, imported on use).

Example::

    from mt_agents.plot import plot_learning_curves

    plot_learning_curves("runs/run_1/progress.csv", "curves.png")
    # what MultiAgentEvalCallback logged into the same csv
    plot_learning_curves("runs/run_1/progress.csv", "eval.png", prefix="eval",
                         metric="mean_disc_reward")
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mt_agents.common.utils import atomic_write

__all__ = ["plot_learning_curves", "read_csv_log"]

PathLike = str | os.PathLike[str]


def read_csv_log(paths: PathLike | Sequence[PathLike]) -> dict[str, np.ndarray]:
    """Read SB3 csv logs (``progress.csv``) into columns of floats (``nan`` for blanks).

    Several files (such as ``progress.csv`` and the ``progress_2.csv`` of a resumed run) are
    concatenated; columns missing from a file are ``nan`` there.

    Args:
        paths: One csv file or several.

    Returns:
        Column name -> ``float64`` array, all of the same length.

    Raises:
        FileNotFoundError: For a missing file.
        ValueError: For a file without a header, or one that is not valid UTF-8 csv.
    """
    files = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    tables: list[list[dict[str, str]]] = []
    names: dict[str, None] = {}
    for path in files:
        with open(path, encoding="utf-8", newline="") as f:
            try:
                reader = csv.DictReader(f)
                if not reader.fieldnames:
                    raise ValueError(f"{os.fspath(path)!r} is empty: expected an SB3 csv log")
                names.update(dict.fromkeys(reader.fieldnames))
                tables.append(list(reader))
            except csv.Error as exc:  # e.g. a NUL byte from a damaged disk
                raise ValueError(
                    f"{os.fspath(path)!r} is not a readable csv log ({exc}): the file is damaged"
                ) from exc
    out: dict[str, list[float]] = {name: [] for name in names}
    for rows in tables:
        for row in rows:
            for name in names:
                out[name].append(_to_float(row.get(name)))
    return {name: np.asarray(vals, dtype=np.float64) for name, vals in out.items()}


def _to_float(text: str | None) -> float:
    if text is None or text == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or y.size == 0:
        return y
    out = np.empty_like(y)
    for i in range(y.size):
        chunk = y[max(0, i - window + 1) : i + 1]
        chunk = chunk[~np.isnan(chunk)]
        out[i] = chunk.mean() if chunk.size else math.nan
    return out


def plot_learning_curves(
    csv_paths: PathLike | Sequence[PathLike],
    out_png: PathLike,
    *,
    metric: str = "ep_rew_mean",
    prefix: str = "rollout",
    x_key: str = "time/total_timesteps",
    smooth: int = 1,
    title: str | None = None,
    dpi: int = 100,
) -> Path:
    """Draw one curve per task (``<prefix>/task/<name>/<metric>``) and the overall one
    (``<prefix>/<metric>``, black) against env steps, and save the figure as a PNG atomically.

    Args:
        csv_paths: SB3 csv log(s) written by ``learn()`` (``progress.csv``) or by
            :class:`~mt_agents.common.MultiAgentEvalCallback` through the logger.
        out_png: Destination PNG (folders are created; written to a temporary file, then
            renamed).
        metric: Last key segment: ``ep_rew_mean``, ``ep_disc_rew_mean``, ``success_rate``,
            ``ep_len_mean`` (rollout) or ``mean_reward``, ``mean_disc_reward``,
            ``success_rate``, ``mean_ep_length`` (eval).
        prefix: ``"rollout"`` or ``"eval"``.
        x_key: Column of the x axis.
        smooth: Moving-average window over log rows (1: none).
        title: Figure title (default: the metric).
        dpi: Resolution.

    Returns:
        The PNG's path.

    Raises:
        ValueError: When the log has no such metric (the message lists those it has) or no
            ``x_key`` column.
    """
    if isinstance(smooth, bool) or not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"smooth={smooth!r} is invalid: need an int >= 1")
    cols = read_csv_log(csv_paths)
    if x_key not in cols:
        raise ValueError(f"the log has no {x_key!r} column; columns: {sorted(cols)}")
    task_prefix = f"{prefix}/task/"
    suffix = f"/{metric}"
    series: dict[str, str] = {
        name[len(task_prefix) : -len(suffix)]: name
        for name in cols
        if name.startswith(task_prefix) and name.endswith(suffix)
    }
    overall = f"{prefix}/{metric}"
    if not series and overall not in cols:
        have = sorted({n.rsplit("/", 1)[-1] for n in cols if n.startswith(f"{prefix}/")} - {""})
        raise ValueError(
            f"the log has no {prefix!r} metric {metric!r}: metrics logged under {prefix}/ are "
            f"{have or 'none'}"
        )
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x = cols[x_key]
    order = np.argsort(x, kind="stable")
    fig = Figure(figsize=(7.0, 4.2), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)

    def draw(column: str, **style: Any) -> None:
        y = cols[column][order]
        xs = x[order]
        keep = ~(np.isnan(y) | np.isnan(xs))
        if keep.any():
            ax.plot(xs[keep], _smooth(y[keep], smooth), **style)

    for name in sorted(series):
        draw(series[name], label=name, linewidth=1.2)
    if overall in cols:
        draw(overall, label="all tasks", color="black", linewidth=2.0)
    ax.set_xlabel("env steps" if x_key == "time/total_timesteps" else x_key)
    ax.set_ylabel(metric)
    ax.set_title(title if title is not None else f"{prefix}/{metric}")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    return atomic_write(out_png, lambda f: f.write(data))
