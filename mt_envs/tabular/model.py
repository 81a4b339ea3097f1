"""The tabular Markov model shared by the grid families (corridor, GridWorld, chain).

A :class:`TabularModel` is the exact, finite description of one task: states, (joint) actions,
transitions, expected rewards per agent, start distribution and terminal states. The envs of these
families are driven by it, the exact solvers of :mod:`mt_envs.tabular.solvers` read it, and
learners (MultiDistral, DCPG) compute exact values and gradients from it.

Transitions are stored as successor lists rather than a dense ``[S, A, S]`` array: every state-
action pair has at most ``K`` successors (``K = 1`` for deterministic dynamics). The corridor's
joint model has thousands of states, so a dense array would need hundreds of megabytes; the
successor form is ``S * A * K`` entries and still gives the dense matrix on request
(:meth:`TabularModel.dense`).

Conventions:

* An episode ends on **entering** a terminal state. Terminal states are absorbing with zero reward
  (their successor lists point to themselves with reward 0), so discounted values computed over the
  infinite horizon equal the episode return of the env before truncation.
* ``reward[s, a, i]`` is the expected reward of agent ``i`` for joint action ``a`` in state ``s``
  (the reward of entering a state is paid on the transition into it). Single-agent models have
  ``N = 1``. When the reward depends on which successor is drawn (a stochastic transition into a
  rewarding state), the optional ``transition_reward[s, a, k, i]`` gives the reward actually paid
  on reaching successor ``k``; ``reward`` must then be its expectation (build such a model with
  :meth:`TabularModel.from_transitions`). Envs pay ``transition_reward``, solvers read ``reward``.
* Joint actions of ``N`` agents with ``n`` actions each are flattened in C order:
  ``a = numpy.ravel_multi_index(actions, action_shape)``.
* All arrays are read-only; a model is a value like a task.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _readonly(array: np.ndarray, dtype: type) -> np.ndarray:
    out: np.ndarray = np.array(array, dtype=dtype, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class TabularModel:
    """The finite Markov model of one task.

    Args:
        next_state: ``int64 [S, A, K]`` successor states of each state and joint action.
        prob: ``float64 [S, A, K]`` their probabilities; each ``[s, a]`` row sums to 1 (unused
            successor slots repeat a valid state with probability 0).
        reward: ``float64 [S, A, N]`` expected reward of each agent (``[S, A]`` is read as N = 1).
        start: ``float64 [S]`` start-state distribution.
        terminal: ``bool [S]``: entering such a state ends the episode; terminal states must be
            absorbing with zero reward.
        action_shape: actions per agent, e.g. ``(5, 5)`` for the corridor's 25 joint actions;
            defaults to ``(A,)``.
        state_names: optional readable name per state (used by ``describe`` and error messages).
        transition_reward: optional ``float64 [S, A, K, N]`` reward paid on reaching successor
            ``k`` (``None``: ``reward`` whatever the successor). ``reward`` must equal its
            expectation under ``prob``.

    Raises:
        ValueError: shapes disagree, probabilities are negative or do not sum to 1, a successor is
            out of range, or a terminal state is not absorbing with zero reward.
    """

    next_state: np.ndarray
    prob: np.ndarray
    reward: np.ndarray
    start: np.ndarray
    terminal: np.ndarray
    action_shape: tuple[int, ...] = ()
    state_names: tuple[str, ...] = field(default=(), repr=False)
    transition_reward: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_transitions(
        cls,
        next_state: np.ndarray,
        prob: np.ndarray,
        transition_reward: np.ndarray,
        start: np.ndarray,
        terminal: np.ndarray,
        action_shape: tuple[int, ...] = (),
        state_names: tuple[str, ...] = (),
    ) -> TabularModel:
        """A model whose rewards depend on the successor drawn.

        Args:
            next_state: ``int [S, A, K]`` successors.
            prob: ``float [S, A, K]`` their probabilities.
            transition_reward: ``float [S, A, K, N]`` (or ``[S, A, K]`` for one agent) reward paid
                on reaching each successor.
            start: ``float [S]`` start distribution.
            terminal: ``bool [S]`` terminal states.
            action_shape: Actions per agent (default ``(A,)``).
            state_names: Optional name per state.

        Returns:
            The model, with ``reward`` the expectation of ``transition_reward``.
        """
        tr = np.asarray(transition_reward, dtype=np.float64)
        p = np.asarray(prob, dtype=np.float64)
        if tr.ndim == 3:
            tr = tr[..., None]
        if p.ndim == 2:
            p = p[:, :, None]
        if tr.ndim != 4 or tr.shape[:3] != p.shape:
            raise ValueError(
                f"transition_reward must have shape [S, A, K, N] matching prob {p.shape}, "
                f"got {tr.shape}"
            )
        reward = np.einsum("sak,sakn->san", p, tr)
        return cls(
            next_state, p, reward, start, terminal, action_shape, state_names, transition_reward=tr
        )

    def __post_init__(self) -> None:
        ns = np.asarray(self.next_state)
        if ns.ndim == 2:
            ns = ns[:, :, None]
        prob = np.asarray(self.prob, dtype=np.float64)
        if prob.ndim == 2:
            prob = prob[:, :, None]
        reward = np.asarray(self.reward, dtype=np.float64)
        if reward.ndim == 2:
            reward = reward[:, :, None]
        if ns.ndim != 3:
            raise ValueError(f"next_state must have shape [S, A, K], got {ns.shape}")
        n_states, n_actions, _ = ns.shape
        if prob.shape != ns.shape:
            raise ValueError(f"prob has shape {prob.shape}, next_state {ns.shape}: they must match")
        if reward.ndim != 3 or reward.shape[:2] != (n_states, n_actions):
            raise ValueError(
                f"reward must have shape [S={n_states}, A={n_actions}, N], got {reward.shape}"
            )
        start = np.asarray(self.start, dtype=np.float64)
        terminal = np.asarray(self.terminal, dtype=bool)
        if start.shape != (n_states,) or terminal.shape != (n_states,):
            raise ValueError(
                f"start and terminal must have shape [S={n_states}], "
                f"got {start.shape} and {terminal.shape}"
            )
        if (
            not np.issubdtype(ns.dtype, np.integer)
            or ns.min(initial=0) < 0
            or ns.max(initial=0) >= n_states
        ):
            raise ValueError(f"next_state entries must be integer states in [0, {n_states})")
        if (prob < 0).any() or not np.allclose(prob.sum(axis=2), 1.0, atol=1e-9):
            raise ValueError(
                "prob must be nonnegative and sum to 1 over successors for every (state, action)"
            )
        if (start < 0).any() or not np.isclose(start.sum(), 1.0, atol=1e-9):
            raise ValueError("start must be a probability distribution over states")
        term = np.flatnonzero(terminal)
        if term.size:
            stays = np.where(prob[term] > 0, ns[term] == term[:, None, None], True).all()
            if not stays or np.any(reward[term] != 0):
                raise ValueError(
                    "terminal states must be absorbing (successor = itself) with zero reward"
                )
        shape = tuple(int(n) for n in self.action_shape) or (n_actions,)
        if int(np.prod(shape)) != n_actions:
            raise ValueError(
                f"action_shape {shape} has {int(np.prod(shape))} joint actions, "
                f"the model has {n_actions}"
            )
        if self.state_names and len(self.state_names) != n_states:
            raise ValueError(
                f"state_names has {len(self.state_names)} entries for {n_states} states"
            )
        tr = self.transition_reward
        if tr is not None:
            tr = np.asarray(tr, dtype=np.float64)
            if tr.ndim == 3:
                tr = tr[..., None]
            want = (*ns.shape, reward.shape[2])
            if tr.shape != want:
                raise ValueError(
                    f"transition_reward must have shape [S, A, K, N] = {want}, got {tr.shape}"
                )
            if not np.allclose(np.einsum("sak,sakn->san", prob, tr), reward, atol=1e-9):
                raise ValueError(
                    "reward must be the expectation of transition_reward under prob; build the "
                    "model with TabularModel.from_transitions"
                )
            if term.size and np.any(np.where(prob[term, ..., None] > 0, tr[term], 0.0) != 0):
                raise ValueError("terminal states must pay zero transition_reward")
            object.__setattr__(self, "transition_reward", _readonly(tr, np.float64))
        object.__setattr__(self, "next_state", _readonly(ns, np.int64))
        object.__setattr__(self, "prob", _readonly(prob, np.float64))
        object.__setattr__(self, "reward", _readonly(reward, np.float64))
        object.__setattr__(self, "start", _readonly(start, np.float64))
        object.__setattr__(self, "terminal", _readonly(terminal, bool))
        object.__setattr__(self, "action_shape", shape)
        object.__setattr__(self, "state_names", tuple(self.state_names))

    @property
    def n_states(self) -> int:
        """Number of states ``S``."""
        return int(self.next_state.shape[0])

    @property
    def n_actions(self) -> int:
        """Number of (joint) actions ``A``."""
        return int(self.next_state.shape[1])

    @property
    def n_agents(self) -> int:
        """Number of reward channels ``N`` (agents)."""
        return int(self.reward.shape[2])

    @property
    def successor_reward(self) -> np.ndarray:
        """``float64 [S, A, K, N]`` reward paid on reaching each successor: ``transition_reward``
        when given, else ``reward`` repeated over successors (a read-only view)."""
        if self.transition_reward is not None:
            return self.transition_reward
        shape = (*self.next_state.shape, self.reward.shape[2])
        return np.broadcast_to(self.reward[:, :, None, :], shape)

    def dense(self) -> np.ndarray:
        """The dense transition array ``P[s, a, s']`` (``float64 [S, A, S]``; small models only)."""
        n_states, n_actions, _ = self.next_state.shape
        dense = np.zeros((n_states, n_actions, n_states))
        s_idx, a_idx = np.indices((n_states, n_actions))
        for k in range(self.next_state.shape[2]):
            np.add.at(dense, (s_idx, a_idx, self.next_state[:, :, k]), self.prob[:, :, k])
        return dense

    def joint_action(self, actions: np.ndarray | list[int] | tuple[int, ...]) -> int:
        """Flat joint action of per-agent ``actions`` (C order over ``action_shape``)."""
        return int(np.ravel_multi_index(tuple(int(a) for a in actions), self.action_shape))
