"""One mpe2 game as a ParallelEnv of its good team (the learner's agents)."""

from __future__ import annotations

import importlib
import os
from typing import Any

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv

from mt_envs.capture.env import check_action
from mt_envs.mpe.scripted import OpponentPolicy, make_opponent
from mt_envs.mpe.task import GAMES, MPETask
from mt_envs.utils import check_action_dict, check_options, check_seed

RENDER_MODES = ("human", "rgb_array")

#: The good agents of each game, in the order of ``possible_agents`` (mpe2's names and order).
GOOD_AGENTS: dict[str, tuple[str, ...]] = {
    "speaker_listener": ("speaker_0", "listener_0"),
    "push": ("agent_0",),
}
ADVERSARY = "adversary_0"

#: Attributes of mpe2's env that hold pygame objects (not picklable; rebuilt on unpickling).
_PYGAME_ATTRS = ("screen", "game_font", "clock", "viewer")

_INSTALL_HINT = 'the MPE group needs mpe2: pip install "mt-envs[mpe]"'


def load_mpe2_module(env_name: str) -> Any:
    """Import ``mpe2.<env_name>`` (for example ``simple_push_v3``).

    Args:
        env_name: An mpe2 module name.

    Returns:
        The module.

    Raises:
        ImportError: mpe2 is not installed; the message says how to install it.
    """
    try:
        return importlib.import_module(f"mpe2.{env_name}")
    except ImportError as err:
        raise ImportError(f"{_INSTALL_HINT} (importing mpe2.{env_name} failed: {err})") from err


def good_agent_names(task: MPETask) -> tuple[str, ...]:
    """The good agents of ``task``'s game, in ``possible_agents`` order.

    ``speaker_listener``: ``speaker_0, listener_0``; ``push``: ``agent_0``; ``adversary``:
    ``agent_0 .. agent_{n_good-1}``.
    """
    if task.game in GOOD_AGENTS:
        return GOOD_AGENTS[task.game]
    return tuple(f"agent_{i}" for i in range(task.good_count))


