"""Small helpers shared by the learners: devices, seeding, statistics, logger keys."""

from __future__ import annotations

import math
import os
import random
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from mt_envs.vector.base import MultiAgentVectorEnv

__all__ = [
    "as_vector_env",
    "atomic_write",
    "is_vector_env",
    "key_name",
    "mean_ci95",
    "resolve_device",
    "safe_mean",
    "seed_everything",
]


def resolve_device(device: torch.device | str = "auto") -> torch.device:
    """The torch device a learner runs on.

    Args:
        device: ``"auto"`` (CUDA when ``torch.cuda.is_available()``, else the CPU), ``"cpu"``,
            ``"cuda"``, ``"cuda:1"``, or a ``torch.device``.

    Returns:
        The device. ``"cuda"`` without CUDA falls back to the CPU, as in Stable-Baselines3.

    Raises:
        ValueError: For a string torch does not know as a device.
    """
    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"device={device!r} is invalid: use 'auto', 'cpu', 'cuda' or 'cuda:<index>'"
            ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        return torch.device("cpu")
    return dev


def seed_everything(seed: int, using_cuda: bool = False) -> None:
    """Seed Python's, numpy's and torch's global generators (and CUDA's when used).

    Args:
        seed: The seed, an int >= 0.
        using_cuda: Also make cuDNN deterministic (slower, reproducible).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (global state that user code may read)
    torch.manual_seed(seed)
    if using_cuda:
        torch.cuda.manual_seed_all(seed)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def safe_mean(values: Iterable[float]) -> float:
    """Mean of ``values``; ``nan`` for none (what SB3 logs for an empty window)."""
    arr = np.fromiter((float(v) for v in values), dtype=np.float64)
    return float(arr.mean()) if arr.size else math.nan


def mean_ci95(values: Iterable[float]) -> tuple[float, float | None]:
    """Mean and the half-width of its normal-approximation 95% interval.

    Args:
        values: Samples.

    Returns:
        ``(mean, 1.96 * std / sqrt(n))`` with the sample standard deviation (``ddof=1``);
        the half-width is ``None`` for fewer than two samples and the mean ``nan`` for none.
    """
    arr = np.fromiter((float(v) for v in values), dtype=np.float64)
    if arr.size == 0:
        return math.nan, None
    if arr.size < 2:
        return float(arr[0]), None
    return float(arr.mean()), float(1.96 * arr.std(ddof=1) / math.sqrt(arr.size))


_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def key_name(name: str) -> str:
    """A task name made safe for a logger key segment (no ``/``, spaces or commas)."""
    cleaned = _KEY_UNSAFE.sub("_", str(name)).strip("_")
    return cleaned or "task"


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> Path:
    """Write a file atomically: into a temporary file beside it, then ``os.replace``.

    A reader never sees a half-written file, and an interrupted write leaves any older file of
    that name untouched.

    Args:
        path: The destination; its parent folders are created.
        write: Called with the open binary temporary file.

    Returns:
        The destination path.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file 0600; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def is_vector_env(env: Any) -> bool:
    """Whether ``env`` has the batched API (:class:`~mt_envs.vector.MultiAgentVectorEnv`)."""
    return all(
        hasattr(env, a)
        for a in ("num_envs", "num_agents", "single_observation_space", "single_action_space")
    )


def as_vector_env(env: Any) -> MultiAgentVectorEnv:
    """``env`` itself when it has the batched API; a PettingZoo ParallelEnv is wrapped in a
    one-copy :class:`~mt_envs.vector.SyncVectorEnv` (which steps that very env).

    Raises:
        TypeError: For anything else.
    """
    if is_vector_env(env):
        return env
    if hasattr(env, "possible_agents") and callable(getattr(env, "observation_space", None)):
        from mt_envs.vector import SyncVectorEnv

        return SyncVectorEnv([lambda: env])
    raise TypeError(
        f"expected a batched env (mt_envs.make_vec) or a PettingZoo ParallelEnv, got "
        f"{type(env).__name__}"
    )
