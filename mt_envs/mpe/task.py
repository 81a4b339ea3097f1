"""The MPE task: one mpe2 game seen from its good team (paper 001, sections V-A and VI)."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from mt_envs.tasks import Task, register_task_family
from mt_envs.utils import unknown_name_error

#: The games of the group, with the mpe2 module each one is built from.
GAMES: dict[str, str] = {
    "speaker_listener": "simple_speaker_listener_v4",
    "push": "simple_push_v3",
    "adversary": "simple_adversary_v3",
}

#: Games with an adversary the learner does not control (driven by a policy of
#: :mod:`mt_envs.mpe.scripted`).
ADVERSARIAL_GAMES = ("push", "adversary")

#: Policies that can drive the adversary of ``push`` and ``adversary`` (see
#: :mod:`mt_envs.mpe.scripted`). ``"scripted"`` is the default and is stored as ``None``.
OPPONENTS = ("scripted", "random", "noop")

#: Number of good agents of the games where it is fixed.
FIXED_GOOD = {"speaker_listener": 2, "push": 1}

DEFAULT_MAX_CYCLES = 25
DEFAULT_N_GOOD = 2
MAX_CYCLES_LIMIT = 100_000
MAX_N_GOOD = 8


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@register_task_family
@dataclasses.dataclass(frozen=True)
class MPETask(Task):
    """One game of the MPE group of paper 001, with the learner controlling the good team.

    Actions are always discrete (mpe2's ``continuous_actions=False``): the group is meant for
    padding with action masks. Rendering options (``dynamic_rescaling``) are not task parameters.

    Args:
        game: ``"speaker_listener"`` (mpe2 ``simple_speaker_listener_v4``: speaker and listener,
            both learners), ``"push"`` (``simple_push_v3``: one good agent against a scripted
            adversary) or ``"adversary"`` (``simple_adversary_v3``: ``n_good`` good agents against
            a scripted adversary).
        max_cycles: Episode length in steps (mpe2 ``max_cycles``; every episode is truncated
            after exactly this many steps, none terminates), 1..100000.
        n_good: Number of good agents (and landmarks) of ``"adversary"`` (mpe2 ``N``), 1..8;
            ``None`` means the game's count (2 for ``adversary``). The other games have a fixed
            count (speaker_listener 2, push 1); giving that count is accepted and stored as
            ``None``, as is 2 for ``adversary``, so :func:`dataclasses.replace` of ``game`` keeps
            a valid task.
        opponent: Policy of the adversary in ``push`` and ``adversary``: ``None`` or
            ``"scripted"`` (the shipped heuristic, stored as ``None``), ``"random"`` (uniform
            random moves) or ``"noop"`` (never moves). Must be ``None`` for
            ``speaker_listener``, which has no adversary.

    Raises:
        ValueError: A field is outside its range (the message names the field, the value and
            what is allowed).
        KeyError: ``game`` or ``opponent`` is not a known name (the message lists close matches).
    """

    family: ClassVar[str] = "mpe"

    game: str
    max_cycles: int = DEFAULT_MAX_CYCLES
    n_good: int | None = None
    opponent: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.game, str) or self.game not in GAMES:
            raise unknown_name_error("MPE game (MPETask.game)", self.game, GAMES)
        c = self.max_cycles
        if not _is_int(c) or not 1 <= c <= MAX_CYCLES_LIMIT:
            raise ValueError(
                f"MPETask.max_cycles={c!r} is invalid: need an int in [1, {MAX_CYCLES_LIMIT}]"
            )
        n = self.n_good
        if self.game in FIXED_GOOD:
            fixed = FIXED_GOOD[self.game]
            if n is not None and (not _is_int(n) or n != fixed):
                raise ValueError(
                    f"MPETask.n_good={n!r} is invalid for game {self.game!r}: it always has "
                    f"{fixed} good agent(s); leave n_good=None"
                )
        elif n is not None and (not _is_int(n) or not 1 <= n <= MAX_N_GOOD):
            raise ValueError(
                f"MPETask.n_good={n!r} is invalid for game {self.game!r}: need an int in "
                f"[1, {MAX_N_GOOD}] or None (default {DEFAULT_N_GOOD})"
            )
        if n is not None and (self.game in FIXED_GOOD or n == DEFAULT_N_GOOD):
            set_(self, "n_good", None)
        opp = self.opponent
        if opp is not None:
            if self.game not in ADVERSARIAL_GAMES:
                raise ValueError(
                    f"MPETask.opponent={opp!r} is invalid for game {self.game!r}: it has no "
                    "adversary; leave opponent=None"
                )
            if not isinstance(opp, str) or opp not in OPPONENTS:
                raise unknown_name_error("MPE opponent (MPETask.opponent)", opp, OPPONENTS)
            if opp == "scripted":
                set_(self, "opponent", None)

    @property
    def env_name(self) -> str:
        """The mpe2 module of the game, for example ``"simple_push_v3"``."""
        return GAMES[self.game]

    @property
    def good_count(self) -> int:
        """Number of good agents, the agents the learner controls."""
        if self.game in FIXED_GOOD:
            return FIXED_GOOD[self.game]
        return DEFAULT_N_GOOD if self.n_good is None else self.n_good

    @property
    def has_adversary(self) -> bool:
        """True for the games with an adversary (``push`` and ``adversary``)."""
        return self.game in ADVERSARIAL_GAMES

    @property
    def opponent_policy(self) -> str | None:
        """The adversary's policy in force (``"scripted"`` by default), ``None`` without one."""
        if not self.has_adversary:
            return None
        return "scripted" if self.opponent is None else self.opponent

    @property
    def max_steps(self) -> int:
        """The step limit in force (``max_cycles``): every episode is truncated at it."""
        return self.max_cycles

    def mpe2_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the mpe2 constructor (``max_cycles``, ``N``,
        ``continuous_actions=False``)."""
        kwargs: dict[str, Any] = {"max_cycles": self.max_cycles, "continuous_actions": False}
        if self.game == "adversary":
            kwargs["N"] = self.good_count
        return kwargs

    @property
    def name(self) -> str:
        parts = ["mpe", self.game.replace("_", "-")]
        if self.n_good is not None:
            parts.append(f"{self.n_good}g")
        if self.max_cycles != DEFAULT_MAX_CYCLES:
            parts.append(f"c{self.max_cycles}")
        if self.opponent is not None:
            parts.append(f"vs-{self.opponent}")
        return "-".join(parts)
