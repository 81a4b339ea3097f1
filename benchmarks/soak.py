"""Soak test: long runs of every batched env family and of Dec-HDRQN training, watching memory.

Not part of the test suite (it takes about an hour at full size). What it runs, each part in a
fresh subprocess so that its memory figures are its own:

* **families**: every env id with a native batched core (``mt_envs.make_vec``: mamt_v0,
  mast_v0, corridor_v0, gridworld_v0, chain_v0, drone_nav_v0) on its default task set with the
  uniform task sampler (a random task mix), ``--num-envs`` copies, for ``--steps`` env steps
  (default 10M, summed over the batch) of random *legal* actions (drawn from each step's
  ``action_mask``), episodes resetting automatically. The resident set size (RSS) is sampled
  every ``--sample-every`` env steps.
* **training**: :class:`mt_agents.DecHDRQN` (its defaults, CPU, one torch thread) on
  ``--train-env`` with 16 env copies for ``--train-minutes`` (default 30), RSS sampled every
  ``--train-sample-s`` seconds together with ``num_timesteps``.
* **properties** (``--properties``): the property-based test files (``tests/test_properties*.py``
  and ``tests/test_fuzz_invalid.py``) under the hypothesis ``soak`` profile (random seeds, no
  deadline) with ``--property-examples`` examples per property (default 100,000), one pytest
  process per file, the examples each property ran read from hypothesis' statistics.

Memory growth is reported after a warm-up (the first ``--warmup`` fraction of the samples: the
replay buffer's pages, allocator pools and caches fill during it) as the RSS difference between
the first sample after warm-up and the last one (MiB) and as the least-squares slope of RSS over
env steps (MiB per 1M env steps; for training also MiB per hour). A leak of a few bytes per step
shows as a steady slope; a flat line is the expected result. RSS comes from ``psutil`` when it
is installed, else ``/proc/self/statm``, else ``resource.getrusage`` (peak RSS, a weaker signal).

Results go to ``benchmarks/results/soak.json`` (every sample) and ``soak.md`` (the summary
table), written atomically after every part, so an interrupted soak keeps what it measured.

Usage::

    python benchmarks/soak.py                        # full size: 10M steps per family, 30 min
    python benchmarks/soak.py --properties --property-examples 5000
    python benchmarks/soak.py --quick                # a smoke run of every part (about 2 min)
"""

from __future__ import annotations

import os

# One thread per pool, before numpy is imported (numpy reads these when it loads its BLAS).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from _common import cpu_name, dist_version, write_atomic  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
FAMILIES = ("mamt_v0", "mast_v0", "corridor_v0", "gridworld_v0", "chain_v0", "drone_nav_v0")
PROPERTY_PATTERNS = ("test_properties*.py", "test_fuzz_invalid.py")
MIB = 2.0**20


# -- memory --------------------------------------------------------------------------------------
def rss_source() -> str:
    """Where :func:`rss_bytes` reads the resident set size from."""
    try:
        import psutil  # noqa: F401

        return "psutil"
    except ImportError:
        pass
    return "statm" if Path("/proc/self/statm").is_file() else "getrusage"


