"""One multi-task ParallelEnv from task slots: :class:`MultiTaskEnv`.

A **slot** is one task of the multi-task env: an environment plus the reset options that select
the task. A native multi-task env with many tasks (``(env, {"task": i})`` for each ``i``) and
several unrelated PettingZoo envs are the same thing to :class:`MultiTaskEnv`::

    import mt_envs
    from mpe2 import simple_push_v3, simple_spread_v3
    from wrappers import AgentIndicator, MultiTaskEnv

    # one slot per task of a native multi-task env
    env = MultiTaskEnv.from_task_set("mamt_v0", "mamt-2a-3to6", seed=0)

    # unrelated envs with different spaces and agent counts: pad them into one env
    env = AgentIndicator(
        MultiTaskEnv([simple_push_v3.parallel_env, simple_spread_v3.parallel_env], pad=True)
    )

On every ``reset`` a sampler of :mod:`mt_envs.tasks` picks the slot (or ``options={"task": i}``
does), the slot's env is reset with the slot's options, and the episode is played on it. Agents are
renamed to ``agent_0 .. agent_{N-1}``; ``infos[agent]["task_id"]`` is the slot index and
``infos[agent]["task"]`` the slot's task (``task_set[task_id]``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeAlias, cast

import gymnasium
import numpy as np
from pettingzoo import AECEnv, ParallelEnv

from mt_envs.capture.env import check_action
from mt_envs.tasks import Task, TaskSampler, TaskSet, make_sampler, register_task_family, weighted
from mt_envs.utils import check_action_dict, check_options, check_seed, unknown_name_error
from wrappers.base import InfoDict, Infos, check_parallel_env
from wrappers.padding import PadActions, PadAgents, PadObservations, padded_box, padded_discrete

__all__ = ["MultiTaskEnv", "Slot", "SlotTask"]

#: Marks "no mask seen yet" (``None`` is a valid mask value: the env gives none).
_NONE = object()

EnvOrFactory: TypeAlias = ParallelEnv | Callable[[], ParallelEnv]
#: A ParallelEnv, a zero-argument factory, or ``(env_or_factory, reset_options)``.
Slot: TypeAlias = EnvOrFactory | tuple[EnvOrFactory, Mapping[str, Any] | None]


@register_task_family
@dataclasses.dataclass(frozen=True)
class SlotTask(Task):
    """The task of a slot whose env has no task model of its own (an mpe2 game, say).

    Args:
        label: The slot's name, unique within a :class:`MultiTaskEnv` (by default the env's
            ``metadata["name"]``, with the slot's reset options when it has some).
    """

    family: ClassVar[str] = "slot"
    label: str

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label:
            raise ValueError(f"SlotTask.label={self.label!r} is invalid: need a non-empty str")

    @property
    def name(self) -> str:
        """The slot's label."""
        return self.label


def _env_name(env: ParallelEnv) -> str:
    meta = getattr(env, "metadata", None) or {}
    return str(meta.get("name") or type(getattr(env, "unwrapped", env)).__name__)


def _distinct_names(envs: list[ParallelEnv], names: list[str]) -> list[str]:
    """Names of envs of different classes that read the same ``metadata["name"]`` (mpe2 envs
    built before being given share one class dict, which says the last one built) are replaced
    by the module of their class (``simple_push`` for ``mpe2.simple_push.simple_push``)."""
    classes: dict[str, set[type]] = {}
    for env, name in zip(envs, names, strict=True):
        classes.setdefault(name, set()).add(type(getattr(env, "unwrapped", env)))
    return [
        type(getattr(env, "unwrapped", env)).__module__.rsplit(".", 1)[-1]
        if len(classes[name]) > 1
        else name
        for env, name in zip(envs, names, strict=True)
    ]


