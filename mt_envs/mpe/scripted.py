"""Scripted adversaries of the MPE group: the fixed opponents the learned good team plays against.

The learner controls the good agents of ``simple_push_v3`` and ``simple_adversary_v3``; their
adversary follows one of the policies below (chosen by :attr:`MPETask.opponent
<mt_envs.mpe.MPETask.opponent>`). Every policy acts on the adversary's own observation only
(plus, for :class:`LandmarkGuesser`, its previous observation and action), never on hidden world
state such as which landmark is the goal.

Movement (:func:`move_towards`)
    MPE physics (mpe2 defaults: ``dt = 0.1``, damping ``0.25``, force ``5`` per move, mass 1):
    a move changes the velocity at once and the position one step later. If the agent coasted
    from the next step on, it would come to rest at ``p + 0.4 v + 0.2 u`` (``u`` the unit move).
    :func:`move_towards` picks the move whose resting point is nearest the target, so the agent
    accelerates while it would stop short and brakes before it overshoots.

``push`` (:class:`PushBlocker`, observation ``[self_vel, landmark_0, landmark_1, agent]``, all
relative to the adversary)
    The adversary is rewarded for being near the goal landmark and for the good agent being far
    from it, but does not observe which landmark is the goal. It guesses the landmark nearest
    the good agent (the good agent is rewarded for going to the goal, so a trained one gives it
    away) and moves onto it. Agents collide in this game, but softly (contact forces are weak
    next to the move force), so holding the goal costs a determined good agent little: the
    policy mostly serves its own reward. Posts off the landmark on the good agent's side and
    ramming the good agent were tried and did worse at the adversary's own objective.

``adversary`` (:class:`LandmarkGuesser`, observation ``[landmark_0..N-1, agent_0..N-1]``)
    The adversary is rewarded for being near the goal landmark, which only the good agents know.
    It guesses the landmark that some good agent is closest to (a good agent on a landmark most
    likely marks the goal) and moves onto it. Its observation has no velocity; the policy
    recovers it from the change of the landmark offsets since its previous observation (landmarks
    never move) and its previous move.

Reference good team (:func:`goal_seeking_actions`)
    Not a learner: a hand-written good team for comparisons. ``speaker_listener``: the speaker
    says the index of the goal colour, the listener moves to the landmark it is told;
    ``push``: the good agent moves to its goal; ``adversary``: every good agent moves to the goal
    (its velocity is not observed and taken as zero), which gives the goal away.

Measured returns (``max_cycles=25``; 1000 episodes with seeds 0..999; the mean with its standard
error; every good agent of a game gets the same reward, the "good" column is one agent's return).
``tests/test_mpe_group.py`` checks them on other seeds within confidence bounds.

Columns: good return and adversary return against a random good team (``rand``) and against
the goal-seeking team (``seek``).

==================  =========  =============  =============  =============  =============
game                adversary  good, rand     adv., rand     good, seek     adv., seek
==================  =========  =============  =============  =============  =============
speaker_listener    (none)     -40.92 ± 1.03  n/a            -9.12 ± 0.29   n/a
push                scripted   -28.50 ± 0.41  11.48 ± 0.38   -8.61 ± 0.16   -3.09 ± 0.20
push                random     -28.52 ± 0.41  0.72 ± 0.58    -8.59 ± 0.16   -19.24 ± 0.43
push                noop       -28.52 ± 0.41  2.68 ± 0.56    -8.59 ± 0.16   -17.31 ± 0.42
adversary           scripted   -4.39 ± 0.34   -16.88 ± 0.34  3.76 ± 0.19    -11.21 ± 0.21
adversary           random     7.47 ± 0.52    -28.75 ± 0.41  21.30 ± 0.42   -28.75 ± 0.41
adversary           noop       5.43 ± 0.50    -26.70 ± 0.39  19.25 ± 0.40   -26.70 ± 0.39
==================  =========  =============  =============  =============  =============

Reading: the scripted adversaries beat the random ones at their own objective in both games
(push: +10.8 against the random team, +16.2 against the goal-seeking one; adversary: +11.9 and
+17.5). In ``adversary`` that gain is exactly the good team's loss (no collisions there), so a
good team has to split up and cover every landmark to deceive it, as the game intends. In
``push`` the good agent's return moves by less than its standard error whatever the adversary
does: collisions are too soft to keep a good agent off the goal.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

#: Discrete MPE moves: index -> unit direction (no-op, -x, +x, -y, +y).
MOVES = np.array([[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
NOOP = 0
N_MOVES = 5
#: mpe2 world constants the controller is tuned to (``World.dt``, ``World.damping`` and the
#: default move force ``5`` of ``SimpleEnv._set_action``; agents have mass 1).
DT = 0.1
DAMPING = 0.25
FORCE = 5.0
#: Where a coasting agent comes to rest: ``p + REST_V * v + REST_U * u`` (see module docs).
REST_V = DT + DT * (1.0 - DAMPING) / DAMPING
REST_U = FORCE * DT * DT / DAMPING


def move_towards(offset: np.ndarray, velocity: np.ndarray) -> int:
    """The discrete move that brings an MPE agent to rest nearest a target.

    Args:
        offset: Target position minus the agent's position, shape ``(2,)``.
        velocity: The agent's velocity, shape ``(2,)``.

    Returns:
        A move in ``0..4`` (no-op, -x, +x, -y, +y); ties go to the lowest index, so an agent
        at rest on its target stays put.
    """
    miss = np.asarray(offset, dtype=np.float64) - REST_V * np.asarray(velocity, dtype=np.float64)
    err = miss[None, :] - REST_U * MOVES
    return int(np.argmin(np.einsum("ij,ij->i", err, err)))


class OpponentPolicy(Protocol):
    """What drives an adversary: reset at each episode start, then one move per observation."""

    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode; ``rng`` is the env's opponent generator (seeded with the env)."""

    def __call__(self, obs: np.ndarray) -> int:
        """The adversary's move (``0..4``) for its observation."""


