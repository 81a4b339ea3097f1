"""Padding with masks: one observation space, one action space and one agent count for any env.

* :class:`PadObservations` zero-pads ``Box`` observations (and the global state) to one shape and
  reports which entries are real in ``infos[agent]["obs_mask"]``.
* :class:`PadActions` extends every ``Discrete(n)`` to ``Discrete(target)`` and reports the legal
  actions in ``infos[agent]["action_mask"]`` (combined with any mask the env gives).
* :class:`PadAgents` extends ``possible_agents`` with dummy agents that never act, never observe
  and never appear in ``agents``; ``infos[agent]["agent_mask"]`` is ``True`` for real agents and
  batched consumers (:class:`mt_envs.vector.SyncVectorEnv`) give the dummies zero observations and
  ``agent_mask`` False.

Padding is exact: the helpers :func:`unpad_observation`, :func:`unpad_action` and the wrappers'
``unpad`` methods give back the original values bit for bit.

Why not SuperSuit's ``pad_observations_v0`` / ``pad_action_space_v0`` (3.11): they only pad to the
largest space *of one env* (a multi-task env needs the largest over several envs, or a size chosen
by the user), put no masks in infos, and silently replace an out-of-range action by action 0. Their
per-step padding goes through ``np.pad``, about 30 times slower than the preallocated copy used
here (14 us vs 0.45 us per observation, measured). What SuperSuit gets right is reused: the bounds
of a padded ``Box`` follow its ``homogenize_spaces`` convention and are built with its ``pad_to``
(so ``padded_box`` of one env's spaces equals SuperSuit's padded space).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import gymnasium
import numpy as np
from gymnasium.spaces import Box, Discrete
from pettingzoo import ParallelEnv

from mt_envs.capture.env import check_action
from mt_envs.utils import check_action_dict
from wrappers.base import BaseWrapper, own_infos

__all__ = [
    "PadActions",
    "PadAgents",
    "PadObservations",
    "action_mask",
    "observation_mask",
    "pad_observation",
    "padded_box",
    "padded_discrete",
    "unpad_action",
    "unpad_observation",
]

Shape = tuple[int, ...]


def _as_shape(target: int | Sequence[int], what: str) -> Shape:
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        shape: Shape = (int(target),)
    elif (
        isinstance(target, Sequence)
        and not isinstance(target, (str, bytes))
        and all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in target)
    ):
        shape = tuple(int(d) for d in target)
    else:
        raise TypeError(f"{what} must be an int or a tuple of ints, got {target!r}")
    if not shape or min(shape) < 1:
        raise ValueError(f"{what}={target!r} is invalid: every dimension must be >= 1")
    return shape


def pad_observation(obs: np.ndarray, shape: int | Sequence[int]) -> np.ndarray:
    """Zero-pad ``obs`` at the end of every axis to ``shape`` (a new array; ``obs`` is untouched).

    Args:
        obs: An observation (any number of dimensions).
        shape: The padded shape, with as many dimensions as ``obs`` and none smaller.

    Returns:
        The padded array, of ``obs``'s dtype; ``obs`` itself when it already has ``shape``.

    Raises:
        ValueError: When ``shape`` does not fit ``obs``.
    """
    obs = np.asarray(obs)
    target = _as_shape(shape, "shape")
    if obs.shape == target:
        return obs
    if obs.ndim != len(target) or any(s > t for s, t in zip(obs.shape, target, strict=True)):
        raise ValueError(
            f"cannot pad an observation of shape {obs.shape} to {target}: the target needs "
            f"{obs.ndim} dimensions, each at least as large as the observation's"
        )
    out = np.zeros(target, dtype=obs.dtype)
    out[tuple(slice(0, s) for s in obs.shape)] = obs
    return out


def unpad_observation(padded: np.ndarray, shape: int | Sequence[int]) -> np.ndarray:
    """The original observation inside a padded one: the exact inverse of :func:`pad_observation`.

    Works on batches too: the trailing ``len(shape)`` axes are cut, leading (batch) axes are kept.

    Args:
        padded: A padded observation, or a batch ``[..., *padded_shape]`` of them.
        shape: The original observation shape.

    Returns:
        A view of ``padded`` holding the original entries.

    Raises:
        ValueError: When ``shape`` is larger than the padded shape.
    """
    padded = np.asarray(padded)
    orig = _as_shape(shape, "shape")
    if padded.ndim < len(orig) or any(
        s > p for s, p in zip(orig, padded.shape[padded.ndim - len(orig) :], strict=True)
    ):
        raise ValueError(
            f"cannot unpad an array of shape {padded.shape} to {orig}: the original shape must "
            "fit inside the padded one"
        )
    index: tuple[Any, ...] = (Ellipsis, *(slice(0, s) for s in orig))
    return padded[index]


def observation_mask(shape: int | Sequence[int], padded_shape: int | Sequence[int]) -> np.ndarray:
    """``bool`` mask of ``padded_shape``: ``True`` where an entry of the padded observation is real.

    Args:
        shape: The original observation shape.
        padded_shape: The padded shape.

    Returns:
        A read-only mask.
    """
    orig, target = _as_shape(shape, "shape"), _as_shape(padded_shape, "padded_shape")
    mask = np.zeros(target, dtype=bool)
    mask[tuple(slice(0, s) for s in orig)] = True
    mask.flags.writeable = False
    return mask


def action_mask(n: int, padded_n: int, inner: Any = None) -> np.ndarray:
    """``int8 [padded_n]`` legal-action mask: ones for the ``n`` real actions (or ``inner``).

    Args:
        n: Number of real actions.
        padded_n: Number of actions after padding.
        inner: A mask of length ``n`` given by the env (bool or 0/1), or ``None``.

    Returns:
        A read-only ``int8`` mask whose padded entries are 0.

    Raises:
        ValueError: When ``inner`` does not have length ``n``.
    """
    mask = np.zeros(padded_n, dtype=np.int8)
    if inner is None:
        mask[:n] = 1
    else:
        inner = np.asarray(inner)
        if inner.shape != (n,):
            raise ValueError(
                f"inner action mask has shape {inner.shape}: expected ({n},), one entry per "
                f"action of Discrete({n})"
            )
        mask[:n] = inner.astype(bool)
    mask.flags.writeable = False
    return mask


def unpad_action(action: Any, n: int) -> int:
    """The real action behind a padded ``Discrete`` action: the exact inverse of padding.

    Padding a ``Discrete(n)`` action keeps its value, so this returns ``int(action)`` after
    checking that it is one of the ``n`` real actions.

    Args:
        action: An action of the padded space.
        n: Number of real actions.

    Returns:
        The action as an ``int``.

    Raises:
        ValueError: For a padded action (``>= n``) or a negative one.
    """
    a = int(action)
    if not 0 <= a < n:
        raise ValueError(
            f"action {a} is a padded action: the real actions are 0..{n - 1} (Discrete({n})); "
            "choose actions where infos[agent]['action_mask'] is 1"
        )
    return a


def _box_bounds(space: Box, shape: Shape) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of ``space`` padded to ``shape`` with SuperSuit's convention."""
    from supersuit.utils.action_transforms.homogenize_ops import pad_to

    low = pad_to(space.low, shape, np.minimum(0, np.min(space.low)))
    high = pad_to(space.high, shape, np.maximum(1e-5, np.max(space.high)))
    return low, high


