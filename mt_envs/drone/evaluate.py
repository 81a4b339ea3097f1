"""Mean safe flight (MSF): evaluating a policy on every map of a drone env.

Paper 003 (section 5.2, table 1) scores drone policies by their *mean safe flight*: the horizontal
distance a drone flies in an episode, averaged over episodes. The env reports the distance of each
drone at the end of its episode in ``infos[agent]["safe_flight"]`` (metres, on crash and on
truncation alike; ``infos[agent]["crashed"]`` says which). The helpers here play episodes,
collect one record per *drone episode* and summarise them per map.

Accounting (what a row means):

* one **drone episode** ends when the drone crashes (terminated) or the episode hits its step
  limit (truncated). Its record holds the map it flew (``infos[agent]["task_id"]``), its
  ``safe_flight``, whether it ``crashed``, its summed rewards (``return``) and the steps it took
  (``length``);
* in **shared** mode (``n_drones`` drones in the episode's map) every map gets ``episodes``
  env episodes, each contributing ``n_drones`` drone episodes; in **team** mode (drone ``i`` in
  map ``i``) one env episode contributes one drone episode to every map, so ``episodes`` env
  episodes give ``episodes`` per map;
* **MSF** of a map is the mean of ``safe_flight`` over all its drone episodes (crashed and
  truncated), with the half-width of its normal-approximation 95% interval.

Example::

    from mt_envs import drone_nav_v0
    from mt_envs.drone.evaluate import evaluate_msf, format_msf_table
    from mt_envs.play import RandomPolicy

    env = drone_nav_v0.parallel_env()
    rows = evaluate_msf(env, env.scripted_policy(), episodes=20, seed=0)
    print(format_msf_table(rows))
    print(format_msf_table(evaluate_msf(env, RandomPolicy(env, seed=0), episodes=20, seed=0)))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mt_envs.play import FORMATS, Policy, format_table

#: Called after each reset (``done=False``) and each step with ``(env, episode_index, done)``.
StepCallback = Callable[[Any, int, bool], None]


def _live(mapping: Mapping[str, Any], agents: Sequence[str]) -> dict[str, Any]:
    return {a: mapping[a] for a in agents if a in mapping}


def _task_ids(env: Any, tasks: Sequence[int] | None) -> list[int]:
    n = len(env.task_set)
    if tasks is None:
        return list(range(n))
    out = []
    for t in tasks:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= int(t) < n:
            raise ValueError(
                f"task id {t!r} is invalid for task set {env.task_set.name!r}: need an int in "
                f"[0, {n - 1}]"
            )
        out.append(int(t))
    return out


def run_msf_episodes(
    env: Any,
    policy: Policy,
    episodes: int,
    seed: int | None = 0,
    tasks: Sequence[int] | None = None,
    *,
    on_step: StepCallback | None = None,
) -> list[dict[str, Any]]:
    """Play a drone ParallelEnv and record every drone episode (see the module docstring).

    Shared mode plays ``episodes`` env episodes on each map in ``tasks`` (map by map, in the
    given order), the first one of map ``k`` reset with seed ``seed + k`` and the others
    continuing the env's streams, so a map's records do not depend on which other maps are
    evaluated. Team mode plays ``episodes`` env episodes, the first one reset with ``seed``.
    The policy sees only the live drones (``env.agents``); its ``reset()``, if any, is called
    after every ``env.reset()``.

    Args:
        env: A drone ParallelEnv (``drone_nav_v0``) or a wrapper of one.
        policy: ``(observations, infos) -> actions``.
        episodes: Env episodes per map (shared mode) or in all (team mode), ``>= 1``.
        seed: Base seed (``None``: no reseeding).
        tasks: Task ids of the maps to evaluate in shared mode (default: every map of the task
            set). Team mode evaluates every map and takes ``None`` only.
        on_step: Called with ``(env, episode_index, done)`` after each reset and each step
            (``episode_index`` counts env episodes over the whole run).

    Returns:
        One dict per drone episode, in the order they ended: ``episode`` (env episode index),
        ``agent``, ``task_id``, ``task`` (map name), ``safe_flight`` (metres), ``crashed``,
        ``return`` and ``length`` (steps).

    Raises:
        ValueError: For ``episodes < 1``, a bad task id, ``tasks`` in team mode, or an env
            whose episode-end infos lack ``safe_flight``.
    """
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes={episodes!r} is invalid: need an int >= 1")
    base = getattr(env, "unwrapped", env)
    team = getattr(base, "mode", None) == "team"
    if team and tasks is not None:
        raise ValueError(
            "tasks=... is invalid in team mode: drone i always flies map i, so every map is "
            "evaluated; pass tasks=None"
        )
    if team:
        blocks: list[tuple[dict[str, Any] | None, int | None]] = [(None, seed)]
    else:
        blocks = [({"task": k}, None if seed is None else seed + k) for k in _task_ids(base, tasks)]
    reset_policy = getattr(policy, "reset", None)
    records: list[dict[str, Any]] = []
    index = 0
    for options, block_seed in blocks:
        for j in range(int(episodes)):
            obs, infos = env.reset(seed=block_seed if j == 0 else None, options=options)
            if callable(reset_policy):
                reset_policy()
            task_of = {a: int(infos[a]["task_id"]) for a in env.agents}
            names = {a: _task_name(infos[a]) for a in env.agents}
            returns = dict.fromkeys(env.agents, 0.0)
            lengths = dict.fromkeys(env.agents, 0)
            if on_step is not None:
                on_step(env, index, False)
            while env.agents:
                live = list(env.agents)
                actions = policy(_live(obs, live), _live(infos, live))
                obs, rew, term, trunc, infos = env.step(actions)
                for a in live:
                    returns[a] += float(rew[a])
                    lengths[a] += 1
                    if term[a] or trunc[a]:
                        records.append(
                            _record(
                                index, a, task_of[a], names[a], infos[a], returns[a], lengths[a]
                            )
                        )
                if on_step is not None:
                    on_step(env, index, not env.agents)
            index += 1
    return records


def _task_name(info: Mapping[str, Any]) -> str:
    task = info.get("task")
    return str(getattr(task, "name", task))


def _record(
    episode: int,
    agent: str,
    task_id: int,
    task: str,
    info: Mapping[str, Any],
    ret: float,
    length: int,
) -> dict[str, Any]:
    if "safe_flight" not in info:
        raise ValueError(
            f"the episode-end infos of {agent} have no 'safe_flight': evaluate_msf needs a drone "
            "env (drone_nav_v0), whose infos report the distance flown at every episode end"
        )
    return {
        "episode": episode,
        "agent": agent,
        "task_id": task_id,
        "task": task,
        "safe_flight": float(info["safe_flight"]),
        "crashed": bool(info.get("crashed", False)),
        "return": ret,
        "length": length,
    }


def _ci95(values: np.ndarray) -> float | None:
    if values.size < 2:
        return None
    return float(1.96 * values.std(ddof=1) / math.sqrt(values.size))


def summarize_msf(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per-map rows of drone-episode records (from :func:`run_msf_episodes`), in task-id order.

    Args:
        records: Drone-episode records with ``task_id``, ``task``, ``safe_flight``, ``crashed``,
            ``return`` and ``length``.

    Returns:
        One dict per map: ``task_id``, ``task``, ``episodes`` (drone episodes), ``msf`` (mean
        safe flight, metres), ``msf_ci95`` (half-width of its 95% interval, ``1.96 std /
        sqrt(n)``; ``None`` for one episode), ``msf_std``, ``crash_rate``, ``return`` (mean) and
        ``length`` (mean steps).
    """
    groups: dict[int, list[Mapping[str, Any]]] = {}
    for rec in records:
        groups.setdefault(int(rec["task_id"]), []).append(rec)
    rows: list[dict[str, Any]] = []
    for task_id in sorted(groups):
        group = groups[task_id]
        flight = np.array([float(r["safe_flight"]) for r in group])
        rows.append(
            {
                "task_id": task_id,
                "task": group[0]["task"],
                "episodes": len(group),
                "msf": float(flight.mean()),
                "msf_ci95": _ci95(flight),
                "msf_std": float(flight.std(ddof=1)) if flight.size > 1 else 0.0,
                "crash_rate": float(np.mean([bool(r["crashed"]) for r in group])),
                "return": float(np.mean([float(r["return"]) for r in group])),
                "length": float(np.mean([float(r["length"]) for r in group])),
            }
        )
    return rows


