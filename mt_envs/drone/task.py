"""The drone navigation task: one map with its lighting, start randomisation and step limit."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

from mt_envs.drone.world import World, load_map
from mt_envs.tasks import Task, register_task_family

#: Default step limit: 500 steps of 0.4 m, at most 200 m of flight.
DEFAULT_HORIZON = 500


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@register_task_family
@dataclasses.dataclass(frozen=True)
class DroneTask(Task):
    """One drone navigation task (SPECS.md section 7): fly safely in one map.

    Lighting fields left at ``None`` take the map's own values (see :class:`~.world.Lighting`).

    Args:
        map: Name of a built-in or registered map (:func:`~mt_envs.drone.world.map_names`), or
            the path of a JSON map file (ending in ``.json``).
        horizon: Step limit (truncation), >= 1.
        noise_std: Depth noise standard deviation (normalised units) in [0, 1], or ``None``.
        dropout: Probability in [0, 1) that a ray reads 0, or ``None``.
        bias: Offset added to normalised depths, in [-0.5, 0.5], or ``None``.
        light: Light level of the image observation in [0, 1], or ``None``.
        angle_noise_deg: Standard deviation (degrees) of the Gaussian noise added to the yaw and
            to the pitch of every move, in [0, 45].
        start_jitter: Each start position moves by up to this many metres along ``x`` and ``y``
            (uniform), in [0, 1].
        yaw_jitter_deg: Each start heading turns by up to this many degrees (uniform), in
            [0, 180].

    Raises:
        KeyError: Unknown map name (close matches listed).
        ValueError: A field out of range (the message names it).
    """

    family: ClassVar[str] = "drone"

    map: str
    horizon: int = DEFAULT_HORIZON
    noise_std: float | None = None
    dropout: float | None = None
    bias: float | None = None
    light: float | None = None
    angle_noise_deg: float = 2.0
    start_jitter: float = 0.1
    yaw_jitter_deg: float = 10.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.map, str) or not self.map:
            raise ValueError(
                f"DroneTask.map={self.map!r} is invalid: need a map name (see "
                "mt_envs.drone.map_names()) or a path to a .json map file"
            )
        load_map(self.map)  # unknown names and invalid maps fail here
        h = self.horizon
        if not _is_int(h) or h < 1:
            raise ValueError(f"DroneTask.horizon={h!r} is invalid: need an int >= 1")
        ranges = {
            "angle_noise_deg": (0.0, 45.0),
            "start_jitter": (0.0, 1.0),
            "yaw_jitter_deg": (0.0, 180.0),
        }
        for field, (lo, hi) in ranges.items():
            v = getattr(self, field)
            if not _is_real(v) or not lo <= v <= hi:
                raise ValueError(
                    f"DroneTask.{field}={v!r} is invalid: need a number in [{lo:g}, {hi:g}]"
                )
            set_(self, field, float(v))
        for field in ("noise_std", "dropout", "bias", "light"):
            v = getattr(self, field)
            if v is None:
                continue
            if not _is_real(v):
                raise ValueError(f"DroneTask.{field}={v!r} is invalid: need a number or None")
            set_(self, field, float(v))
        self.world  # noqa: B018  (lighting overrides are range-checked by Lighting)

    @property
    def world(self) -> World:
        """The task's map with its lighting overrides applied."""
        base = load_map(self.map)
        try:
            return base.with_lighting(
                noise_std=self.noise_std, dropout=self.dropout, bias=self.bias, light=self.light
            )
        except ValueError as err:
            raise ValueError(f"DroneTask(map={self.map!r}): {err}") from None

    @property
    def max_steps(self) -> int:
        """The step limit (``horizon``)."""
        return self.horizon

    @property
    def name(self) -> str:
        stem = self.map
        if stem.endswith(".json"):
            stem = stem.replace("\\", "/").rsplit("/", 1)[-1][: -len(".json")]
        parts = ["drone", stem]
        if self.horizon != DEFAULT_HORIZON:
            parts.append(f"h{self.horizon}")
        tags = {"noise_std": "noise", "dropout": "drop", "bias": "bias", "light": "light"}
        for field, tag in tags.items():
            v = getattr(self, field)
            if v is not None:
                parts.append(f"{tag}{v:g}")
        if self.angle_noise_deg != 2.0:
            parts.append(f"ang{self.angle_noise_deg:g}")
        if self.start_jitter != 0.1:
            parts.append(f"jit{self.start_jitter:g}")
        if self.yaw_jitter_deg != 10.0:
            parts.append(f"yawjit{self.yaw_jitter_deg:g}")
        return "-".join(parts)