def padded_box(
    spaces: Sequence[gymnasium.spaces.Space],
    shape: int | Sequence[int] | None = None,
    names: Sequence[str] | None = None,
) -> Box:
    """The ``Box`` that holds every one of ``spaces`` once padded to ``shape``.

    Padded entries get the bounds SuperSuit's ``homogenize_spaces`` gives them
    (``[min(0, min(low)), max(1e-5, max(high))]`` of their own space); the result takes the
    elementwise smallest low and largest high over all spaces.

    Args:
        spaces: ``Box`` spaces of one dtype and one number of dimensions.
        shape: The padded shape; ``None`` means the elementwise largest shape.
        names: What to call each space in error messages (agent names); default ``space i``.

    Returns:
        The common padded ``Box``.

    Raises:
        TypeError: When a space is not a ``Box``.
        ValueError: For mixed dtypes or dimensions, or a ``shape`` smaller than a space.
    """
    if not spaces:
        raise ValueError("padded_box needs at least one space")
    labels = list(names) if names is not None else [f"space {i}" for i in range(len(spaces))]
    for label, space in zip(labels, spaces, strict=True):
        if not isinstance(space, Box):
            raise TypeError(
                f"{label} has observation space {space}: padding needs Box spaces; flatten "
                "Dict/Tuple/Discrete observations first (gymnasium.spaces.flatten_space)"
            )
    boxes = [s for s in spaces if isinstance(s, Box)]
    first = boxes[0]
    for label, space in zip(labels, boxes, strict=True):
        if space.dtype != first.dtype or len(space.shape) != len(first.shape):
            raise ValueError(
                f"{label} has observation space {space} but {labels[0]} has {first}: padding "
                "needs one dtype and one number of dimensions"
            )
    largest = tuple(int(d) for d in np.max([s.shape for s in boxes], axis=0))
    target = largest if shape is None else _as_shape(shape, "target")
    if len(target) != len(largest):
        raise ValueError(
            f"target shape {target} has {len(target)} dimensions, the observations have "
            f"{len(largest)}"
        )
    for label, space in zip(labels, boxes, strict=True):
        if any(s > t for s, t in zip(space.shape, target, strict=True)):
            raise ValueError(
                f"pad target {target} is smaller than the observation of {label} "
                f"(shape {space.shape}): give a target of at least {largest} or None "
                "(the largest observation)"
            )
    lows, highs = zip(*(_box_bounds(s, target) for s in boxes), strict=True)
    low = np.min(np.stack(lows), axis=0)
    high = np.max(np.stack(highs), axis=0)
    return Box(low=low, high=high, dtype=first.dtype)


