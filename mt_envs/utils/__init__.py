"""Small helpers shared by every layer: name look-up errors and argument validation."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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
