"""Tasks and task sets."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np

from mt_envs.utils import unknown_name_error

_FAMILIES: dict[str, type[Task]] = {}

T = TypeVar("T", bound="Task")


def register_task_family(cls: type[T]) -> type[T]:
    """Class decorator that makes a task class loadable by :func:`task_from_dict`."""
    family = getattr(cls, "family", None)
    if not family:
        raise TypeError(f"{cls.__name__} must define a class attribute 'family'")
    _FAMILIES[family] = cls
    return cls


def task_families() -> dict[str, type[Task]]:
    """All registered task families, by family name."""
    return dict(_FAMILIES)


def _to_tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_to_tuples(v) for v in value)
    return value


def _to_lists(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_lists(v) for v in value]
    return value


class Task:
    """Base class of every task. Subclasses are frozen dataclasses of one environment family.

    Subclasses define ``family`` (a class attribute), validate their fields in ``__post_init__``
    (raising ``ValueError`` naming the field, the value and the allowed range) and a readable
    :attr:`name`. Vary a task with :func:`dataclasses.replace`.
    """

    family: ClassVar[str] = ""

    @property
    def name(self) -> str:
        """A stable, readable name such as ``mamt-6x6-2a-pf0.3-swap``."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict holding the family and every field."""
        if not dataclasses.is_dataclass(self):
            raise TypeError(f"{type(self).__name__} must be a dataclass")
        out: dict[str, Any] = {"family": self.family}
        for f in dataclasses.fields(self):
            out[f.name] = _to_lists(getattr(self, f.name))
        return out

    def to_json(self) -> str:
        """The task as a JSON string."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        """Rebuild a task of this class from :meth:`to_dict` output (validation runs again).

        Raises:
            TypeError: ``data`` is not a dict, or a required field is missing.
            ValueError: ``data`` is of another family, has unknown fields or invalid values.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"a task dict must be a mapping of field names to values, got {data!r}")
        data = dict(data)
        family = data.pop("family", cls.family)
        if family != cls.family:
            raise ValueError(f"task dict of family {family!r} given to {cls.__name__}")
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        extra = sorted(set(data) - names)
        if extra:
            raise ValueError(
                f"unknown field(s) {extra} for {cls.__name__}; valid fields: {sorted(names)}"
            )
        return cls(**{k: _to_tuples(v) for k, v in data.items()})

    def __str__(self) -> str:
        return self.name


def task_from_dict(data: Mapping[str, Any]) -> Task:
    """Rebuild a task of any registered family from :meth:`Task.to_dict` output.

    Raises:
        KeyError: An unknown family (:class:`~mt_envs.utils.UnknownNameError`).
        TypeError, ValueError: See :meth:`Task.from_dict`.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"a task dict must be a mapping of field names to values, got {data!r}")
    family = data.get("family")
    if not isinstance(family, str) or family not in _FAMILIES:
        raise unknown_name_error("task family", family, _FAMILIES)
    return _FAMILIES[family].from_dict(data)


@dataclasses.dataclass(frozen=True)
class TaskSet:
    """An ordered, named, immutable collection of tasks. Index ``i`` is the task id.

    Args:
        name: The set's name (the registry key for named sets).
        tasks: The tasks, in task-id order. Families may be mixed.
        description: One line saying what the set is for.
    """

    name: str
    tasks: tuple[Task, ...]
    description: str = ""

    def __post_init__(self) -> None:
        tasks = tuple(self.tasks)
        object.__setattr__(self, "tasks", tasks)
        if not tasks:
            raise ValueError(f"task set {self.name!r} is empty: give at least one task")
        for i, t in enumerate(tasks):
            if not isinstance(t, Task):
                raise TypeError(
                    f"task set {self.name!r}: item {i} is {type(t).__name__}, not a Task"
                )

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    def __getitem__(self, i: int | np.integer) -> Task:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"task ids are ints, got {type(i).__name__}")
        i = int(i)
        if not -len(self.tasks) <= i < len(self.tasks):
            raise IndexError(
                f"task id {i} out of range for task set {self.name!r} "
                f"with {len(self.tasks)} tasks (valid: 0..{len(self.tasks) - 1})"
            )
        return self.tasks[i]

    @property
    def names(self) -> list[str]:
        """The task names, in task-id order."""
        return [t.name for t in self.tasks]

    @property
    def families(self) -> list[str]:
        """The distinct families in the set, in order of first appearance."""
        return list(dict.fromkeys(t.family for t in self.tasks))

    def index(self, task: Task) -> int:
        """The task id of ``task`` (a task equal to a member)."""
        for i, t in enumerate(self.tasks):
            if t == task:
                return i
        raise ValueError(f"task {task} is not in task set {self.name!r} ({self.names})")

    def task_id(self, spec: Any) -> int:
        """The task id named by ``spec``: an id, a task of the set, or a task name.

        What every env accepts as ``reset(options={"task": spec})``.

        Raises:
            ValueError: An id out of range, or a task that is not in the set.
            KeyError: An unknown task name (:class:`~mt_envs.utils.UnknownNameError`, listing
                the closest names).
            TypeError: Anything else.
        """
        n = len(self.tasks)
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            if not 0 <= int(spec) < n:
                raise ValueError(f"reset task id {spec} out of range: valid ids are 0..{n - 1}")
            return int(spec)
        if isinstance(spec, Task):
            try:
                return self.index(spec)
            except ValueError:
                raise ValueError(
                    f"reset task {spec.name} is not in this env's task set {self.name!r} "
                    f"({self.names}); build the env with a task set that holds it"
                ) from None
        if isinstance(spec, str):
            names = self.names
            if spec not in names:
                raise unknown_name_error("task", spec, names)
            return names.index(spec)
        families = "/".join(dict.fromkeys(type(t).__name__ for t in self.tasks))
        raise TypeError(
            f"options['task'] must be a task id (int), a {families} of the set or a task name, "
            f"got {spec!r}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole set."""
        return {
            "name": self.name,
            "description": self.description,
            "tasks": [t.to_dict() for t in self.tasks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskSet:
        """Rebuild a set from :meth:`to_dict` output."""
        return cls(
            name=str(data["name"]),
            tasks=tuple(task_from_dict(t) for t in data["tasks"]),
            description=str(data.get("description", "")),
        )

    @classmethod
    def coerce(cls, tasks: TaskSet | str | Task | Sequence[Task]) -> TaskSet:
        """Turn what users pass as ``tasks=`` into a task set.

        Args:
            tasks: A task set, the name of a registered task set, one task, or a sequence of tasks.
        """
        if isinstance(tasks, TaskSet):
            return tasks
        if isinstance(tasks, str):
            from mt_envs import task_sets

            return task_sets.get(tasks)
        if isinstance(tasks, Task):
            return cls(name=tasks.name, tasks=(tasks,))
        if isinstance(tasks, Sequence) and tasks and all(isinstance(t, Task) for t in tasks):
            return cls(name="custom", tasks=tuple(t for t in tasks if isinstance(t, Task)))
        raise TypeError(
            "tasks must be a TaskSet, a registered task-set name, a Task or a non-empty "
            f"sequence of Tasks; got {tasks!r}"
        )