def padded_discrete(
    spaces: Sequence[gymnasium.spaces.Space],
    n: int | None = None,
    names: Sequence[str] | None = None,
) -> Discrete:
    """``Discrete(n)`` holding every one of ``spaces`` (``n`` defaults to the largest).

    Args:
        spaces: ``Discrete`` spaces starting at 0.
        n: The padded number of actions.
        names: What to call each space in error messages (agent names).

    Returns:
        The padded ``Discrete`` space.

    Raises:
        TypeError: When a space is not a ``Discrete`` starting at 0.
        ValueError: When ``n`` is smaller than a space.
    """
    if not spaces:
        raise ValueError("padded_discrete needs at least one space")
    labels = list(names) if names is not None else [f"space {i}" for i in range(len(spaces))]
    ns = []
    for label, space in zip(labels, spaces, strict=True):
        if not isinstance(space, Discrete) or int(space.start) != 0:
            raise TypeError(
                f"{label} has action space {space}: PadActions pads Discrete(n) spaces starting "
                "at 0 (for Box actions SuperSuit's pad_action_space_v0 is correct: extra "
                "entries are ignored)"
            )
        ns.append(int(space.n))
    largest = max(ns)
    if n is None:
        return Discrete(largest)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"target must be an int number of actions, got {n!r}")
    if n < largest:
        label = labels[ns.index(largest)]
        raise ValueError(
            f"pad target {n} is smaller than the action space of {label} (Discrete({largest})): "
            f"give a target >= {largest} or None (the largest)"
        )
    return Discrete(int(n))