class GoodTeamEnv(ParallelEnv):
    """One mpe2 game in which the learner controls only the good agents (paper 001's MPE group).

    ==================  ==========================================================================
    game                good agents (``possible_agents``), spaces
    ==================  ==========================================================================
    speaker_listener    ``speaker_0`` (obs 3: goal colour; ``Discrete(3)``: say 0..2) and
                        ``listener_0`` (obs 11: velocity, 3 landmark offsets, speaker's message;
                        ``Discrete(5)``: no-op, -x, +x, -y, +y). No adversary.
    push                ``agent_0`` (obs 19; ``Discrete(5)``) against ``adversary_0``.
    adversary           ``agent_0 .. agent_{n-1}`` (obs ``4 n + 2``, 10 for ``n = 2``;
                        ``Discrete(5)``) against ``adversary_0``.
    ==================  ==========================================================================

    Observations, rewards and dynamics are mpe2's, unchanged (see the mpe2 docs of
    ``simple_speaker_listener_v4``, ``simple_push_v3`` and ``simple_adversary_v3``). The adversary
    of ``push`` and ``adversary`` is driven by the task's opponent policy
    (:mod:`mt_envs.mpe.scripted`) from its own observation; its reward of the last step is kept in
    :attr:`adversary_rewards`. Every episode is truncated after ``task.max_cycles`` steps and none
    terminates (mpe2's games have no terminal state).

    ``reset(seed=s)`` seeds mpe2's world generator with ``s`` and the opponent's generator with
    a stream derived from ``s``; ``reset()`` continues both. ``state()`` is mpe2's global state
    (every agent's observation, the adversary's included). Infos hold ``action_mask`` (all ones,
    ``int8``) for every live agent.

    Args:
        task: The game, an :class:`MPETask` or a game name (``"push"``...).
        render_mode: ``None``, ``"rgb_array"`` or ``"human"`` (drawn by mpe2 with pygame).

    Raises:
        ImportError: mpe2 is not installed (``pip install "mt-envs[mpe]"``).
        TypeError: ``task`` is neither an :class:`MPETask` nor a game name.
        ValueError: ``render_mode`` is not supported.
    """

    # Class-level defaults; each instance gets its own copy naming its game (see __init__).
    metadata: dict[str, Any] = {  # noqa: RUF012
        "name": "mpe_good_team_v0",
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
        "render_fps": 10,
    }

    def __init__(self, task: MPETask | str, render_mode: str | None = None) -> None:
        if isinstance(task, str):
            task = MPETask(task)
        if not isinstance(task, MPETask):
            raise TypeError(
                f"GoodTeamEnv needs an MPETask or a game name {list(GAMES)}, got {task!r}"
            )
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode={render_mode!r} is invalid: use None or {RENDER_MODES}")
        self.task = task
        self.render_mode = render_mode
        # An own dict per instance: mpe2 envs share (and overwrite) one class-level metadata dict.
        self.metadata = {**type(self).metadata, "name": f"mpe_{task.game}_good_team_v0"}
        self._raw = self._build_raw()
        raw = self._raw
        self._order: tuple[str, ...] = tuple(raw.possible_agents)
        self.possible_agents: list[str] = list(good_agent_names(task))
        missing = [a for a in self.possible_agents if a not in self._order]
        if missing:  # pragma: no cover - guards against an mpe2 renaming
            raise RuntimeError(f"mpe2 {task.env_name} lacks agents {missing}: {self._order}")
        self.agents: list[str] = []
        self._adversary = ADVERSARY if task.has_adversary else None
        self.observation_spaces = {
            a: gymnasium.spaces.Box(-np.inf, np.inf, raw.observation_space(a).shape, np.float32)
            for a in self.possible_agents
        }
        self.action_spaces = {
            a: gymnasium.spaces.Discrete(int(raw.action_space(a).n)) for a in self.possible_agents
        }
        self.state_space = gymnasium.spaces.Box(-np.inf, np.inf, raw.state_space.shape, np.float32)
        self._masks = {}
        for a in self.possible_agents:
            mask = np.ones(self.action_spaces[a].n, dtype=np.int8)
            mask.flags.writeable = False
            self._masks[a] = mask
        kind = task.opponent_policy
        self.opponent: OpponentPolicy | None = (
            make_opponent(task.game, kind, task.good_count) if kind is not None else None
        )
        self._opponent_rng = np.random.default_rng()
        self._adv_obs: np.ndarray | None = None
        #: The adversary's mpe2 reward of the last step (empty without an adversary or a step).
        self.adversary_rewards: dict[str, float] = {}
        self.num_steps = 0

    def _build_raw(self) -> Any:
        module = load_mpe2_module(self.task.env_name)
        # mpe2 renders by itself inside every AEC step in human mode; it is built without a render
        # mode and render() hands the mode over only while drawing.
        return module.raw_env(**self.task.mpe2_kwargs())

    def observation_space(self, agent: str) -> gymnasium.spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Space:
        return self.action_spaces[agent]

    # -- episode -----------------------------------------------------------------------------
    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        # options are ignored (one task per env; PettingZoo's api_test passes arbitrary ones).
        seed = check_seed(seed)
        check_options(options)
        raw = self._raw
        raw.reset(seed=seed)
        if seed is not None:
            self._opponent_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
        if self.opponent is not None:
            self.opponent.reset(self._opponent_rng)
        self.agents = list(self.possible_agents)
        self.num_steps = 0
        self.adversary_rewards = {}
        obs = self._observe()
        if self.render_mode == "human":
            self.render()
        return obs, self._infos()

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        if not self.agents:
            raise RuntimeError(
                "step() called on a finished episode (or before reset()): call reset() first"
            )
        if type(actions) is not dict:
            check_action_dict(actions, self.agents)
        acts: dict[str, int] = {}
        for agent in self.agents:
            if agent not in actions:
                raise ValueError(
                    f"missing action for live agent {agent!r}: expected one action for each of "
                    f"{self.agents}"
                )
            acts[agent] = check_action(agent, actions[agent], int(self.action_spaces[agent].n))
        if len(actions) != len(acts):
            unknown = [a for a in actions if a not in acts]
            raise ValueError(f"actions for unknown agent(s) {unknown}; agents are {self.agents}")
        if self._adversary is not None and self.opponent is not None:
            assert self._adv_obs is not None
            acts[self._adversary] = int(self.opponent(self._adv_obs))
        raw = self._raw
        for name in self._order:  # mpe2's AEC turn order; the world moves after the last one
            raw.step(acts[name])
        self.num_steps += 1
        agents = self.agents
        obs = self._observe()
        rewards = {a: float(raw.rewards[a]) for a in agents}
        terminations = {a: bool(raw.terminations[a]) for a in agents}
        truncations = {a: bool(raw.truncations[a]) and not terminations[a] for a in agents}
        if self._adversary is not None:
            self.adversary_rewards = {self._adversary: float(raw.rewards[self._adversary])}
        infos = self._infos()
        if any(terminations.values()) or any(truncations.values()):
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terminations, truncations, infos

    def _observe(self) -> dict[str, np.ndarray]:
        raw = self._raw
        if self._adversary is not None:
            self._adv_obs = raw.observe(self._adversary)
        return {a: raw.observe(a) for a in self.possible_agents}

    def _infos(self) -> dict[str, dict[str, Any]]:
        return {a: {"action_mask": self._masks[a]} for a in self.agents}

    def state(self) -> np.ndarray:
        """mpe2's global state: every agent's observation (the adversary's too), concatenated."""
        return np.asarray(self._raw.state(), dtype=np.float32)

    # -- rendering ---------------------------------------------------------------------------
    def render(self) -> np.ndarray | None:
        """The current frame (``rgb_array``: ``uint8 [700, 700, 3]``) or a window update."""
        if self.render_mode is None:
            gymnasium.logger.warn(
                "render() called with render_mode=None; build the env with render_mode="
                "'rgb_array' or 'human'"
            )
            return None
        import pygame

        try:
            frame = self._draw()
        except pygame.error:
            # Another env's close() quit pygame (mpe2's close calls pygame.quit()), which
            # invalidates this env's font and window: rebuild them and draw again.
            self._reopen_pygame()
            frame = self._draw()
        return frame if self.render_mode == "rgb_array" else None

    def _draw(self) -> np.ndarray | None:
        raw = self._raw
        raw.render_mode = self.render_mode
        try:
            return raw.render()
        finally:
            raw.render_mode = None

    def _reopen_pygame(self) -> None:
        import pygame
        import pygame.freetype
        from mpe2._mpe_utils import simple_env  # the font mpe2 draws its labels with

        raw = self._raw
        pygame.freetype.init()
        font_path = os.path.join(os.path.dirname(simple_env.__file__), "secrcode.ttf")
        raw.game_font = pygame.freetype.Font(font_path, 24)
        raw.renderOn = False
        raw.screen = pygame.Surface((raw.width, raw.height))

    def close(self) -> None:
        """Close the window of ``human`` mode (only the display: pygame stays up for other envs).

        mpe2's own ``close`` calls ``pygame.quit()``, which would break every other open mpe2 env's
        rendering, so it is not called.
        """
        raw = self._raw
        if getattr(raw, "renderOn", False):
            import pygame

            pygame.display.quit()
            raw.renderOn = False
            raw.screen = pygame.Surface((raw.width, raw.height))

    # -- pickling ----------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        raw_state = {k: v for k, v in self._raw.__dict__.items() if k not in _PYGAME_ATTRS}
        raw_state["renderOn"] = False
        state["_raw"] = raw_state
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        raw_state = state.pop("_raw")
        self.__dict__.update(state)
        self._raw = self._build_raw()
        self._raw.__dict__.update(raw_state)
