"""PettingZoo wrappers for multi-task MARL: task sampling, padding with masks, an SB3 bridge.

The wrappers arrive with their own issue (see DESIGN.md, "Wrappers"). This package may import
:mod:`mt_envs`, pettingzoo, supersuit and gymnasium, never torch at import time and never
:mod:`mt_agents`.
"""

from __future__ import annotations

__all__: list[str] = []
