"""The named drone task sets of SPECS.md section 7 (paper 003, section 5.2)."""

from __future__ import annotations

import functools

from mt_envs import task_sets
from mt_envs.drone.task import DroneTask
from mt_envs.tasks import TaskSet

#: The four maps standing in for the paper's Env 0-3, in task-id order.
FOUR_MAPS = ("corridor", "pillars", "rooms", "zigzag")
#: Every built-in map.
ALL_MAPS = (*FOUR_MAPS, "warehouse")
ENV_ID = "drone_nav_v0"


def four_maps() -> TaskSet:
    return TaskSet(
        "drone-4maps",
        tuple(DroneTask(map=m) for m in FOUR_MAPS),
        "Corridor, pillars, rooms, zigzag: four maps with their own structure, colours and "
        "depth-sensor lighting (the paper's Env 0-3)",
    )


def five_maps() -> TaskSet:
    return TaskSet(
        "drone-5maps",
        tuple(DroneTask(map=m) for m in ALL_MAPS),
        "The four maps of drone-4maps plus the tall warehouse (shelves a drone may fly over)",
    )


def one_map(name: str) -> TaskSet:
    return TaskSet(f"drone-{name}", (DroneTask(map=name),), f"The {name} map alone")


def register_all() -> None:
    """Register the drone sets (a no-op for those already registered)."""
    have = set(task_sets.names())
    factories = {"drone-4maps": four_maps, "drone-5maps": five_maps}
    for m in ALL_MAPS:
        factories[f"drone-{m}"] = functools.partial(one_map, m)
    for name, factory in factories.items():
        if name not in have:
            task_sets.register(name, factory, ENV_ID)
