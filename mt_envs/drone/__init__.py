"""The drone navigation proxy (paper 003, section 5.2): drones fly through 2.5-D indoor maps from a
front depth camera; the score is the mean safe flight (MSF).

Public names: :class:`World` and :func:`load_map` / :func:`map_names` / :func:`register_map`
(maps), :class:`Lighting`, :class:`Camera` and :func:`cast_rays` (ray casting),
:class:`DroneTask`, :class:`DroneNavEnv` (ParallelEnv), :class:`DroneVectorEnv` (batched),
:class:`DroneConfig` and the action constants.
"""

from __future__ import annotations

from mt_envs.drone.core import (
    ACTION_TABLE,
    N_ACTIONS,
    STRAIGHT,
    DroneConfig,
    action_angles,
    reward_statistic,
)
from mt_envs.drone.env import DroneNavEnv
from mt_envs.drone.raycast import Camera, MapGeometry, cast_rays
from mt_envs.drone.task import DroneTask
from mt_envs.drone.vector import DroneVectorEnv
from mt_envs.drone.world import Lighting, World, load_map, map_names, register_map

__all__ = [
    "ACTION_TABLE",
    "N_ACTIONS",
    "STRAIGHT",
    "Camera",
    "DroneConfig",
    "DroneNavEnv",
    "DroneTask",
    "DroneVectorEnv",
    "Lighting",
    "MapGeometry",
    "World",
    "action_angles",
    "cast_rays",
    "load_map",
    "map_names",
    "register_map",
    "reward_statistic",
]