class NoopOpponent:
    """An adversary that never moves (always the no-op, move 0)."""

    def reset(self, rng: np.random.Generator) -> None:
        """Nothing to reset."""

    def __call__(self, obs: np.ndarray) -> int:
        """Always ``0``."""
        return NOOP


class RandomOpponent:
    """An adversary taking uniform random moves from the env's opponent generator."""

    def __init__(self) -> None:
        self._rng = np.random.default_rng(0)

    def reset(self, rng: np.random.Generator) -> None:
        """Use ``rng`` (owned by the env, reseeded by ``reset(seed=...)``)."""
        self._rng = rng

    def __call__(self, obs: np.ndarray) -> int:
        """A uniform move in ``0..4``."""
        return int(self._rng.integers(N_MOVES))


class PushBlocker:
    """Scripted adversary of ``simple_push_v3`` (see the module docs).

    Observation layout (8 floats, positions relative to the adversary): ``self_vel (2)``,
    ``landmark_0 (2)``, ``landmark_1 (2)``, ``good agent (2)``.
    """

    def reset(self, rng: np.random.Generator) -> None:
        """Stateless: nothing to reset."""

    def __call__(self, obs: np.ndarray) -> int:
        """Guess the goal (the landmark nearest the good agent) and move onto it."""
        obs = np.asarray(obs, dtype=np.float64)
        if obs.shape != (8,):
            raise ValueError(
                f"PushBlocker got an observation of shape {obs.shape}: expected (8,) "
                "(simple_push_v3's adversary)"
            )
        landmarks = obs[2:6].reshape(2, 2)
        gaps = landmarks - obs[6:8][None, :]
        goal = landmarks[int(np.argmin(np.einsum("ij,ij->i", gaps, gaps)))]
        return move_towards(goal, obs[0:2])