def rss_bytes() -> int:
    """The resident set size of this process in bytes (peak RSS without psutil or /proc)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        pass
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak) * (1 if sys.platform == "darwin" else 1024)


def growth(samples: list[dict[str, float]], warmup: float) -> dict[str, Any]:
    """Memory growth after the warm-up.

    Args:
        samples: ``{"steps", "rss_mib", "t"}`` in order.
        warmup: Fraction of the samples (at the start) left out.

    Returns:
        ``rss_start_mib`` (first sample), ``rss_after_warmup_mib``, ``rss_end_mib``,
        ``growth_mib`` (end minus after-warm-up), ``slope_mib_per_1m_steps`` (least squares
        over the samples after the warm-up), ``slope_mib_per_hour`` and ``max_after_warmup_mib``.
    """
    if len(samples) < 3:
        return {"samples": len(samples)}
    first = min(len(samples) - 2, int(len(samples) * warmup))
    tail = samples[first:]
    steps = np.array([s["steps"] for s in tail], dtype=np.float64)
    rss = np.array([s["rss_mib"] for s in tail], dtype=np.float64)
    secs = np.array([s["t"] for s in tail], dtype=np.float64)
    slope = float(np.polyfit(steps / 1e6, rss, 1)[0]) if np.ptp(steps) > 0 else 0.0
    per_hour = float(np.polyfit(secs / 3600.0, rss, 1)[0]) if np.ptp(secs) > 0 else 0.0
    return {
        "samples": len(samples),
        "warmup_samples": first,
        "warmup_steps": int(tail[0]["steps"]),
        "rss_start_mib": round(samples[0]["rss_mib"], 2),
        "rss_after_warmup_mib": round(float(rss[0]), 2),
        "rss_end_mib": round(float(rss[-1]), 2),
        "max_after_warmup_mib": round(float(rss.max()), 2),
        "growth_mib": round(float(rss[-1] - rss[0]), 2),
        "slope_mib_per_1m_steps": round(slope, 4),
        "slope_mib_per_hour": round(per_hour, 3),
    }


# -- workers (run in their own process) ----------------------------------------------------------
def family_worker(env_id: str, steps: int, num_envs: int, sample_every: int) -> dict[str, Any]:
    """Step ``make_vec(env_id, num_envs)`` with random legal actions for ``steps`` env steps."""
    import mt_envs

    rss0 = rss_bytes() / MIB
    venv = mt_envs.make_vec(env_id, num_envs, seed=0)
    rng = np.random.default_rng(0)
    _, info = venv.reset(seed=0)
    n_actions = int(venv.single_action_space.n)
    shape = (num_envs, int(venv.num_agents), n_actions)
    samples: list[dict[str, float]] = []
    done = episodes = 0
    next_sample = 0
    started = time.perf_counter()
    while done < steps:
        if done >= next_sample:
            samples.append(
                {"steps": done, "rss_mib": rss_bytes() / MIB, "t": time.perf_counter() - started}
            )
            next_sample += sample_every
        noise = rng.random(shape, dtype=np.float32)
        noise[~np.asarray(info["action_mask"], dtype=bool)] = -1.0
        _, _, _, _, info = venv.step(noise.argmax(axis=-1))
        episodes += int(np.count_nonzero(info["_final"]))
        done += num_envs
    elapsed = time.perf_counter() - started
    samples.append({"steps": done, "rss_mib": rss_bytes() / MIB, "t": elapsed})
    task_set = getattr(venv, "task_set", None)
    venv.close()
    return {
        "env_id": env_id,
        "task_set": None if task_set is None else str(task_set.name),
        "num_envs": num_envs,
        "num_agents": shape[1],
        "env_steps": done,
        "episodes": episodes,
        "wall_s": round(elapsed, 1),
        "env_steps_per_s": round(done / max(elapsed, 1e-9)),
        "rss_before_import_mib": round(rss0, 2),
        "samples": samples,
    }


def train_worker(env_id: str, minutes: float, sample_s: float, seed: int) -> dict[str, Any]:
    """Train :class:`mt_agents.DecHDRQN` (defaults) for ``minutes``, sampling RSS."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    import mt_envs
    from mt_agents import DecHDRQN

    torch.set_num_threads(1)
    venv = mt_envs.make_vec(env_id, 16, seed=seed)
    model = DecHDRQN(venv, device="cpu", seed=seed)
    samples: list[dict[str, float]] = []
    started = time.perf_counter()
    limit = minutes * 60.0

    class Watch(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_t = 0.0

        def _on_step(self) -> bool:
            t = time.perf_counter() - started
            if t >= self.next_t:
                samples.append(
                    {"steps": int(self.model.num_timesteps), "rss_mib": rss_bytes() / MIB, "t": t}
                )
                self.next_t += sample_s
            return t < limit

    model.learn(10**12, callback=Watch(), log_interval=None)
    elapsed = time.perf_counter() - started
    samples.append({"steps": int(model.num_timesteps), "rss_mib": rss_bytes() / MIB, "t": elapsed})
    hp = model._hyperparameters()
    venv.close()
    return {
        "algorithm": "DecHDRQN",
        "env_id": env_id,
        "num_envs": 16,
        "device": "cpu",
        "buffer_episodes": hp.get("buffer_episodes"),
        "env_steps": int(model.num_timesteps),
        "wall_s": round(elapsed, 1),
        "env_steps_per_s": round(model.num_timesteps / max(elapsed, 1e-9)),
        "samples": samples,
    }


_STAT_HEADER = re.compile(r"^(\S+\.py::\S+):\s*$")
_STAT_COUNTS = re.compile(
    r"(\d+) passing(?: examples?)?, (\d+) failing(?: examples?)?,(?: and)? (\d+) invalid"
)
_STAT_STOP = re.compile(r"Stopped because (.+)$")


def parse_statistics(text: str) -> dict[str, dict[str, Any]]:
    """Examples per test from ``pytest --hypothesis-show-statistics`` output (all phases)."""
    out: dict[str, dict[str, Any]] = {}
    current: str | None = None
    for line in text.splitlines():
        header = _STAT_HEADER.match(line.strip())
        if header:
            current = header.group(1)
            out.setdefault(current, {"passing": 0, "failing": 0, "invalid": 0})
            continue
        counts = _STAT_COUNTS.search(line)
        if counts and current is not None:
            for key, value in zip(("passing", "failing", "invalid"), counts.groups(), strict=True):
                out[current][key] += int(value)
        stop = _STAT_STOP.search(line)
        if stop and current is not None:
            out[current]["stopped_because"] = stop.group(1).strip()
    return out


def property_files(patterns: list[str]) -> list[Path]:
    """The test files matching ``patterns`` in ``tests/``, sorted."""
    found: set[Path] = set()
    for pattern in patterns:
        found.update((ROOT / "tests").glob(pattern))
    return sorted(found)


def run_properties(files: list[Path], examples: int, timeout_s: float) -> list[dict[str, Any]]:
    """Run each file under the soak profile with ``examples`` examples per property."""
    env = dict(os.environ)
    env["MT_HYPOTHESIS_PROFILE"] = "soak"
    env["MT_SOAK_MAX_EXAMPLES"] = str(examples)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    rows = []
    for path in files:
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            str(path.relative_to(ROOT)),
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "-p",
            "_soak_hypothesis",
            "--hypothesis-show-statistics",
        ]
        started = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s
            )
            output, rc, timed_out = proc.stdout + proc.stderr, proc.returncode, False
        except subprocess.TimeoutExpired as exc:
            raw = exc.stdout or b""
            output = raw.decode() if isinstance(raw, bytes) else raw
            rc, timed_out = None, True
        wall = time.perf_counter() - started
        stats = parse_statistics(output)
        summary = [ln for ln in output.splitlines() if re.search(r"\d+ (passed|failed)", ln)]
        rows.append(
            {
                "file": str(path.relative_to(ROOT)),
                "returncode": rc,
                "timed_out": timed_out,
                "wall_s": round(wall, 1),
                "summary": summary[-1].strip("= ") if summary else None,
                "properties": stats,
                "failures": [ln for ln in output.splitlines() if ln.startswith("FAILED")][:20],
            }
        )
    return rows


