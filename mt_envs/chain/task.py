"""The chain task: one of the two 5-state chains of paper 003, section 2.2 (figure 1)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

from mt_envs.tasks import Task, register_task_family

#: Actions of the chain (SPECS.md: the chain uses LEFT=0, RIGHT=1).
LEFT, RIGHT = 0, 1
ACTION_NAMES = ("LEFT", "RIGHT")
N_ACTIONS = 2
#: States S1..S5 are observations 0..4; every episode starts at S3.
N_STATES = 5
STATE_NAMES = ("S1", "S2", "S3", "S4", "S5")
START = 2
#: Default step limit (our choice; the paper's chain is an infinite-horizon discounted problem).
DEFAULT_HORIZON = 100
#: Default ``p`` of the stochastic variant (the paper asks for 0.5 < p < 1).
DEFAULT_P = 0.75


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@register_task_family
@dataclasses.dataclass(frozen=True)
class ChainTask(Task):
    """One task of the 2-task chain (paper 003, section 2.2).

    States ``S1 .. S5`` (observations 0..4), start ``S3``; entering ``S1`` or ``S5`` ends the
    episode. Task 1 pays +1 for entering ``S1`` and -1 for ``S5``; task 2 the opposite.

    Args:
        variant: 1 or 2. Deterministic dynamics (``p=None``): in task 1 ``LEFT`` / ``RIGHT`` move
            left / right everywhere; task 2 swaps their effect in ``S2`` and ``S4``.
        p: ``None`` for the deterministic chain, or a probability in [0, 1] making ``S2`` and
            ``S4`` action-independent (the stationary-point example): task 1 goes ``S2 -> S3`` and
            ``S4 -> S5`` with probability ``p`` (else ``S1`` / ``S3``); task 2 goes ``S2 -> S1``
            and ``S4 -> S3`` with probability ``p`` (else ``S3`` / ``S5``). ``S3`` stays
            deterministic. The paper takes ``0.5 < p < 1``.
        horizon: Step limit (truncation), an int >= 1 (default 100).

    Raises:
        ValueError: ``variant`` not 1 or 2, ``p`` outside [0, 1], ``horizon`` < 1.
    """

    family: ClassVar[str] = "chain"

    variant: int = 1
    p: float | None = None
    horizon: int = DEFAULT_HORIZON

    def __post_init__(self) -> None:
        v = self.variant
        if not isinstance(v, int) or isinstance(v, bool) or v not in (1, 2):
            raise ValueError(f"ChainTask.variant={v!r} is invalid: need 1 or 2")
        p = self.p
        if p is not None:
            if not _is_real(p) or not 0.0 <= p <= 1.0:
                raise ValueError(
                    f"ChainTask.p={p!r} is invalid: need a probability in [0, 1] (or None for "
                    "the deterministic chain); the paper's example takes 0.5 < p < 1"
                )
            object.__setattr__(self, "p", float(p))
        h = self.horizon
        if not isinstance(h, int) or isinstance(h, bool) or h < 1:
            raise ValueError(f"ChainTask.horizon={h!r} is invalid: need an int >= 1")

    @property
    def max_steps(self) -> int:
        """The step limit in force."""
        return self.horizon

    @property
    def stochastic(self) -> bool:
        """Whether ``S2`` and ``S4`` are the action-independent random states."""
        return self.p is not None

    @property
    def name(self) -> str:
        parts = [f"chain-t{self.variant}"]
        if self.p is not None:
            parts.append(f"p{self.p:g}")
        if self.horizon != DEFAULT_HORIZON:
            parts.append(f"h{self.horizon}")
        return "-".join(parts)