class LandmarkGuesser:
    """Scripted adversary of ``simple_adversary_v3`` with ``n_good`` good agents (module docs).

    Observation layout (``4 n`` floats, positions relative to the adversary): ``landmark_0..n-1
    (2 each)``, ``agent_0..n-1 (2 each)``. Keeps its previous observation and move to recover its
    velocity.

    Args:
        n_good: Number of good agents (= landmarks) of the game, >= 1.
    """

    def __init__(self, n_good: int = 2) -> None:
        if n_good < 1:
            raise ValueError(f"LandmarkGuesser: n_good={n_good} is invalid: need an int >= 1")
        self.n_good = n_good
        self._prev: np.ndarray | None = None
        self._prev_move = NOOP

    def reset(self, rng: np.random.Generator) -> None:
        """Forget the previous observation (agents start at rest)."""
        self._prev = None
        self._prev_move = NOOP

    def velocity(self, landmarks: np.ndarray) -> np.ndarray:
        """The adversary's velocity now, from the landmark offsets of this and the last step."""
        if self._prev is None:
            return np.zeros(2)
        # Landmarks are fixed, so the offsets moved by minus the adversary's displacement, which
        # was its previous velocity times dt; then damping and the previous move's force apply.
        before = -(landmarks[0] - self._prev[0]) / DT
        return before * (1.0 - DAMPING) + FORCE * DT * MOVES[self._prev_move]

    def __call__(self, obs: np.ndarray) -> int:
        """Guess the goal (landmark some good agent is nearest), move onto it."""
        obs = np.asarray(obs, dtype=np.float64)
        n = self.n_good
        if obs.shape != (4 * n,):
            raise ValueError(
                f"LandmarkGuesser(n_good={n}) got an observation of shape {obs.shape}: expected "
                f"({4 * n},) (simple_adversary_v3 with N={n})"
            )
        landmarks = obs[: 2 * n].reshape(n, 2)
        agents = obs[2 * n :].reshape(n, 2)
        gaps = landmarks[:, None, :] - agents[None, :, :]
        nearest = np.einsum("lak,lak->la", gaps, gaps).min(axis=1)
        goal = landmarks[int(np.argmin(nearest))]
        move = move_towards(goal, self.velocity(landmarks))
        self._prev = landmarks.copy()
        self._prev_move = move
        return move


def make_opponent(game: str, kind: str, n_good: int = 2) -> OpponentPolicy:
    """The adversary policy ``kind`` for ``game``.

    Args:
        game: ``"push"`` or ``"adversary"``.
        kind: ``"scripted"`` (:class:`PushBlocker` / :class:`LandmarkGuesser`), ``"random"`` or
            ``"noop"``.
        n_good: Good agents of ``"adversary"``.

    Returns:
        A fresh policy object.

    Raises:
        ValueError: ``game`` has no adversary or ``kind`` is unknown.
    """
    if game not in ("push", "adversary"):
        raise ValueError(f"game {game!r} has no adversary: use 'push' or 'adversary'")
    if kind == "scripted":
        return PushBlocker() if game == "push" else LandmarkGuesser(n_good)
    if kind == "random":
        return RandomOpponent()
    if kind == "noop":
        return NoopOpponent()
    raise ValueError(f"unknown opponent kind {kind!r}: use 'scripted', 'random' or 'noop'")


def goal_seeking_actions(game: str, obs: dict[str, np.ndarray]) -> dict[str, int]:
    """Moves of the reference good team (module docs) for the good agents in ``obs``.

    Args:
        game: ``"speaker_listener"``, ``"push"`` or ``"adversary"``.
        obs: Observations of the live good agents, keyed by mpe2 name (``speaker_0``,
            ``listener_0``, ``agent_0``...), as :class:`~mt_envs.mpe.GoodTeamEnv` returns them.

    Returns:
        One action per agent of ``obs``.

    Raises:
        ValueError: ``game`` is unknown.
    """
    out: dict[str, int] = {}
    for agent, o in obs.items():
        o = np.asarray(o, dtype=np.float64)
        if game == "speaker_listener":
            if agent == "speaker_0":
                out[agent] = int(np.argmax(o))  # goal colour -> landmark index
                continue
            said = o[8:11]
            k = int(np.argmax(said))
            out[agent] = move_towards(o[2 + 2 * k : 4 + 2 * k], o[0:2]) if said.any() else NOOP
        elif game == "push":
            out[agent] = move_towards(o[2:4], o[0:2])
        elif game == "adversary":
            out[agent] = move_towards(o[0:2], np.zeros(2))
        else:
            raise ValueError(
                f"unknown game {game!r}: use 'speaker_listener', 'push' or 'adversary'"
            )
    return out