def evaluate_msf(
    env: Any,
    policy: Policy,
    episodes: int,
    seed: int | None = 0,
    tasks: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Mean safe flight of ``policy`` on every map of ``env``: one row per map.

    :func:`run_msf_episodes` followed by :func:`summarize_msf`; see them for the seeding and
    the accounting.

    Args:
        env: A drone ParallelEnv (``drone_nav_v0``) or a wrapper of one.
        policy: ``(observations, infos) -> actions``.
        episodes: Env episodes per map (shared mode) or in all (team mode), ``>= 1``.
        seed: Base seed.
        tasks: Task ids of the maps to evaluate (shared mode; default every map).

    Returns:
        Rows of ``task_id``, ``task``, ``episodes``, ``msf``, ``msf_ci95``, ``msf_std``,
        ``crash_rate``, ``return`` and ``length``; render them with :func:`format_msf_table`.

    Raises:
        ValueError: As :func:`run_msf_episodes`.
    """
    return summarize_msf(run_msf_episodes(env, policy, episodes, seed, tasks))


def _pm(mean: float, ci: float | None) -> str:
    return f"{mean:.2f}" if ci is None else f"{mean:.2f} ± {ci:.2f}"


def format_msf_table(rows: Sequence[Mapping[str, Any]], fmt: str = "markdown") -> str:
    """Format :func:`evaluate_msf` rows (or :func:`compare_msf` rows) as a table.

    Args:
        rows: The rows.
        fmt: ``"markdown"`` (MSF shown as ``mean ± ci95`` in metres, ``msf_std`` left out),
            ``"csv"`` or ``"json"`` (raw values, every column).

    Returns:
        The table, without a trailing newline (``""`` for no rows).

    Raises:
        ValueError: For an unknown format.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r}: valid formats are {', '.join(FORMATS)}")
    if fmt != "markdown" or not rows:
        return format_table(rows, fmt)
    shown: list[dict[str, Any]] = []
    for row in rows:
        out: dict[str, Any] = {}
        for key, value in row.items():
            if key.endswith("_ci95") or key.endswith("msf_std"):
                continue
            if key.endswith("msf"):
                label = "MSF (m)" if key == "msf" else f"{key[: -len('_msf')]} MSF (m)"
                out[label] = _pm(float(value), row.get(f"{key}_ci95"))
            else:
                out[key] = value
        shown.append(out)
    return format_table(shown, "markdown")


