"""Multi-agent learners with a Stable-Baselines3-shaped API.

The learners arrive with their own issues (see DESIGN.md, "Learners"). This package may import
:mod:`wrappers`, :mod:`mt_envs`, torch and stable-baselines3 utilities.
"""

from __future__ import annotations

__all__: list[str] = []