class MultiTaskEnv(ParallelEnv):
    """A ParallelEnv over task slots: one slot sampled per episode, canonical agent names.

    **Slots.** Each slot is a ParallelEnv, a zero-argument factory, or a pair
    ``(env_or_factory, reset_options)``. Factories are called once, at construction (the spaces
    must be known to build this env's spaces); slots that give the same env object or the same
    factory object share one env instance, so ``[(env, {"task": 0}), (env, {"task": 1})]`` plays
    both tasks on one native multi-task env.

    **Agents.** The agents of slot ``s`` are renamed, in the order of its env's
    ``possible_agents``, to ``agent_0 .. agent_{k-1}``; :attr:`agent_maps` ``[s]`` is that mapping
    (slot env's name -> canonical name). ``possible_agents`` is ``agent_0 .. agent_{N-1}`` with
    ``N`` the largest count.

    **Spaces.** Without padding every slot must have the same agent count and, position by
    position, the same observation and action spaces (and the same ``state_space``); otherwise
    construction fails with a ``ValueError`` naming the slots, agents and spaces. With
    ``pad=True`` each slot's env is wrapped in :class:`~wrappers.padding.PadObservations` (to the
    ``Box`` holding every observation of every slot, ``state()`` likewise),
    :class:`~wrappers.padding.PadActions` (to the largest ``Discrete``) and
    :class:`~wrappers.padding.PadAgents` (to ``N`` agents), so every agent of every slot shares one
    observation space and one action space, and infos carry ``obs_mask``, ``action_mask`` and
    ``agent_mask``. The wrapped envs are kept in :attr:`padded_envs` (their ``unpad`` helpers
    invert the padding); for speed, a step applies their work in one pass over the agents
    instead of calling three wrapper layers, with identical results.

    **Tasks.** :attr:`task_set` holds one task per slot: the ``tasks`` given, else the native
    task a slot's ``{"task": ...}`` option names in its env's ``task_set``, else a
    :class:`SlotTask`. ``infos[agent]["task_id"]`` is the slot index and ``infos[agent]["task"]``
    its task (any ``task_id`` the slot's env reports is overwritten). ``reset(options={"task": t})``
    plays slot ``t`` (an index, a task of :attr:`task_set` or a task name); other option keys are
    passed to the slot's env, under the slot's own options.

    **Seeding.** The sampler has its own generator. With ``seed=None`` it is seeded from each
    ``reset(seed=...)``; with an int it is reseeded with that int on each seeded reset, so the task
    stream depends on ``seed`` alone, whatever the dynamics seeds. A seeded reset also derives one
    seed per slot env; each env is reset with its seed the first time it plays after that, and
    continues its own generator afterwards, so a seeded reset fixes the whole multi-episode
    trajectory.

    Args:
        slots: The task slots (at least one).
        sampler: How each episode's slot is chosen: ``"uniform"``, ``"round_robin"``, a
            :class:`~mt_envs.tasks.TaskSampler` (``weighted(p)``, ``fixed(i)``,
            ``curriculum(fn)``) or a sequence of probabilities (one per slot, summing to 1).
        seed: Seed of the sampler (see Seeding), an int >= 0 or ``None``.
        pad: Pad heterogeneous slots into one env (see Spaces).
        tasks: The slots' tasks: a :class:`~mt_envs.tasks.TaskSet`, a registered set name or a
            sequence of tasks, one per slot.
        name: The env's ``metadata["name"]`` and the task set's name.
        invalid_action: With ``pad=True``, what a padded action becomes (see
            :class:`~wrappers.padding.PadActions`).

    Raises:
        ValueError: For an empty slot list, slots whose spaces differ without ``pad=True``, bad
            sampler weights, ``tasks`` of the wrong length, mixed render modes, a bad ``seed`` or
            an empty ``name``.
        TypeError: For a slot that is not a ParallelEnv, a factory or a pair, a ``pad`` that is
            not a bool, or a slot's ``{"task": ...}`` option that is not a task id, task or name.
        KeyError: For unknown task or task-set names.
    """

    metadata: dict[str, Any] = {  # noqa: RUF012  (replaced per instance)
        "name": "multitask",
        "render_modes": [],
        "is_parallelizable": True,
        "render_fps": 5,
    }

    def __init__(
        self,
        slots: Sequence[Slot],
        sampler: str | TaskSampler | Sequence[float] = "uniform",
        seed: int | None = None,
        pad: bool = False,
        *,
        tasks: TaskSet | str | Sequence[Task] | None = None,
        name: str = "multitask",
        invalid_action: int | Literal["raise"] = 0,
    ) -> None:
        if isinstance(slots, (str, bytes)) or not isinstance(slots, Sequence):
            raise TypeError(
                f"slots must be a list of ParallelEnvs, factories or (env, options) pairs, got "
                f"{type(slots).__name__}"
            )
        if not slots:
            raise ValueError(
                "MultiTaskEnv needs at least one slot: give a list of ParallelEnvs, zero-argument "
                "factories or (env_or_factory, reset_options) pairs"
            )
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        ):
            raise ValueError(f"seed={seed!r} is invalid: need None or an int >= 0")
        self.sampler_seed = None if seed is None else int(seed)
        if not isinstance(pad, (bool, np.bool_)):
            raise TypeError(f"pad={pad!r} is invalid: need True or False")
        self.pad = bool(pad)
        if not isinstance(name, str) or not name:
            raise ValueError(f"name={name!r} is invalid: need a non-empty str")

        # -- build the envs, once per distinct env or factory --------------------------------
        base_envs: list[ParallelEnv] = []
        env_names: list[str] = []
        env_of: dict[int, int] = {}  # id(env or factory) -> env index
        keep: list[Any] = []  # keeps ids unique while building
        self._slot_env: list[int] = []
        #: Reset options of each slot (a copy; ``{}`` when none).
        self.slot_options: list[dict[str, Any]] = []
        for i, slot in enumerate(slots):
            target, options = self._parse_slot(i, slot)
            k = env_of.get(id(target))
            if k is None:
                env = target if isinstance(target, ParallelEnv) else target()
                check_parallel_env(env, f"slot {i}")
                k = env_of.get(id(env))
                if k is None:
                    k = len(base_envs)
                    base_envs.append(env)
                    # Read the name now: mpe2 envs share one class metadata dict that the next
                    # build overwrites.
                    env_names.append(_env_name(env))
                    env_of[id(env)] = k
                env_of[id(target)] = k
                keep.append(target)
            self._slot_env.append(k)
            self.slot_options.append(options)
        self._env_names = _distinct_names(base_envs, env_names)
        #: The env of each slot as given or built (unpadded; shared envs appear several times).
        self.slot_envs: list[ParallelEnv] = [base_envs[k] for k in self._slot_env]
        n_slots = len(self.slot_options)

        # -- tasks ----------------------------------------------------------------------------
        self.task_set = self._make_task_set(tasks, name)

        # -- spaces and per-env step plans ---------------------------------------------------
        # The envs stepped are always the base envs. With pad=True the padding wrappers are built
        # per env (they define the spaces, masks and unpad helpers: see padded_envs) and their
        # per-step work is applied here in one pass over the agents (step, _observations,
        # _infos), which costs a fraction of stepping three wrapper layers and gives identical
        # results (tests/test_wrappers_multitask.py compares the two over long trajectories).
        self._envs: list[ParallelEnv] = list(base_envs)
        #: With ``pad=True``: each slot's env wrapped in PadObservations, PadActions and
        #: PadAgents (what the slot looks like once padded; slots sharing an env share it);
        #: ``None`` without padding.
        self.padded_envs: list[PadAgents] | None = None
        self._pobs: list[PadObservations | None] = [None] * len(base_envs)
        self._pact: list[PadActions | None] = [None] * len(base_envs)
        if self.pad:
            per_env = self._padded_envs(base_envs, invalid_action)
            self.padded_envs = [per_env[k] for k in self._slot_env]
            for k, padded in enumerate(per_env):
                pact = padded.env
                assert isinstance(pact, PadActions) and isinstance(pact.env, PadObservations)
                self._pact[k], self._pobs[k] = pact, pact.env
            shown: list[ParallelEnv] = list(per_env)
        else:
            self._check_same_spaces(base_envs)
            shown = list(base_envs)
        # Only the envs whose observations or action counts actually grew need that step work.
        self._obs_pad = [p if p is not None and p._needs_padding else None for p in self._pobs]
        self._act_fix = [p if p is not None and p._short else None for p in self._pact]
        n_agents = max(len(e.possible_agents) for e in shown)
        self.possible_agents = [f"agent_{j}" for j in range(n_agents)]
        self.agents: list[str] = []
        self._maps: list[dict[str, str]] = []  # base agent -> canonical, real agents
        self._inverse: list[dict[str, str] | None] = []  # canonical -> base; None: same names
        self._dummies: list[frozenset[str]] = []  # canonical names padded in that env
        self._static: list[dict[str, dict[str, Any]]] = []  # base agent -> constant info keys
        for k, env in enumerate(base_envs):
            real = list(env.possible_agents)
            m = {a: f"agent_{j}" for j, a in enumerate(real)}
            self._maps.append(m)
            self._inverse.append(
                None if all(a == c for a, c in m.items()) else {c: a for a, c in m.items()}
            )
            self._dummies.append(frozenset(self.possible_agents[len(real) :]))
            pobs, pact = self._pobs[k], self._pact[k]
            if pobs is None or pact is None:
                self._static.append({a: {} for a in real})
            else:
                self._static.append(
                    {
                        a: {
                            "obs_mask": pobs._masks[a],
                            "action_mask": pact._base_masks[a],
                            "agent_mask": True,
                        }
                        for a in real
                    }
                )
        #: Per slot: the slot env's agent name -> canonical name (real agents only).
        self.agent_maps: list[dict[str, str]] = [dict(self._maps[k]) for k in self._slot_env]
        first, first_agents = shown[0], list(shown[0].possible_agents)
        self._obs_spaces = {
            c: first.observation_space(a)
            for c, a in zip(self.possible_agents, first_agents, strict=True)
        }
        self._act_spaces = {
            c: first.action_space(a)
            for c, a in zip(self.possible_agents, first_agents, strict=True)
        }
        self._state_envs = shown
        if all(hasattr(e, "state_space") for e in shown):
            self.state_space = first.state_space

        # -- sampler, rendering, episode state ------------------------------------------------
        if not isinstance(sampler, (str, TaskSampler)) and isinstance(sampler, Sequence):
            try:
                probs = [float(p) for p in sampler]
            except (TypeError, ValueError):
                raise ValueError(
                    f"sampler={sampler!r} is invalid: a sequence sampler is one probability "
                    f"(a number) per slot, {n_slots} in all"
                ) from None
            sampler = weighted(probs)
        self.sampler = make_sampler(sampler, n_slots, self.sampler_seed)
        self.render_mode = self._common_render_mode(base_envs)
        modes = [
            list((getattr(e, "metadata", None) or {}).get("render_modes", [])) for e in base_envs
        ]
        fps = (getattr(base_envs[0], "metadata", None) or {}).get("render_fps", 5)
        self.metadata = {
            "name": name,
            "render_modes": [m for m in modes[0] if all(m in other for other in modes[1:])],
            "is_parallelizable": True,
            "render_fps": fps,
        }
        self._pending_seeds: dict[int, int] = {}
        self.task_id = 0
        self.task: Task = self.task_set[0]
        self._k = self._slot_env[0]
        #: The env of the current episode's slot (unpadded).
        self.current_env: ParallelEnv = self._envs[self._k]
        self._consts: list[dict[str, dict[str, Any]] | None] = [None] * n_slots
        self._const: dict[str, dict[str, Any]] = {}
        self._seen_masks: dict[str, Any] = {}
        self._pass_infos = False
        self._fresh = False
        self._inv: dict[str, str] | None = None
        self._dummy: frozenset[str] = frozenset()
        self._fix: PadActions | None = None
        self._opad: PadObservations | None = None
        self._mpad: PadActions | None = None
        self._rename: Callable[[str, str], str] | None = None
        self._limits: dict[str, tuple[int, int]] = {}
        self._limits_of: dict[int, dict[str, tuple[int, int]]] = {}

    # -- construction helpers ------------------------------------------------------------------
    @staticmethod
    def _parse_slot(i: int, slot: Any) -> tuple[Any, dict[str, Any]]:
        if isinstance(slot, AECEnv):
            check_parallel_env(slot, f"slot {i}")  # raises, naming the conversion to use
        if isinstance(slot, ParallelEnv):
            return slot, {}
        if isinstance(slot, tuple):
            if len(slot) != 2:
                raise ValueError(
                    f"slot {i} is a tuple of {len(slot)} items: a slot pair is "
                    "(env_or_factory, reset_options)"
                )
            target, options = slot
            if options is not None and not isinstance(options, Mapping):
                raise TypeError(
                    f"slot {i}: reset options must be a dict or None, got {type(options).__name__}"
                )
            if isinstance(target, AECEnv):
                check_parallel_env(target, f"slot {i}")
            if not isinstance(target, ParallelEnv) and not callable(target):
                raise TypeError(
                    f"slot {i}: {type(target).__name__} is neither a ParallelEnv nor a "
                    "zero-argument factory"
                )
            return target, dict(options or {})
        if callable(slot):
            return slot, {}
        raise TypeError(
            f"slot {i} is a {type(slot).__name__}: give a ParallelEnv, a zero-argument factory "
            "or a pair (env_or_factory, reset_options)"
        )

    def _slot_label(self, i: int) -> str:
        label = self._env_names[self._slot_env[i]]
        options = self.slot_options[i]
        if options:
            label += "[" + ",".join(f"{k}={v}" for k, v in options.items()) + "]"
        return label

    def _make_task_set(self, tasks: TaskSet | str | Sequence[Task] | None, name: str) -> TaskSet:
        n = len(self.slot_options)
        if tasks is not None:
            task_set = TaskSet.coerce(tasks)
            if len(task_set) != n:
                raise ValueError(
                    f"tasks has {len(task_set)} tasks for {n} slots: give one task per slot"
                )
            return task_set
        out: list[Task] = []
        labels: list[str] = []
        for i in range(n):
            native = self._native_task(i)
            if native is not None:
                out.append(native)
            else:
                labels.append(self._slot_label(i))
                out.append(SlotTask("?"))  # placeholder, replaced below
        # Slot labels must be unique: reset(options={"task": task}) finds a slot by equality.
        seen: dict[str, int] = {}
        counts = {lb: labels.count(lb) for lb in labels}
        it = iter(labels)
        for i, t in enumerate(out):
            if isinstance(t, SlotTask):
                lb = next(it)
                if counts[lb] > 1:
                    seen[lb] = seen.get(lb, 0) + 1
                    lb = f"{lb}#{seen[lb] - 1}"
                out[i] = SlotTask(lb)
        return TaskSet(name=name, tasks=tuple(out))

    def _native_task(self, i: int) -> Task | None:
        """The task a slot's ``{"task": ...}`` option names in its env's task set, if any."""
        options = self.slot_options[i]
        spec = options.get("task")
        task_set = getattr(getattr(self.slot_envs[i], "unwrapped", None), "task_set", None)
        if spec is None or not isinstance(task_set, TaskSet):
            return None
        if isinstance(spec, str):
            if spec not in task_set.names:
                raise unknown_name_error(f"task of slot {i}", spec, task_set.names)
            idx = task_set.names.index(spec)
            options["task"] = idx  # envs take ids or tasks, not names
            return task_set[idx]
        if isinstance(spec, Task):
            task_set.index(spec)  # ValueError naming the set when the task is not in it
            return spec
        if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
            if not 0 <= int(spec) < len(task_set):
                raise ValueError(
                    f"slot {i}: task id {spec} is out of range for task set {task_set.name!r}: "
                    f"valid ids are 0..{len(task_set) - 1}"
                )
            return task_set[int(spec)]
        raise TypeError(
            f"slot {i}: options['task']={spec!r} is invalid: give a task id (int), a task of "
            f"{task_set.name!r} or a task name"
        )

    def _slots_of(self, k: int) -> str:
        slots = [i for i, e in enumerate(self._slot_env) if e == k]
        head = ", ".join(str(i) for i in slots[:3]) + (", ..." if len(slots) > 3 else "")
        return f"slot{'s' if len(slots) > 1 else ''} {head} ({self._env_names[k]})"

    def _check_same_spaces(self, envs: list[ParallelEnv]) -> None:
        ref, ref_agents = envs[0], list(envs[0].possible_agents)
        for k, env in enumerate(envs[1:], start=1):
            agents = list(env.possible_agents)
            if len(agents) != len(ref_agents):
                raise ValueError(
                    f"{self._slots_of(k)} has {len(agents)} agents {agents} but "
                    f"{self._slots_of(0)} has {len(ref_agents)} {ref_agents}: slots need the "
                    "same agents and spaces; pass pad=True to pad them into one env"
                )
            for j, (a, r) in enumerate(zip(agents, ref_agents, strict=True)):
                for kind, get in (
                    ("observation", "observation_space"),
                    ("action", "action_space"),
                ):
                    sa, sr = getattr(env, get)(a), getattr(ref, get)(r)
                    if sa != sr:
                        raise ValueError(
                            f"{self._slots_of(k)}, agent {a!r} (agent_{j}), has {kind} space "
                            f"{sa} but {self._slots_of(0)}, agent {r!r} (agent_{j}), has {sr}: "
                            "slots need the same spaces; pass pad=True to pad them into one env"
                        )
            if (
                hasattr(env, "state_space")
                and hasattr(ref, "state_space")
                and env.state_space != ref.state_space
            ):
                raise ValueError(
                    f"{self._slots_of(k)} has state_space {env.state_space} but "
                    f"{self._slots_of(0)} has {ref.state_space}: pass pad=True to pad them"
                )

    def _padded_envs(
        self, envs: list[ParallelEnv], invalid_action: int | Literal["raise"]
    ) -> list[PadAgents]:
        names, obs_spaces, act_spaces = [], [], []
        for k, env in enumerate(envs):
            for a in env.possible_agents:
                names.append(f"{self._slots_of(k)}, agent {a!r},")
                obs_spaces.append(env.observation_space(a))
                act_spaces.append(env.action_space(a))
        obs_box = padded_box(obs_spaces, names=names)
        act = padded_discrete(act_spaces, names=names)
        n_agents = max(len(e.possible_agents) for e in envs)
        state_box = None
        if all(hasattr(e, "state_space") for e in envs):
            state_box = padded_box(
                [e.state_space for e in envs],
                names=[f"{self._slots_of(k)} state" for k in range(len(envs))],
            )
        out: list[PadAgents] = []
        for env in envs:
            padded = PadObservations(env, obs_box, state_target=state_box)
            padded_act = PadActions(padded, int(act.n), invalid_action=invalid_action)
            out.append(PadAgents(padded_act, n_agents))
        return out

    @staticmethod
    def _common_render_mode(envs: list[ParallelEnv]) -> str | None:
        modes = [getattr(e, "render_mode", None) for e in envs]
        if len(set(modes)) > 1:
            raise ValueError(
                f"the slots' envs have different render modes {modes}: build them all with the "
                "same render_mode"
            )
        return modes[0]

    @classmethod
    def from_task_set(
        cls,
        env_id: str,
        tasks: TaskSet | str | Sequence[Task] | None = None,
        sampler: str | TaskSampler | Sequence[float] = "uniform",
        seed: int | None = None,
        pad: bool = False,
        *,
        invalid_action: int | Literal["raise"] = 0,
        **env_kwargs: Any,
    ) -> MultiTaskEnv:
        """One slot per task of a native multi-task env (all slots share one env instance).

        Args:
            env_id: A registered mt-envs id such as ``"mamt_v0"``.
            tasks: Task set, registered set name or tasks (``None``: the env's default set).
            sampler: See :class:`MultiTaskEnv`.
            seed: See :class:`MultiTaskEnv`.
            pad: See :class:`MultiTaskEnv`.
            invalid_action: See :class:`MultiTaskEnv`.
            **env_kwargs: Passed to :func:`mt_envs.make` (``render_mode``, ``obs_encoding``...).

        Returns:
            A :class:`MultiTaskEnv` whose slot ``i`` is task ``i`` of the set.

        Raises:
            KeyError: For an unknown env id or task-set name (listing close matches).
        """
        import mt_envs

        if tasks is not None:
            env_kwargs["tasks"] = tasks
        env = mt_envs.make(env_id, **env_kwargs)
        task_set: TaskSet = env.unwrapped.task_set
        slots: list[Slot] = [(env, {"task": i}) for i in range(len(task_set))]
        return cls(
            slots,
            sampler,
            seed,
            pad,
            tasks=task_set,
            name=task_set.name,
            invalid_action=invalid_action,
        )

    # -- spaces --------------------------------------------------------------------------------
    def observation_space(self, agent: str) -> gymnasium.spaces.Space:
        """The (cached) observation space of canonical agent ``agent``."""
        try:
            return self._obs_spaces[agent]
        except KeyError:
            raise unknown_name_error("agent", agent, self.possible_agents) from None

    def action_space(self, agent: str) -> gymnasium.spaces.Space:
        """The (cached) action space of canonical agent ``agent``."""
        try:
            return self._act_spaces[agent]
        except KeyError:
            raise unknown_name_error("agent", agent, self.possible_agents) from None

    # -- episode ---------------------------------------------------------------------------------
    def _slot_from_options(self, options: Mapping[str, Any] | None) -> int:
        spec = None if not options else options.get("task")
        if spec is None:
            return int(self.sampler.sample(1)[0])
        return self.task_set.task_id(spec)

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Start an episode on a sampled (or requested) slot.

        Args:
            seed: Seeds the slot envs and, unless the sampler has its own seed, the sampler.
            options: ``{"task": t}`` plays slot ``t``; other keys go to the slot's env.

        Returns:
            Observations and infos of the canonical agents.
        """
        seed = check_seed(seed)
        check_options(options)
        if seed is not None:
            seq = np.random.SeedSequence(seed)
            task_seq, *env_seqs = seq.spawn(1 + len(self._envs))
            self.sampler.seed(task_seq if self.sampler_seed is None else self.sampler_seed)
            self._pending_seeds = {k: int(s.generate_state(1)[0]) for k, s in enumerate(env_seqs)}
        slot = self._slot_from_options(options)
        k = self._slot_env[slot]
        env = self._envs[k]
        inner_options = self.slot_options[slot]
        if options:
            inner_options = {**{o: v for o, v in options.items() if o != "task"}, **inner_options}
        obs, infos = env.reset(seed=self._pending_seeds.pop(k, None), options=inner_options or None)
        self.task_id, self.task, self._k, self.current_env = slot, self.task_set[slot], k, env
        const = self._consts[slot]
        if const is None:
            const = {
                a: {**static, "task_id": slot, "task": self.task}
                for a, static in self._static[k].items()
            }
            self._consts[slot] = const
        self._const = const
        self._seen_masks = {}
        # This episode's step plan (read once per step instead of indexing per-env lists).
        inv = self._inverse[k]
        self._inv, self._dummy, self._fix = inv, self._dummies[k], self._act_fix[k]
        self._opad, self._mpad = self._obs_pad[k], self._pact[k]
        self._rename = None if inv is None else self._maps[k].get
        self._limits = {} if inv is None else self._action_limits(k)
        task = self.task
        # An env whose class declares ``fresh_infos`` builds new per-agent info dicts at every
        # reset and step and never touches them again, so they are edited in place instead of
        # copied (read on the class: PettingZoo wrappers forward instance attribute lookups to
        # the env they wrap, and a wrapper in between may hand out shared dicts).
        self._fresh = bool(getattr(type(env), "fresh_infos", False))
        # A native env that already reports this slot's id and task needs no info edit.
        self._pass_infos = (
            not self.pad
            and inv is None
            and bool(infos)
            and all(i.get("task_id") == slot and i.get("task") == task for i in infos.values())
        )
        return self._observations(obs), self._infos(infos)

    def _action_limits(self, k: int) -> dict[str, tuple[int, int]]:
        """Canonical agent -> (actions of its Discrete space, actions that may be taken) for
        env ``k`` (fewer when padded actions are refused); agents without a Discrete space from 0
        are left to their env."""
        limits = self._limits_of.get(k)
        if limits is None:
            limits = {}
            env, pact = self._envs[k], self._pact[k]
            for base, canonical in self._maps[k].items():
                space = env.action_space(base)
                if not isinstance(space, gymnasium.spaces.Discrete) or int(space.start) != 0:
                    continue
                n = int(space.n) if pact is None else int(pact.padded_space.n)
                raises = pact is not None and pact.invalid_action == "raise"
                limits[canonical] = (n, int(space.n) if raises else n)
            self._limits_of[k] = limits
        return limits

    def _check_action(self, agent: str, action: Any, n: int, usable: int) -> None:
        """Raise ``ValueError`` naming canonical ``agent`` unless ``action`` is an action of
        ``Discrete(n)`` below ``usable``."""
        a = check_action(agent, action, n)
        if a >= usable:
            raise ValueError(
                f"action {a} of {agent} is a padded action: the real actions are "
                f"0..{usable - 1} in task {self.task_id} ({self.task.name}); take actions where "
                f"infos[{agent!r}]['action_mask'] is 1 (invalid_action='raise')"
            )

    def _observations(self, obs: dict[str, Any]) -> dict[str, Any]:
        """Pad and rename observations; refresh ``agents``."""
        if self._opad is not None:
            obs = self._opad._pad(obs)
        get = self._rename
        if get is None:
            self.agents = self.current_env.agents
            return obs
        self.agents = [get(a, a) for a in self.current_env.agents]
        return {get(a, a): o for a, o in obs.items()}

    def _infos(self, infos: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """Infos of the canonical agents: task id and task, masks with ``pad=True``."""
        if self._pass_infos:
            return infos  # type: ignore[return-value]
        const, get = self._const, self._rename
        check_masks = self._mpad is not None
        seen = self._seen_masks
        fresh = self._fresh
        out = Infos()
        for a, info in infos.items():
            c = const.get(a)
            if c is None:
                d = cast("dict[str, Any]", info) if fresh else InfoDict(info)
            else:
                # The agent's constant keys hold the action mask padded from the env's mask
                # last seen; a different (or writable, so possibly edited) mask is padded again.
                if check_masks and info.get("action_mask") is not seen.get(a, _NONE):
                    c = self._repad_mask(a, info.get("action_mask"))
                if fresh:
                    d = cast("dict[str, Any]", info)
                    d.update(c)
                else:
                    d = InfoDict(info, **c)
            out[a if get is None else get(a, a)] = d
        return out

    def _repad_mask(self, agent: str, inner: Any) -> dict[str, Any]:
        """Refresh ``agent``'s constant info keys for the env's action mask ``inner``."""
        pact = self._mpad
        assert pact is not None
        mask = pact._base_masks[agent] if inner is None else pact._combined(agent, inner)
        c = {**self._const[agent], "action_mask": mask}
        if self._const is self._consts[self.task_id]:
            self._const = dict(self._const)  # this episode's copy; the slot's stays as built
        self._const[agent] = c
        read_only = inner is None or (isinstance(inner, np.ndarray) and not inner.flags.writeable)
        self._seen_masks[agent] = inner if read_only else _NONE
        return c

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, Any],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Step the current slot's env with canonical-agent actions.

        Actions for agents padded in this slot are dropped; with ``pad=True`` a padded action
        becomes ``invalid_action`` (see :class:`~wrappers.padding.PadActions`).
        """
        if not self.agents:
            raise RuntimeError(
                "step() called on a finished episode (or before reset()): call reset() first"
            )
        if type(actions) is not dict:
            check_action_dict(actions, self.agents)
        inv, dummies = self._inv, self._dummy
        if inv is not None:
            try:
                mapped = {inv[a]: x for a, x in actions.items() if a not in dummies}
            except KeyError:
                unknown = [a for a in actions if a not in inv and a not in dummies]
                raise ValueError(
                    f"actions for unknown agent(s) {unknown}; agents are {self.agents}"
                ) from None
            # Renamed agents: check the actions here, so that errors name the canonical agents
            # the caller used (the slot env would name its own).
            limits = self._limits
            for a in self.agents:
                if a not in actions:
                    raise ValueError(
                        f"missing action for live agent {a!r}: expected one action for each of "
                        f"{self.agents}"
                    )
                lim = limits.get(a)
                if lim is not None:
                    x = actions[a]
                    if type(x) is not int or not 0 <= x < lim[1]:
                        self._check_action(a, x, *lim)
            actions = mapped
        elif dummies and not dummies.isdisjoint(actions):
            actions = {a: x for a, x in actions.items() if a not in dummies}
        if self._fix is not None:
            actions = self._fix._actions(actions)
        env = self.current_env
        obs, rew, term, trunc, infos = env.step(actions)
        if self._opad is not None:
            obs = self._opad._pad(obs)
        infos = self._infos(infos)
        get = self._rename
        if get is None:
            self.agents = env.agents
            return obs, rew, term, trunc, infos
        self.agents = [get(a, a) for a in env.agents]
        return (
            {get(a, a): o for a, o in obs.items()},
            {get(a, a): v for a, v in rew.items()},
            {get(a, a): v for a, v in term.items()},
            {get(a, a): v for a, v in trunc.items()},
            infos,
        )

    def state(self) -> np.ndarray:
        """The global state of the current slot's env (padded with ``pad=True``)."""
        if not hasattr(self, "state_space"):
            lacking = [
                self._env_names[k]
                for k, e in enumerate(self._envs)
                if not hasattr(e, "state_space")
            ]
            raise NotImplementedError(
                f"state() needs every slot's env to have state()/state_space; {lacking} lack it"
            )
        return self._state_envs[self._k].state()

    def unpad_observation(
        self, obs: np.ndarray, agent: str, task_id: int | None = None
    ) -> np.ndarray:
        """The observation ``agent`` had in its slot's env before padding (exact; a view).

        Args:
            obs: An observation of ``agent`` (or a batch ``[..., D]`` of them).
            agent: A canonical agent name.
            task_id: The slot the observation comes from (default: the current episode's).

        Returns:
            ``obs`` itself without ``pad=True``, else its real entries.
        """
        k = self._slot_env[self.task_id if task_id is None else task_id]
        pobs = self._pobs[k]
        if pobs is None:
            return np.asarray(obs)
        return pobs.unpad(self._base_agent(k, agent), obs)

    def unpad_action(self, action: Any, agent: str, task_id: int | None = None) -> int:
        """The action of ``agent``'s slot env behind a padded action (``ValueError`` for a
        padded one; see :meth:`unpad_observation` for the arguments)."""
        k = self._slot_env[self.task_id if task_id is None else task_id]
        pact = self._pact[k]
        if pact is None:
            return int(action)
        return pact.unpad(self._base_agent(k, agent), action)

    def _base_agent(self, k: int, agent: str) -> str:
        inv = self._inverse[k]
        base = agent if inv is None else inv.get(agent)
        if base is None or base not in self._maps[k]:
            raise ValueError(
                f"{agent!r} is not a real agent of {self._slots_of(k)}: its agents are "
                f"{list(self._maps[k].values())}"
            )
        return base

    def render(self) -> np.ndarray | str | None:
        """Render the current slot's env."""
        return self.current_env.render()

    def close(self) -> None:
        """Close every slot's env."""
        for env in self._envs:
            env.close()

    def __repr__(self) -> str:
        return (
            f"MultiTaskEnv({self.metadata['name']}, slots={len(self.task_set)}, "
            f"agents={len(self.possible_agents)}, pad={self.pad})"
        )
