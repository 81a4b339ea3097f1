"""The capture task: one MAST or MAMT configuration."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, ClassVar

from mt_envs.tasks import Task, register_task_family

#: Action enum shared by all grid families (north is row - 1).
NORTH, SOUTH, EAST, WEST, STAY = 0, 1, 2, 3, 4
ACTION_NAMES = ("NORTH", "SOUTH", "EAST", "WEST", "STAY")
N_ACTIONS = 5

#: The uniform random walk over the five moves (the default target policy).
RANDOM_WALK = (0.2, 0.2, 0.2, 0.2, 0.2)

#: Named target policies (N, S, E, W, STAY); a task using one carries its name in its own name.
TARGET_POLICIES: dict[str, tuple[float, ...]] = {
    "random-walk": RANDOM_WALK,
    "north-east": (0.3, 0.1, 0.3, 0.1, 0.2),
    "lazy": (0.1, 0.1, 0.1, 0.1, 0.6),
    "west": (0.15, 0.15, 0.1, 0.4, 0.2),
}

MAX_GRID_SIZE = 256
MAX_AGENTS = 32


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@register_task_family
@dataclasses.dataclass(frozen=True)
class CaptureTask(Task):
    """One capture task (paper 000, section 6.1): MAST when ``n_targets == 1``, MAMT when
    ``n_targets == n_agents``.

    Args:
        grid_size: Side ``m`` of the toroidal ``m x m`` grid, 2..256.
        n_agents: Number of agents ``n``, 1..32.
        n_targets: 1 (MAST: every agent must stand on the one target) or ``n_agents`` (MAMT:
            agent ``i`` must stand on target ``assignment[i]``).
        flicker: Probability ``Pf`` in [0, 1] that an agent sees no target in a step
            (independently per agent and step).
        slip: Probability in [0, 1] that a move goes to one of the two perpendicular directions
            instead (half each). ``STAY`` never slips.
        target_policy: Probabilities of the five moves (N, S, E, W, STAY) of every target;
            five numbers >= 0 summing to 1. Default: uniform random walk.
        evasive: Probability in [0, 1] that a target instead takes the move maximising its
            toroidal distance to the nearest agent (ties broken uniformly at random).
        assignment: Target index of each agent. ``None`` gives all zeros for MAST and the
            identity for MAMT; for MAMT it must be a permutation of ``0..n-1``.
        horizon: Step limit (truncation), >= 1. ``None`` (the default) means
            ``5 * grid_size + 10``; read the limit in force from :attr:`max_steps`. The field keeps
            ``None`` (a value equal to the default is stored as ``None``) so that
            ``dataclasses.replace(task, grid_size=9)`` gets the new grid's default horizon.
    """

    family: ClassVar[str] = "capture"

    grid_size: int
    n_agents: int = 2
    n_targets: int = 1
    flicker: float = 0.0
    slip: float = 0.1
    target_policy: tuple[float, ...] = RANDOM_WALK
    evasive: float = 0.0
    assignment: tuple[int, ...] | None = None
    horizon: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        m, n = self.grid_size, self.n_agents
        if not _is_int(m) or not 2 <= m <= MAX_GRID_SIZE:
            raise ValueError(
                f"CaptureTask.grid_size={m!r} is invalid: need an int in [2, {MAX_GRID_SIZE}]"
            )
        if not _is_int(n) or not 1 <= n <= MAX_AGENTS:
            raise ValueError(
                f"CaptureTask.n_agents={n!r} is invalid: need an int in [1, {MAX_AGENTS}]"
            )
        if not _is_int(self.n_targets) or self.n_targets not in (1, n):
            raise ValueError(
                f"CaptureTask.n_targets={self.n_targets!r} is invalid: need 1 (MAST) or "
                f"n_agents={n} (MAMT)"
            )
        for field in ("flicker", "slip", "evasive"):
            v = getattr(self, field)
            if not _is_real(v) or not 0.0 <= v <= 1.0:
                raise ValueError(f"CaptureTask.{field}={v!r} is invalid: need a number in [0, 1]")
            set_(self, field, float(v))
        tp = self.target_policy
        try:
            tp = tuple(float(p) for p in tp)
        except (TypeError, ValueError):
            raise ValueError(
                f"CaptureTask.target_policy={self.target_policy!r} is invalid: need 5 "
                "probabilities for (N, S, E, W, STAY)"
            ) from None
        if (
            len(tp) != N_ACTIONS
            or not all(math.isfinite(p) and p >= 0 for p in tp)
            or abs(sum(tp) - 1.0) > 1e-6
        ):
            raise ValueError(
                f"CaptureTask.target_policy={self.target_policy!r} is invalid: need 5 "
                "probabilities >= 0 for (N, S, E, W, STAY) summing to 1"
            )
        set_(self, "target_policy", tp)
        asg = self.assignment
        if asg is None:
            asg = (0,) * n if self.n_targets == 1 else tuple(range(n))
        try:
            if isinstance(asg, (str, bytes, Mapping, set, frozenset)):
                raise TypeError  # not an ordered sequence of target indices
            asg = tuple(asg)
        except TypeError:
            raise ValueError(
                f"CaptureTask.assignment={self.assignment!r} is invalid: need a sequence of "
                f"{n} target indices"
            ) from None
        if len(asg) != n or not all(_is_int(a) and 0 <= a < self.n_targets for a in asg):
            raise ValueError(
                f"CaptureTask.assignment={self.assignment!r} is invalid: need {n} target "
                f"indices in [0, {self.n_targets - 1}]"
            )
        if self.n_targets > 1 and sorted(asg) != list(range(n)):
            raise ValueError(
                f"CaptureTask.assignment={asg!r} is invalid: MAMT needs a permutation of "
                f"0..{n - 1} (one agent per target)"
            )
        set_(self, "assignment", asg)
        h = self.horizon
        if h is not None and (not _is_int(h) or h < 1):
            raise ValueError(f"CaptureTask.horizon={h!r} is invalid: need an int >= 1 or None")
        if h == self.default_horizon:
            set_(self, "horizon", None)

    @classmethod
    def mast(cls, grid_size: int, n_agents: int = 2, **kwargs: Any) -> CaptureTask:
        """A MAST task (one target shared by all agents)."""
        return cls(grid_size=grid_size, n_agents=n_agents, n_targets=1, **kwargs)

    @classmethod
    def mamt(cls, grid_size: int, n_agents: int = 2, **kwargs: Any) -> CaptureTask:
        """A MAMT task (one target per agent)."""
        return cls(grid_size=grid_size, n_agents=n_agents, n_targets=n_agents, **kwargs)

    @property
    def default_horizon(self) -> int:
        """The step limit when ``horizon`` is not given: ``5 * grid_size + 10``."""
        return 5 * self.grid_size + 10

    @property
    def max_steps(self) -> int:
        """The step limit in force (``horizon``, or the default when it is ``None``)."""
        return self.default_horizon if self.horizon is None else self.horizon

    @property
    def is_mast(self) -> bool:
        """True for MAST (one shared target)."""
        return self.n_targets == 1

    @property
    def name(self) -> str:
        m = self.grid_size
        parts = [
            "mast" if self.is_mast else "mamt",
            f"{m}x{m}",
            f"{self.n_agents}a",
            f"pf{self.flicker:g}",
        ]
        if not self.is_mast:
            asg = tuple(self.assignment or ())
            if asg == tuple(range(self.n_agents)):
                parts.append("id")
            elif self.n_agents == 2 and asg == (1, 0):
                parts.append("swap")
            else:
                parts.append("asg" + "".join(str(a) for a in asg))
        if self.target_policy != RANDOM_WALK:
            named = [k for k, v in TARGET_POLICIES.items() if v == self.target_policy]
            tag = named[0] if named else "tp" + "_".join(f"{p:g}" for p in self.target_policy)
            parts.append(tag)
        if self.evasive:
            parts.append(f"ev{self.evasive:g}")
        if self.slip != 0.1:
            parts.append(f"slip{self.slip:g}")
        if self.horizon is not None:
            parts.append(f"h{self.horizon}")
        return "-".join(parts)
