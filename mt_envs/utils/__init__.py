"""Small helpers shared by every layer: name look-up errors and argument validation."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


def unknown_name_error(kind: str, name: object, valid: Iterable[str]) -> KeyError:
    """Build a ``KeyError`` for an unknown name that lists the closest valid names.

    Args:
        kind: What was looked up, for example ``"environment id"`` or ``"task set"``.
        name: The name that was given.
        valid: All valid names.

    Returns:
        A ``KeyError`` (a ``LookupError``) whose message names the closest matches and, for short
        registries, every valid name.
    """
    valid = sorted(valid)
    close = difflib.get_close_matches(str(name), valid, n=3, cutoff=0.5)
    msg = f"unknown {kind} {name!r}."
    if close:
        msg += f" Did you mean {', '.join(repr(c) for c in close)}?"
    msg += f" Valid names: {', '.join(valid)}."
    return UnknownNameError(msg)


class UnknownNameError(KeyError):
    """An unknown registry name. A ``KeyError`` whose message prints without quotes."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """Return ``seed`` as an ``int`` (or ``None``), refusing what numpy would reject obscurely.

    Args:
        seed: ``None`` or an int >= 0 (a Python or numpy integer; never a bool).
        name: The argument's name in the error message (``"seed"``, ``"seed_task"``).

    Returns:
        ``None`` or the seed as a Python ``int``.

    Raises:
        TypeError: ``seed`` is not ``None`` or an integer (floats, strings, bools, lists).
        ValueError: ``seed`` is negative.
    """
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"{name}={seed!r} is invalid: need None or an int >= 0, got {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"{name}={seed!r} is invalid: need None or an int >= 0")
    return int(seed)


def check_options(options: Any) -> Mapping[str, Any] | None:
    """Return reset ``options`` when they are ``None`` or a mapping; refuse anything else.

    Args:
        options: What ``reset(options=...)`` was given.

    Returns:
        ``options`` unchanged.

    Raises:
        TypeError: ``options`` is neither ``None`` nor a dict (``reset(options=3)``).
    """
    if options is None or isinstance(options, Mapping):
        return options
    raise TypeError(
        f"options={options!r} is invalid: reset options are a dict such as {{'task': 0}} or "
        f"None, got {type(options).__name__}"
    )


def check_action_dict(actions: Any, agents: Iterable[str]) -> Mapping[str, Any]:
    """Return ``actions`` when it is a mapping ``{agent: action}``; refuse anything else.

    Args:
        actions: What ``step(actions)`` was given.
        agents: The live agents (named in the message).

    Returns:
        ``actions`` unchanged.

    Raises:
        TypeError: ``actions`` is not a dict (a list, an array, ``None``...).
    """
    if type(actions) is dict or isinstance(actions, Mapping):
        return actions
    raise TypeError(
        f"actions={actions!r} is invalid: step() takes a dict {{agent: action}} with one action "
        f"for each live agent {list(agents)}, got {type(actions).__name__}"
    )