# -- driver --------------------------------------------------------------------------------------
def _spawn(args: list[str]) -> dict[str, Any]:
    """Run this script as a worker in a fresh process and return its JSON answer."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"worker exited with {proc.returncode}", "stderr": proc.stderr[-4000:]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _fmt_mib(value: Any) -> str:
    return "" if value is None else f"{value:+.1f}" if isinstance(value, float) else str(value)


def markdown(report: dict[str, Any]) -> str:
    """The summary table of a soak report."""
    lines = [
        "## Soak",
        "",
        f"{report['machine']['cpu']}, {report['machine']['cores']} cores (shared with other "
        f"work), Python {report['machine']['python']}, numpy {report['machine']['numpy']}, "
        f"torch {report['machine']['torch']}; {report['date']}. RSS from "
        f"{report['rss_source']}, growth measured after a warm-up of the first "
        f"{report['settings']['warmup']:.0%} of the samples (`python benchmarks/soak.py`).",
        "",
        "| part | env steps | wall s | steps/s | RSS after warm-up MiB | RSS end MiB | "
        "growth MiB | slope MiB / 1M steps |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, part in report["families"].items():
        if "error" in part:
            lines.append(f"| {name} | error: {part['error']} |||||||")
            continue
        g = part["growth"]
        lines.append(
            f"| {name} (B={part['num_envs']}, {part['task_set']}) | {part['env_steps']:,} | "
            f"{part['wall_s']} | {part['env_steps_per_s']:,} | {g.get('rss_after_warmup_mib')} | "
            f"{g.get('rss_end_mib')} | {_fmt_mib(g.get('growth_mib'))} | "
            f"{g.get('slope_mib_per_1m_steps')} |"
        )
    train = report.get("training")
    if train and "error" not in train:
        g = train["growth"]
        lines.append(
            f"| DecHDRQN training ({train['env_id']}, 16 envs, {train['wall_s'] / 60:.0f} min) | "
            f"{train['env_steps']:,} | {train['wall_s']} | {train['env_steps_per_s']:,} | "
            f"{g.get('rss_after_warmup_mib')} | {g.get('rss_end_mib')} | "
            f"{_fmt_mib(g.get('growth_mib'))} | {g.get('slope_mib_per_1m_steps')} "
            f"({g.get('slope_mib_per_hour')} MiB/h) |"
        )
    elif train:
        lines.append(f"| DecHDRQN training | error: {train['error']} |||||||")
    props = report.get("properties")
    if props:
        lines += [
            "",
            f"Property files under the hypothesis `soak` profile, {props['examples']:,} "
            "examples per property asked:",
            "",
            "| file | result | wall s | properties | examples run (min / max per property) |",
            "|---|---|--:|--:|--:|",
        ]
        for row in props["files"]:
            stats = row["properties"].values()
            counts = [v["passing"] + v["failing"] + v["invalid"] for v in stats]
            span = f"{min(counts):,} / {max(counts):,}" if counts else ""
            rc = row["returncode"]
            result = row["summary"] or (
                f"killed by signal {-rc}" if isinstance(rc, int) and rc < 0 else f"rc {rc}"
            )
            if row["timed_out"]:
                result = "timed out"
            lines.append(f"| {row['file']} | {result} | {row['wall_s']} | {len(counts)} | {span} |")
    lines += [f"\n{note}" for note in report.get("notes", [])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the soak (or, with ``--worker``, one part of it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=10_000_000, help="env steps per family")
    p.add_argument("--num-envs", type=int, default=256, help="batch size of the family runs")
    p.add_argument("--sample-every", type=int, default=None, help="env steps between samples")
    p.add_argument(
        "--families", nargs="*", default=list(FAMILIES), choices=FAMILIES, help="none: skip"
    )
    p.add_argument("--train-minutes", type=float, default=30.0, help="0: no training part")
    p.add_argument("--train-env", default="mast_v0")
    p.add_argument("--train-sample-s", type=float, default=10.0)
    p.add_argument("--properties", action="store_true", help="also run the property tests")
    p.add_argument("--property-examples", type=int, default=100_000)
    p.add_argument("--property-timeout-s", type=float, default=4 * 3600.0, help="per file")
    p.add_argument("--property-files", nargs="+", default=list(PROPERTY_PATTERNS))
    p.add_argument("--warmup", type=float, default=0.2, help="fraction of samples left out")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    p.add_argument("--name", default="soak", help="results file name (default soak)")
    p.add_argument(
        "--add-to-existing",
        action="store_true",
        help="keep the parts of the existing results file that this run skips",
    )
    p.add_argument("--worker", choices=("family", "train"), help=argparse.SUPPRESS)
    p.add_argument("--env", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.train_minutes, args.property_examples = 200_000, 1.0, 20
        args.train_sample_s = 2.0
    sample_every = args.sample_every or max(args.num_envs, args.steps // 200)

    if args.worker == "family":
        result = family_worker(args.env, args.steps, args.num_envs, sample_every)
        print(json.dumps(result))
        return 0
    if args.worker == "train":
        result = train_worker(args.env, args.train_minutes, args.train_sample_s, 0)
        print(json.dumps(result))
        return 0

    import torch

    report: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "status": "running",
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "hypothesis": dist_version("hypothesis"),
            "load_at_start": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
        "rss_source": rss_source(),
        "settings": {
            "steps": args.steps,
            "num_envs": args.num_envs,
            "sample_every": sample_every,
            "train_minutes": args.train_minutes,
            "train_env": args.train_env,
            "warmup": args.warmup,
            "properties": args.properties,
            "property_examples": args.property_examples,
        },
        "families": {},
        "training": None,
        "properties": None,
    }
    json_path, md_path = RESULTS / f"{args.name}.json", RESULTS / f"{args.name}.md"
    if args.add_to_existing and json_path.is_file():
        old = json.loads(json_path.read_text(encoding="utf-8"))
        kept = {
            "families": not args.families,
            "training": args.train_minutes <= 0,
            "properties": not args.properties,
        }
        for key, keep in kept.items():
            if keep and old.get(key):
                report[key] = old[key]
                report.setdefault("kept_from_earlier_run", []).append(key)
        report["earlier_run"] = {"date": old.get("date"), "settings": old.get("settings")}

    def save() -> None:
        write_atomic(json_path, json.dumps(report, indent=1) + "\n")
        write_atomic(md_path, markdown(report))

    base = ["--num-envs", str(args.num_envs), "--sample-every", str(sample_every)]
    for env_id in args.families:
        print(f"[soak] {env_id}: {args.steps:,} env steps", file=sys.stderr, flush=True)
        part = _spawn(["--worker", "family", "--env", env_id, "--steps", str(args.steps), *base])
        if "samples" in part:
            part["growth"] = growth(part["samples"], args.warmup)
        report["families"][env_id] = part
        save()
    if args.train_minutes > 0:
        print(f"[soak] training {args.train_minutes} min", file=sys.stderr, flush=True)
        part = _spawn(
            [
                "--worker",
                "train",
                "--env",
                args.train_env,
                "--train-minutes",
                str(args.train_minutes),
                "--train-sample-s",
                str(args.train_sample_s),
            ]
        )
        if "samples" in part:
            part["growth"] = growth(part["samples"], args.warmup)
        report["training"] = part
        save()
    if args.properties:
        files = property_files(args.property_files)
        print(f"[soak] properties: {len(files)} files", file=sys.stderr, flush=True)
        report["properties"] = {
            "examples": args.property_examples,
            "files": run_properties(files, args.property_examples, args.property_timeout_s),
        }
    report["status"] = "done"
    report["machine"]["load_at_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    save()
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
