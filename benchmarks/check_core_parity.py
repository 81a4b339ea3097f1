"""Check that the two capture kernels still agree, and fingerprint their trajectories.

A companion of ``env_throughput.py`` for whoever optimises :mod:`mt_envs.capture.core`: every
speed-up must leave the random draws and the trajectories unchanged. This script

1. steps ``mt_envs.make_vec(env_id, 1, seed=s)`` (the batched :class:`BatchCore` at ``B = 1``) and
   ``parallel_env()`` reset with seed ``s`` (the plain-Python :class:`SingleCore`) side by side with
   the same actions, across automatic resets, and fails on the first difference in observations,
   rewards, ends, states, final observations or task ids;
2. prints a SHA-256 fingerprint of longer trajectories of both kernels (batches of 1, 7, 64 and
   1024 environments, several task sets, both observation encodings). Run it before and after a
   change: the fingerprints must not move (``--save FILE`` / ``--compare FILE``).

Usage::

    python benchmarks/check_core_parity.py            # parity + fingerprints
    python benchmarks/check_core_parity.py --save /tmp/before.json
    python benchmarks/check_core_parity.py --compare /tmp/before.json
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

import mt_envs
from mt_envs import mamt_v0, mast_v0
from mt_envs.capture.task import CaptureTask

#: (label, env id, task set) of every configuration checked.
CONFIGS: list[tuple[str, str, Any]] = [
    ("mamt6-pf0.3", "mamt_v0", CaptureTask.mamt(6, n_agents=2, flicker=0.3)),
    ("mast8", "mast_v0", CaptureTask.mast(8, n_agents=2)),
    ("mamt-3a", "mamt_v0", "mamt-3a"),
    ("mamt-2a-3to6", "mamt_v0", "mamt-2a-3to6"),
    ("mast-2a-4to8", "mast_v0", "mast-2a-4to8"),
    (
        "evasive",
        "mamt_v0",
        [CaptureTask.mamt(5, evasive=0.5), CaptureTask.mamt(4, n_agents=2, evasive=1.0)],
    ),
    (
        "mixed-agents",
        "mamt_v0",
        [
            CaptureTask.mamt(4, n_agents=3, flicker=0.2, evasive=0.3, slip=0.3),
            CaptureTask.mamt(3, n_agents=1, horizon=7),
            CaptureTask.mamt(5, n_agents=2, flicker=1.0, assignment=(1, 0)),
        ],
    ),
    (
        "mast-mixed",
        "mast_v0",
        [CaptureTask.mast(4, n_agents=3, evasive=0.7), CaptureTask.mast(2, n_agents=1, slip=1.0)],
    ),
]
_MODULES = {"mamt_v0": mamt_v0, "mast_v0": mast_v0}


def _fail(msg: str) -> None:
    print(f"FAIL: {msg}")
    sys.exit(1)


def parity(env_id: str, tasks: Any, seed: int, steps: int, obs_encoding: str) -> int:
    """Step both kernels side by side; return the number of episodes seen."""
    penv = _MODULES[env_id].parallel_env(tasks=tasks, obs_encoding=obs_encoding)
    venv = mt_envs.make_vec(env_id, 1, tasks=tasks, seed=seed, obs_encoding=obs_encoding)
    n_slots = venv.num_agents
    rng = np.random.default_rng(1000 + seed)
    vobs, vinfo = venv.reset()
    pobs, _ = penv.reset(seed=seed)
    episodes = 1

    def check_obs(where: str, v: np.ndarray, p: dict[str, np.ndarray], agents: list[str]) -> None:
        want = np.zeros_like(v)
        for i, a in enumerate(penv.possible_agents):
            if a in agents:
                want[i] = p[a]
        if set(p) != set(agents):
            _fail(f"{where}: observed agents {sorted(p)} != agents {agents}")
        if not np.array_equal(v, want):
            _fail(f"{where}: observations differ\nvec {v}\npar {want}")

    check_obs("reset", vobs[0], pobs, penv.agents)
    for t in range(steps):
        where = f"{env_id} {tasks!s:.40} seed {seed} step {t}"
        if not np.array_equal(vinfo["state"][0], penv.state()):
            _fail(f"{where}: states differ {vinfo['state'][0]} vs {penv.state()}")
        if int(vinfo["task_id"][0]) != penv.task_id:
            _fail(f"{where}: task ids differ")
        acts = rng.integers(0, 5, size=(1, n_slots))
        agents = list(penv.agents)
        pacts = {a: int(acts[0, penv.possible_agents.index(a)]) for a in agents}
        vobs, vrew, vterm, vtrunc, vinfo = venv.step(acts)
        pobs, prew, pterm, ptrunc, _ = penv.step(pacts)
        check_obs(where, vinfo["final_obs"][0], pobs, agents)
        for i, a in enumerate(penv.possible_agents):
            if a in agents and (
                prew[a] != vrew[0, i] or pterm[a] != vterm[0, i] or ptrunc[a] != vtrunc[0, i]
            ):
                _fail(f"{where}: reward/ends differ for {a}")
            if a in agents and not (
                type(prew[a]) is float and type(pterm[a]) is bool and type(ptrunc[a]) is bool
            ):
                _fail(f"{where}: reward/ends of {a} are not Python float/bool")
        if not np.array_equal(vinfo["final_state"][0], penv.state()):
            _fail(f"{where}: final states differ")
        if bool(vinfo["_final"][0]) != (not penv.agents):
            _fail(f"{where}: episode ends differ")
        if not penv.agents:
            pobs, _ = penv.reset()
            episodes += 1
            check_obs(where + " (after reset)", vobs[0], pobs, penv.agents)
    return episodes


def _digest_update(h: Any, *arrays: Any) -> None:
    for a in arrays:
        if isinstance(a, dict):
            for k in sorted(a):
                h.update(k.encode())
                _digest_update(h, a[k])
        elif isinstance(a, np.ndarray):
            h.update(str(a.dtype).encode() + str(a.shape).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        else:
            h.update(repr(a).encode())


def fingerprint_parallel(env_id: str, tasks: Any, seeds: list[int], steps: int, enc: str) -> str:
    h = hashlib.sha256()
    for seed in seeds:
        env = _MODULES[env_id].parallel_env(tasks=tasks, obs_encoding=enc)
        rng = np.random.default_rng(seed)
        obs, infos = env.reset(seed=seed)
        _digest_update(h, obs, env.state(), {a: i["task_id"] for a, i in infos.items()})
        for _ in range(steps):
            acts = {a: int(rng.integers(0, 5)) for a in env.agents}
            out = env.step(acts)
            _digest_update(h, *out[:4], env.state(), {a: i["task_id"] for a, i in out[4].items()})
            if not env.agents:
                obs, infos = env.reset()
                _digest_update(h, obs, env.state())
    return h.hexdigest()


def fingerprint_vector(env_id: str, tasks: Any, b: int, seed: int, steps: int, enc: str) -> str:
    h = hashlib.sha256()
    venv = mt_envs.make_vec(env_id, b, tasks=tasks, seed=seed, obs_encoding=enc)
    rng = np.random.default_rng(seed)
    obs, info = venv.reset()
    _digest_update(h, obs, info)
    for _ in range(steps):
        acts = rng.integers(0, 5, size=(b, venv.num_agents))
        _digest_update(h, *venv.step(acts))
    return h.hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="parity steps per seed")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds for parity")
    parser.add_argument("--save", help="write the fingerprints to this JSON file")
    parser.add_argument("--compare", help="compare the fingerprints with this JSON file")
    args = parser.parse_args(argv)

    for label, env_id, tasks in CONFIGS:
        for enc in ("coords", "onehot"):
            episodes = sum(parity(env_id, tasks, s, args.steps, enc) for s in range(args.seeds))
            print(
                f"parity ok: {label:14s} {enc:7s} {args.seeds} seeds x {args.steps} steps, "
                f"{episodes} episodes"
            )

    prints: dict[str, str] = {}
    jobs: list[tuple[str, Callable[[], str]]] = []
    for label, env_id, tasks in CONFIGS:
        for enc in ("coords", "onehot"):
            par = functools.partial(fingerprint_parallel, env_id, tasks, [0, 1, 2], 600, enc)
            jobs.append((f"parallel/{label}/{enc}", par))
            # Large batches take other code paths in places (e.g. the evasive argmax).
            for b, steps in ((1, 300), (7, 300), (64, 300), (1024, 60)):
                vec = functools.partial(fingerprint_vector, env_id, tasks, b, 3, steps, enc)
                jobs.append((f"vector/{label}/{enc}/B{b}", vec))
    for key, job in jobs:
        prints[key] = job()
    if args.save:
        with open(args.save, "w") as f:
            json.dump(prints, f, indent=1, sort_keys=True)
        print(f"fingerprints of {len(prints)} runs saved to {args.save}")
    if args.compare:
        with open(args.compare) as f:
            old = json.load(f)
        moved = [k for k in prints if old.get(k) != prints[k]]
        if moved:
            _fail(f"{len(moved)} fingerprint(s) moved: {moved}")
        print(f"fingerprints unchanged ({len(prints)} runs)")
    if not (args.save or args.compare):
        for k, v in prints.items():
            print(f"{v[:16]}  {k}")


if __name__ == "__main__":
    main()
