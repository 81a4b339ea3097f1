"""Playing episodes with simple policies, and tables of the results (used by ``mt-envs``).

A *policy* here is a callable ``(observations, infos) -> actions`` over PettingZoo dicts, with an
optional ``reset()`` that :func:`run_episodes` calls after every ``env.reset()``.

Example::

    from mt_envs import mamt_v0
    from mt_envs.play import format_table, make_policy, run_episodes, summarize

    env = mamt_v0.parallel_env()
    policy = make_policy("greedy", env, seed=0)
    rows = [r for t in range(4) for r in run_episodes(env, policy, 20, seed=t, task=t)]
    print(format_table(summarize(rows)))
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

#: Discount of the paper's reported returns (paper 000, section 6.1).
GAMMA = 0.95
#: Policies :func:`make_policy` knows.
POLICIES = ("random", "scripted", "greedy")
#: Output formats of :func:`format_table`.
FORMATS = ("markdown", "csv", "json")

Actions = dict[str, int]
Observations = Mapping[str, np.ndarray]
Infos = Mapping[str, Mapping[str, Any]]
#: Called after each reset (``done=False``) and each step with ``(env, episode_index, done)``.
StepCallback = Callable[[Any, int, bool], None]


class Policy(Protocol):
    """What :func:`run_episodes` plays: PettingZoo dicts in, one action per agent out."""

    def __call__(self, observations: Observations, infos: Infos) -> Actions: ...


class RandomPolicy:
    """Uniformly random legal actions, seeded independently of the env.

    Each agent samples from its own copy of the env's action space, masked by
    ``infos[agent]["action_mask"]`` when the env provides one.

    Args:
        env: A PettingZoo ParallelEnv.
        seed: Seed of the action streams (``None``: fresh entropy).
    """

    def __init__(self, env: Any, seed: int | None = None) -> None:
        seeds = np.random.SeedSequence(seed).generate_state(len(env.possible_agents))
        self._spaces = {}
        for agent, s in zip(env.possible_agents, seeds, strict=True):
            space = copy.deepcopy(env.action_space(agent))
            space.seed(int(s))
            self._spaces[agent] = space

    def reset(self) -> None:
        """Nothing to forget between episodes."""

    def __call__(self, observations: Observations, infos: Infos) -> Actions:
        """One random legal action for every agent in ``observations``."""
        out: Actions = {}
        for agent in observations:
            mask = infos.get(agent, {}).get("action_mask")
            out[agent] = int(self._spaces[agent].sample(mask=mask))
        return out


def _greedy(env: Any, seed: int | None) -> Policy:
    from mt_envs.capture import GreedyPolicy
    from mt_envs.capture.env import CaptureEnv

    base = getattr(env, "unwrapped", env)
    if not isinstance(base, CaptureEnv):
        raise ValueError(
            f"the greedy policy is scripted for the capture envs (mast_v0, mamt_v0), not "
            f"{type(base).__name__}; use policy 'scripted' (the family's baseline) or 'random'"
        )
    return GreedyPolicy.for_env(env)


def _scripted(env: Any, seed: int | None) -> Policy:
    base = getattr(env, "unwrapped", env)
    factory = getattr(base, "scripted_policy", None)
    if factory is None:
        raise ValueError(
            f"{type(base).__name__} has no scripted baseline (no scripted_policy() method); "
            f"use policy 'random'"
        )
    policy: Policy = factory()
    return policy


_POLICY_FACTORIES: dict[str, Callable[[Any, int | None], Policy]] = {
    "random": RandomPolicy,
    "scripted": _scripted,
    "greedy": _greedy,
}


def make_policy(name: str, env: Any, seed: int | None = None) -> Policy:
    """Build a named policy for ``env``.

    Args:
        name: ``"random"`` (seeded random legal actions), ``"scripted"`` (the family's scripted
            baseline, from the env's ``scripted_policy()`` method: the greedy chaser for capture,
            shortest paths for GridWorld, the wait-your-turn corridor policy) or ``"greedy"``
            (the capture envs' chaser, :class:`~mt_envs.capture.GreedyPolicy`).
        env: The ParallelEnv the policy will play.
        seed: Seed of the random policy (the greedy one is deterministic).

    Returns:
        A callable ``(observations, infos) -> actions`` with a ``reset()`` method.

    Raises:
        ValueError: For an unknown name (listing the valid ones), or a policy that does not fit
            the env.
    """
    if name not in _POLICY_FACTORIES:
        raise ValueError(f"unknown policy {name!r}: valid policies are {', '.join(POLICIES)}")
    return _POLICY_FACTORIES[name](env, seed)


def discounted(rewards: Sequence[float], gamma: float = GAMMA) -> float:
    """``sum_t gamma^t r_t`` of one episode's rewards (``t`` from 0)."""
    total, scale = 0.0, 1.0
    for r in rewards:
        total += scale * r
        scale *= gamma
    return total


def run_episodes(
    env: Any,
    policy: Policy,
    episodes: int,
    seed: int | None = 0,
    task: Any = None,
    *,
    gamma: float = GAMMA,
    on_step: StepCallback | None = None,
) -> list[dict[str, Any]]:
    """Play ``episodes`` episodes of a ParallelEnv and report each one.

    The first reset is seeded with ``seed`` and later ones continue the env's streams, so a run
    is reproducible from ``(seed, policy)`` alone.

    Args:
        env: A PettingZoo ParallelEnv whose infos carry ``task_id`` / ``task`` (every mt-envs env).
        policy: ``(observations, infos) -> actions``; its ``reset()``, if any, is called after
            each ``env.reset()``.
        episodes: Number of episodes.
        seed: Seed of the first reset (``None``: not reseeded).
        task: Task (id or task of the env's set) of every episode; ``None`` lets the env's
            sampler choose.
        gamma: Discount of ``discounted_return``.
        on_step: Called with ``(env, episode_index, done)`` after each reset and each step.

    Returns:
        One dict per episode: ``task_id``, ``task`` (name; both from the first agent's reset
        infos), ``return`` (the team's return: the mean over the episode's agents of their
        summed rewards), ``discounted_return``, ``gamma``,
        ``captured`` (the episode terminated rather than being truncated), ``length`` and
        ``rewards`` (the team reward of each step).
    """
    if episodes < 0:
        raise ValueError(f"episodes={episodes} is invalid: need an int >= 0")
    reset_policy = getattr(policy, "reset", None)
    options = None if task is None else {"task": task}
    rows: list[dict[str, Any]] = []
    for k in range(episodes):
        obs, infos = env.reset(seed=seed if k == 0 else None, options=options)
        if callable(reset_policy):
            reset_policy()
        first = infos[env.agents[0]] if env.agents and env.agents[0] in infos else {}
        base = getattr(env, "unwrapped", env)
        task_id = int(first.get("task_id", getattr(base, "task_id", 0)))
        task_obj = first.get("task", getattr(base, "task", None))
        team = list(env.agents)
        if on_step is not None:
            on_step(env, k, False)
        # Team reward of step t: the sum of the rewards paid at t over the episode's agents,
        # divided by their number (agents that are done count as 0, so an agent leaving early
        # does not inflate its team-mates' share).
        rewards: list[float] = []
        terminated = False
        while env.agents:
            obs, rew, term, _trunc, infos = env.step(policy(obs, infos))
            rewards.append(float(sum(rew.values())) / max(len(team), 1))
            terminated = any(term.values())
            if on_step is not None:
                on_step(env, k, not env.agents)
        rows.append(
            {
                "task_id": task_id,
                "task": getattr(task_obj, "name", str(task_obj)),
                "return": float(sum(rewards)),
                "discounted_return": discounted(rewards, gamma),
                "gamma": gamma,
                "captured": terminated,
                "length": len(rewards),
                "rewards": rewards,
            }
        )
    return rows


def _mean_ci(values: Sequence[float]) -> tuple[float, float | None]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size < 2:
        return float(arr.mean()), None
    return float(arr.mean()), float(1.96 * arr.std(ddof=1) / math.sqrt(arr.size))


def summarize(rows: Sequence[Mapping[str, Any]], gamma: float = GAMMA) -> list[dict[str, Any]]:
    """Per-task statistics of :func:`run_episodes` rows, in task-id order.

    Args:
        rows: Episode rows.
        gamma: Discount of the reported discounted return; recomputed from each row's
            ``rewards`` (rows without them must have been played with this ``gamma``).

    Returns:
        One dict per task: ``task_id``, ``task``, ``episodes``, ``return`` (mean),
        ``disc_return`` (mean), ``disc_return_ci95`` (half-width of the normal-approximation 95%
        interval, ``1.96 std / sqrt(n)``; ``None`` for a single episode), ``capture_rate``,
        ``length`` (mean) and ``gamma``.

    Raises:
        ValueError: When a row lacks rewards and was discounted with another ``gamma``.
    """
    groups: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(int(row["task_id"]), []).append(row)
    out: list[dict[str, Any]] = []
    for task_id in sorted(groups):
        group = groups[task_id]
        disc = []
        for row in group:
            if "rewards" in row:
                disc.append(discounted(row["rewards"], gamma))
            elif math.isclose(float(row.get("gamma", GAMMA)), gamma):
                disc.append(float(row["discounted_return"]))
            else:
                raise ValueError(
                    f"row of task {task_id} was discounted with gamma={row.get('gamma')} and has "
                    f"no 'rewards' to recompute it with gamma={gamma}"
                )
        disc_mean, disc_ci = _mean_ci(disc)
        out.append(
            {
                "task_id": task_id,
                "task": group[0]["task"],
                "episodes": len(group),
                "return": float(np.mean([r["return"] for r in group])),
                "disc_return": disc_mean,
                "disc_return_ci95": disc_ci,
                "capture_rate": float(np.mean([bool(r["captured"]) for r in group])),
                "length": float(np.mean([r["length"] for r in group])),
                "gamma": gamma,
            }
        )
    return out


_HEADERS = {
    "task_id": "id",
    "task": "task",
    "episodes": "episodes",
    "return": "return",
    # The share of episodes that terminated rather than hit the step limit: a capture for the
    # capture envs, reaching the goals (or an obstacle) for the grids, a crash for the drone.
    "capture_rate": "terminated",
    "length": "length",
}


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1e5 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    return str(value)


def _markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    keys = [k for k in rows[0] if k not in ("disc_return_ci95", "gamma")]
    header, align = [], []
    for k in keys:
        if k == "disc_return":
            gamma = rows[0].get("gamma")
            header.append("disc. return" + (f" (gamma {gamma:g})" if gamma is not None else ""))
        else:
            header.append(_HEADERS.get(k, k.replace("_", " ")))
        numeric = all(isinstance(r.get(k), (int, float)) or r.get(k) is None for r in rows)
        align.append(numeric)
    body = []
    for r in rows:
        line = []
        for k in keys:
            text = _cell(r.get(k))
            if k == "disc_return" and r.get("disc_return_ci95") is not None:
                text += f" ± {r['disc_return_ci95']:.3f}"
            line.append(text)
        body.append(line)
    widths = [max(len(h), *(len(b[c]) for b in body)) for c, h in enumerate(header)]

    def fmt(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if right else c.ljust(w)
            for c, w, right in zip(cells, widths, align, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    dashes = (
        "-" * (w + 1) + ":" if a else "-" * (w + 2) for w, a in zip(widths, align, strict=True)
    )
    rule = "|" + "|".join(dashes)
    return "\n".join([fmt(header), rule + "|", *(fmt(b) for b in body)])


def format_table(rows: Sequence[Mapping[str, Any]], fmt: str = "markdown") -> str:
    """Format a list of flat dicts (such as :func:`summarize` output) as a table.

    Args:
        rows: The rows; columns are the keys of the first row, in order.
        fmt: ``"markdown"`` (aligned, discounted return shown as ``mean ± ci95``), ``"csv"`` or
            ``"json"`` (raw values).

    Returns:
        The table, without a trailing newline.

    Raises:
        ValueError: For an unknown format.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r}: valid formats are {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(list(rows), indent=2)
    if not rows:
        return ""
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue().rstrip("\n")
    return _markdown(rows)