def compare_msf(results: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One row per map with the MSF of several policies side by side.

    Args:
        results: ``{policy name: evaluate_msf rows}``; every policy must cover the same maps.

    Returns:
        Rows of ``task_id``, ``task``, then ``<name>_msf``, ``<name>_msf_ci95`` and
        ``<name>_crash_rate`` for each policy in the given order; :func:`format_msf_table`
        shows them as ``<name> MSF (m)``.

    Raises:
        ValueError: For no results, or policies evaluated on different maps.
    """
    if not results:
        raise ValueError("compare_msf got no results: pass {policy name: evaluate_msf rows}")
    names = list(results)
    maps = [(int(r["task_id"]), str(r["task"])) for r in results[names[0]]]
    out = [{"task_id": k, "task": t} for k, t in maps]
    for name in names:
        got = [(int(r["task_id"]), str(r["task"])) for r in results[name]]
        if got != maps:
            raise ValueError(
                f"policy {name!r} was evaluated on maps {got}, policy {names[0]!r} on {maps}: "
                "evaluate every policy on the same maps"
            )
        for row, res in zip(out, results[name], strict=True):
            row[f"{name}_msf"] = float(res["msf"])
            row[f"{name}_msf_ci95"] = res.get("msf_ci95")
            row[f"{name}_crash_rate"] = float(res["crash_rate"])
    return out