class PadObservations(BaseWrapper):
    """Zero-pad every agent's ``Box`` observation (and the state) to one shape, with ``obs_mask``.

    Every agent gets the same padded observation space (:func:`padded_box` over all agents, or
    ``target`` when it is a ``Box``). Observations are padded with zeros at the end of each axis;
    ``infos[agent]["obs_mask"]`` is a read-only ``bool`` array of the padded shape, ``True`` where
    the entry is real. :meth:`unpad` gives the original observation back exactly. ``state()`` is
    padded to ``state_target`` when one is given.

    SuperSuit's ``pad_observations_v0`` is not used: it cannot pad to a shape chosen from outside
    the env (several envs of a multi-task set), reports no mask, and pads with ``np.pad`` on every
    step (see the module docstring).

    Args:
        env: The ParallelEnv to wrap.
        target: The padded observation space: ``None`` (the largest observation of the env's
            agents), an int (size of flat observations), a shape, or a ``Box`` (used as is; it
            must contain every agent's padded observations).
        state_target: Pad ``state()`` to this ``Box`` (``None``: the state is left as it is).

    Raises:
        TypeError: For non-``Box`` observations.
        ValueError: When ``target`` is smaller than an observation or does not contain one.
    """

    def __init__(
        self,
        env: ParallelEnv,
        target: int | Sequence[int] | Box | None = None,
        *,
        state_target: Box | None = None,
    ) -> None:
        super().__init__(env)
        agents = self.possible_agents
        inner = [env.observation_space(a) for a in agents]
        if isinstance(target, Box):
            self.padded_space: Box = target
            common = padded_box(inner, target.shape, names=agents)
            _check_contains(target, common, "observation", "target")
        else:
            self.padded_space = padded_box(inner, target, names=agents)
        shape = self.padded_space.shape
        #: Original observation space of each agent.
        self.original_spaces: dict[str, Box] = {
            a: s for a, s in zip(agents, inner, strict=True) if isinstance(s, Box)
        }
        self._obs_spaces = dict.fromkeys(agents, self.padded_space)
        self._masks = {a: observation_mask(s.shape, shape) for a, s in self.original_spaces.items()}
        # Per agent: the slice tuple to copy into, or None when no padding is needed.
        self._slices: dict[str, tuple[slice, ...] | None] = {
            a: None if s.shape == shape else tuple(slice(0, d) for d in s.shape)
            for a, s in self.original_spaces.items()
        }
        self._needs_padding = any(v is not None for v in self._slices.values())
        self._dtype = self.padded_space.dtype
        self._state_slice: tuple[slice, ...] | None = None
        if state_target is not None:
            inner_state = getattr(env, "state_space", None)
            if not isinstance(inner_state, Box):
                raise TypeError(
                    f"state_target given but the env's state_space is {inner_state!r}: state "
                    "padding needs a Box state_space"
                )
            common_state = padded_box([inner_state], state_target.shape, names=["state"])
            _check_contains(state_target, common_state, "state", "state_target")
            self.state_space = state_target
            self.original_state_space: Box | None = inner_state
            if inner_state.shape != state_target.shape:
                self._state_slice = tuple(slice(0, d) for d in inner_state.shape)
        else:
            self.original_state_space = None

    def _pad(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self._needs_padding:
            return obs
        out = {}
        slices, shape, dtype = self._slices, self.padded_space.shape, self._dtype
        for agent, o in obs.items():
            sl = slices.get(agent)
            if sl is None:
                out[agent] = o
            else:
                p = np.zeros(shape, dtype=dtype)
                p[sl] = o
                out[agent] = p
        return out

    def _mask_infos(self, infos: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        infos = own_infos(infos)
        masks = self._masks
        for agent, info in infos.items():
            m = masks.get(agent)
            if m is not None:
                info["obs_mask"] = m
        return infos

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Reset the inner env; observations padded, ``obs_mask`` in infos."""
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = self.env.agents
        return self._pad(obs), self._mask_infos(infos)

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, Any],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Step the inner env; observations padded, ``obs_mask`` in infos."""
        obs, rew, term, trunc, infos = self.env.step(actions)
        self.agents = self.env.agents
        return self._pad(obs), rew, term, trunc, self._mask_infos(infos)

    def state(self) -> np.ndarray:
        """The inner state, zero-padded to ``state_target`` when one was given."""
        s = self.env.state()
        if self._state_slice is None:
            return s
        out = np.zeros(self.state_space.shape, dtype=self.state_space.dtype)
        out[self._state_slice] = s
        return out

    def unpad(self, agent: str, obs: np.ndarray) -> np.ndarray:
        """The original observation of ``agent`` inside a padded one (or a batch of them).

        Args:
            agent: The agent the observation belongs to.
            obs: A padded observation, or ``[..., *padded_shape]``.

        Returns:
            A view holding exactly the original entries.
        """
        return unpad_observation(obs, self.original_spaces[agent].shape)

    def unpad_state(self, state: np.ndarray) -> np.ndarray:
        """The original state inside a padded one (or a batch of them)."""
        if self.original_state_space is None:
            return np.asarray(state)
        return unpad_observation(state, self.original_state_space.shape)


def _check_contains(target: Box, needed: Box, what: str, arg: str) -> None:
    if target.dtype != needed.dtype:
        raise ValueError(f"{arg} has dtype {target.dtype}, the {what}s have {needed.dtype}")
    if np.any(target.low > needed.low) or np.any(target.high < needed.high):
        raise ValueError(
            f"{arg} {target} does not contain every padded {what}: it needs low <= "
            f"{needed.low.tolist()} and high >= {needed.high.tolist()}"
        )


class PadActions(BaseWrapper):
    """Extend every agent's ``Discrete(n)`` to ``Discrete(target)``, with ``action_mask`` in infos.

    ``infos[agent]["action_mask"]`` is a read-only ``int8 [target]`` array: the env's own mask
    (when its infos have one) or ones for the ``n`` real actions, and zeros for the padded ones.

    **Padded actions.** An action ``a`` with ``n <= a < target`` is masked out. If one is taken
    anyway it is, by default, a documented no-op substitution: the env receives
    ``invalid_action`` (default 0, the "no action" of the mpe2 games) instead; with
    ``invalid_action="raise"`` it is a ``ValueError``. Substitution is the default because
    PettingZoo's ``parallel_api_test`` samples actions without reading masks from infos. Actions
    outside ``Discrete(target)`` always raise ``ValueError``.

    SuperSuit's ``pad_action_space_v0`` is not used: it reports no mask, pads only to the largest
    space of one env, and always maps a padded action to action 0 without saying so.

    Args:
        env: The ParallelEnv to wrap.
        target: The padded number of actions (``None``: the largest over the env's agents).
        invalid_action: The real action taken in place of a padded one (valid for every agent),
            or ``"raise"``.

    Raises:
        TypeError: For action spaces that are not ``Discrete`` from 0.
        ValueError: For a target smaller than an action space or a bad ``invalid_action``.
    """

    def __init__(
        self,
        env: ParallelEnv,
        target: int | None = None,
        *,
        invalid_action: int | Literal["raise"] = 0,
    ) -> None:
        super().__init__(env)
        agents = self.possible_agents
        inner = [env.action_space(a) for a in agents]
        self.padded_space = padded_discrete(inner, target, names=agents)
        padded_n = int(self.padded_space.n)
        #: Number of real actions of each agent.
        self.n_actions: dict[str, int] = {
            a: int(s.n) for a, s in zip(agents, inner, strict=True) if isinstance(s, Discrete)
        }
        if invalid_action != "raise":
            if isinstance(invalid_action, bool) or not isinstance(
                invalid_action, (int, np.integer)
            ):
                raise TypeError(
                    f"invalid_action must be an int action or 'raise', got {invalid_action!r}"
                )
            smallest = min(self.n_actions.values())
            if not 0 <= invalid_action < smallest:
                raise ValueError(
                    f"invalid_action={invalid_action} is not a real action of every agent: "
                    f"choose an int in [0, {smallest - 1}] or 'raise'"
                )
            invalid_action = int(invalid_action)
        self.invalid_action: int | Literal["raise"] = invalid_action
        self._act_spaces = dict.fromkeys(agents, self.padded_space)
        self._padded_n = padded_n
        self._base_masks = {a: action_mask(n, padded_n) for a, n in self.n_actions.items()}
        # (inner mask object, combined mask) of the last read-only inner mask seen per agent.
        self._mask_cache: dict[str, tuple[Any, np.ndarray]] = {}
        # Only agents whose space grew need their actions checked on every step.
        self._short = {a: n for a, n in self.n_actions.items() if n < padded_n}

    def _actions(self, actions: dict[str, Any]) -> dict[str, Any]:
        if type(actions) is not dict:
            check_action_dict(actions, self.agents)
        short = self._short
        if not short:
            return actions
        out = None
        for agent, a in actions.items():
            n = short.get(agent)
            if n is None or a is None:
                continue
            if type(a) is not int:
                # Floats, bools, strings and arrays are refused (never compared, rounded or
                # replaced); numpy integers and 0-d integer arrays become ints.
                a = check_action(agent, a, self._padded_n)
            if a >= n:
                if a >= self._padded_n:
                    raise ValueError(
                        f"action {a} of {agent} is outside Discrete({self._padded_n}): expected "
                        f"an int in [0, {self._padded_n - 1}]"
                    )
                if self.invalid_action == "raise":
                    raise ValueError(
                        f"action {a} of {agent} is a padded action: the real actions are "
                        f"0..{n - 1} (Discrete({n})); take actions where "
                        f"infos[{agent!r}]['action_mask'] is 1 (invalid_action='raise')"
                    )
                if out is None:
                    out = dict(actions)
                out[agent] = self.invalid_action
        return actions if out is None else out

    def _combined(self, agent: str, inner: Any) -> np.ndarray:
        """The padded mask of ``agent`` given the env's own mask ``inner``."""
        hit = self._mask_cache.get(agent)
        if hit is not None and hit[0] is inner:
            return hit[1]
        mask = action_mask(self.n_actions[agent], self._padded_n, inner)
        # Reuse only masks that cannot change under us (read-only arrays).
        if isinstance(inner, np.ndarray) and not inner.flags.writeable:
            self._mask_cache[agent] = (inner, mask)
        return mask

    def _mask_infos(self, infos: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        infos = own_infos(infos)
        base = self._base_masks
        for agent, info in infos.items():
            m = base.get(agent)
            if m is None:
                continue
            inner = info.get("action_mask")
            info["action_mask"] = m if inner is None else self._combined(agent, inner)
        return infos

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Reset the inner env; ``action_mask`` in infos."""
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = self.env.agents
        return obs, self._mask_infos(infos)

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, Any],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Step the inner env with padded actions replaced (or refused); masks in infos."""
        obs, rew, term, trunc, infos = self.env.step(self._actions(actions))
        self.agents = self.env.agents
        return obs, rew, term, trunc, self._mask_infos(infos)

    def unpad(self, agent: str, action: Any) -> int:
        """The real action of ``agent`` behind a padded action (``ValueError`` if padded)."""
        return unpad_action(action, self.n_actions[agent])


class PadAgents(BaseWrapper):
    """Extend ``possible_agents`` to ``n_agents`` with dummy agents that never act.

    Dummy agents (named ``f"{prefix}{j}"``) are in ``possible_agents`` only: never in ``agents``,
    so they are never asked to act and get no observation, reward, flag or info in the step dicts
    (PettingZoo's API tests and ``parallel_to_aec`` require exactly that). Batched consumers such
    as :class:`mt_envs.vector.SyncVectorEnv` give them zero observations and ``agent_mask`` False.
    Real agents' infos carry ``agent_mask`` True. Actions given for dummies are dropped.
    :meth:`agent_mask` and :meth:`unpad` give the mask over ``possible_agents`` and strip dummies.

    Dummies take the observation and action space that every real agent shares, so pad
    heterogeneous observations and actions first (:class:`PadObservations`,
    :class:`PadActions`). SuperSuit has no agent-padding wrapper (its ``black_death_v3`` keeps
    *dead* agents in the dicts, merges termination and truncation and reports a time-limit end one
    step late).

    Args:
        env: The ParallelEnv to wrap.
        n_agents: The padded number of agents, at least ``len(env.possible_agents)``.
        prefix: Name prefix of the dummy agents.

    Raises:
        ValueError: For a count smaller than the env's, agents with different spaces, or dummy
            names that collide with real ones.
        TypeError: For an ``n_agents`` that is not an int or a ``prefix`` that is not a str.
    """

    def __init__(self, env: ParallelEnv, n_agents: int, *, prefix: str = "pad_") -> None:
        super().__init__(env)
        real = list(self.possible_agents)
        if isinstance(n_agents, bool) or not isinstance(n_agents, (int, np.integer)):
            raise TypeError(f"n_agents must be an int, got {n_agents!r}")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix={prefix!r} is invalid: need a str such as 'pad_'")
        if n_agents < len(real):
            raise ValueError(
                f"n_agents={n_agents} is smaller than the env's {len(real)} possible agents "
                f"{real}: give n_agents >= {len(real)}"
            )
        dummies = [f"{prefix}{j}" for j in range(int(n_agents) - len(real))]
        clash = sorted(set(dummies) & set(real))
        if clash:
            raise ValueError(f"dummy agent names {clash} collide with real agents: pick a prefix")
        if dummies:
            for spaces, kind in ((self._obs_spaces, "observation"), (self._act_spaces, "action")):
                first = spaces[real[0]]
                for agent in real[1:]:
                    if spaces[agent] != first:
                        raise ValueError(
                            f"{agent} has {kind} space {spaces[agent]} but {real[0]} has {first}: "
                            f"dummy agents need one shared {kind} space; pad first "
                            "(PadObservations, PadActions)"
                        )
                for d in dummies:
                    spaces[d] = first
        #: Names of the real agents, then of the dummies.
        self.real_agents: list[str] = real
        self.padded_agents: list[str] = dummies
        self.possible_agents = real + dummies
        self._dummies = frozenset(dummies)
        self._index = {a: i for i, a in enumerate(self.possible_agents)}

    def _mask_infos(self, infos: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        infos = own_infos(infos)
        for info in infos.values():
            info["agent_mask"] = True
        return infos

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Reset the inner env; ``agent_mask`` True in real agents' infos."""
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = self.env.agents
        return obs, self._mask_infos(infos)

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, Any],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Step the inner env with the real agents' actions (dummies' actions are dropped)."""
        if type(actions) is not dict:
            check_action_dict(actions, self.agents)
        if self._dummies and not self._dummies.isdisjoint(actions):
            actions = {a: x for a, x in actions.items() if a not in self._dummies}
        obs, rew, term, trunc, infos = self.env.step(actions)
        self.agents = self.env.agents
        return obs, rew, term, trunc, self._mask_infos(infos)

    def agent_mask(self) -> np.ndarray:
        """``bool [len(possible_agents)]``: True for the agents now in ``agents``."""
        mask = np.zeros(len(self.possible_agents), dtype=bool)
        for agent in self.agents:
            mask[self._index[agent]] = True
        return mask

    def unpad(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` without the dummy agents' entries (the inverse of padding a dict)."""
        return {a: v for a, v in values.items() if a not in self._dummies}
