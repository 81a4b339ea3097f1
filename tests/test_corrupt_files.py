"""Corrupt files (issue 9, item 3): every file the project writes and later reads, damaged.

Files and the one exception each reader raises:

* model files of every learner (DecHDRQN checkpoints of ``mt-agents train``, PolicyDistillation,
  QLearning, SoftQLearning, MultiDistral, DCPG): :class:`ModelFileError`;
* ``run.json`` of ``mt-agents train``: ``UsageError`` (the CLI exits 2 with one error line);
* ``pipeline.json`` of the distillation pipeline: :class:`PipelineError`;
* drone map JSON files (``load_map("x.json")``, written by ``world_to_dict``): ``ValueError``;
* ``progress.csv`` (read by ``mt-agents plot``): the CLI exits 0 (damaged rows read as blanks)
  or 2 with one error line.

Damage: random byte flips, truncations at random offsets, members swapped, renamed, duplicated
or dropped (zip rewritten with valid CRCs), meta.json / JSON fields replaced by junk, and foreign
payloads (pickles that would create a file, a ``torch.save`` file, a Stable-Baselines3 zip, a zip
bomb, absurdly nested JSON, random bytes, an empty file, a folder, a FIFO, ``/dev/zero``).
Byte damage and member edits are refused with the reader's exception or, where they fall in
bytes no reader uses (a timestamp, two members of equal bytes swapped), load as exactly the
original. Junk written over one JSON field of a file with valid CRCs (an edited file) is refused
with the reader's exception or, where the new value is valid for that field, accepted; never
another exception. The foreign payloads and the meta.json junk run in a subprocess under a
4 GiB address-space limit: it must exit normally (no crash, no memory blow-up) and never create
the sentinel file the pickles would create. Counts are printed (``pytest -s``) and asserted.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import mt_agents
import mt_envs
from mt_agents import DecHDRQN, PolicyDistillation
from mt_agents.cli import UsageError, _read_run, latest_checkpoint, main
from mt_agents.common import ModelFileError
from mt_agents.dcpg import DCPG
from mt_agents.distillation.pipeline import PipelineConfig, PipelineError, _RunState
from mt_agents.tabular import MultiDistral, QLearning, SoftQLearning
from mt_envs import chain_v0, corridor_v0, gridworld_v0
from mt_envs.capture import CaptureTask
from mt_envs.drone.world import load_map, world_to_dict
from mt_envs.tasks import TaskSet, fixed

ROOT = Path(__file__).resolve().parents[1]
SMALL_NET: dict[str, Any] = {"lstm_hidden": 8, "pre_lstm": (8,), "post_lstm": (8,)}
TINY = ["--learning-starts", "16", "--batch-size", "4", "--verbose", "0", "--no-progress"]
TINY_NET = ["--lstm-hidden", "8", "--pre-lstm", "8", "--post-lstm", "8"]
MAST4 = ["--env", "mast_v0", "--task-set", "mast-2a-4to8", "--task", "0"]
#: Values written over a random JSON field (types, signs and sizes a reader must survive).
JUNK: tuple[Any, ...] = (
    None,
    True,
    -1,
    0,
    1.5,
    10**9,
    2**70,
    1e308,
    "x",
    "",
    [],
    {},
    [1, 2],
    {"a": 1},
    [[[]]],
    "float32",
)


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- damage ---------------------------------------------------------------------------------------
def flip(data: bytes, rng: np.random.Generator) -> bytes:
    """1 to 3 bytes XORed with random non-zero values."""
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        out[int(rng.integers(len(out)))] ^= int(rng.integers(1, 256))
    return bytes(out)


def truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(0, len(data)))]


def members(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def write_zip(path: Path, items: list[tuple[str, bytes]]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": what the duplicate case wants
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in items:
                zf.writestr(name, data)
    return path


def member_edit(items: list[tuple[str, bytes]], how: str, rng: np.random.Generator) -> Any:
    """Members swapped, renamed, duplicated, dropped or reordered (valid CRCs throughout)."""
    out = list(items)
    i, j = (int(k) for k in rng.choice(len(out), 2, replace=False))
    if how == "swap":
        out[i], out[j] = (out[i][0], out[j][1]), (out[j][0], out[i][1])
    elif how == "rename":
        out[i] = (out[i][0] + ".bak", out[i][1])
    elif how == "duplicate":
        out.insert(int(rng.integers(len(out) + 1)), (out[i][0], out[j][1]))
    elif how == "drop":
        del out[i]
    elif how == "reorder":
        out = [out[k] for k in rng.permutation(len(out))]
    return out


def json_junk(obj: Any, rng: np.random.Generator) -> Any:
    """``obj`` with one random field (or the whole) replaced by junk, or deleted."""
    paths: list[list[Any]] = []

    def walk(o: Any, path: list[Any]) -> None:
        paths.append(path)
        items = o.items() if isinstance(o, dict) else enumerate(o) if isinstance(o, list) else ()
        for k, v in items:
            walk(v, [*path, k])

    walk(obj, [])
    path = paths[int(rng.integers(len(paths)))]
    value = JUNK[int(rng.integers(len(JUNK)))]
    if not path:
        return value
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    if isinstance(parent, dict) and rng.random() < 0.2:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return obj


class Tally:
    """Counts of one file kind: tried, refused with the reader's exception, harmless."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.counts: Counter[str] = Counter()

    def add(self, damage: str, outcome: str) -> None:
        self.counts[f"{damage}:{outcome}"] += 1

    def report(self) -> dict[str, int]:
        tried = sum(self.counts.values())
        refused = sum(v for k, v in self.counts.items() if k.endswith(":refused"))
        print(
            f"\n[corrupt-files] {self.kind}: tried {tried}, refused {refused}, {dict(self.counts)}"
        )
        return {"tried": tried, "refused": refused}


# -- model files ----------------------------------------------------------------------------------
def fingerprint(model: Any) -> dict[str, Any]:
    """What a loaded model is: its class, counters, hyperparameters and every parameter."""
    params = model.get_parameters()
    flat = {}
    for name, value in params.items():
        if isinstance(value, dict):
            for key, t in value.items():
                flat[f"{name}/{key}"] = t.detach().cpu().numpy().tobytes()
        else:
            flat[name] = np.asarray(value).tobytes()
    return {
        "class": type(model).__name__,
        "num_timesteps": int(model.num_timesteps),
        "hp": json.dumps(model._hyperparameters(), sort_keys=True),
        "params": flat,
    }


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ``mt-agents train`` run: run.json, progress.csv, checkpoints, model.zip."""
    run = tmp_path_factory.mktemp("run") / "run"
    argv = ["train", "dec-hdrqn", *MAST4, "--timesteps", "96", "--num-envs", "4"]
    argv += ["--checkpoint-freq", "32", "--log-every", "16", *TINY, *TINY_NET, "--out", str(run)]
    assert main(argv) == 0
    return run


@pytest.fixture(scope="module")
def model_files(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small trained model of every learner (the DecHDRQN one is a CLI checkpoint)."""
    out = tmp_path_factory.mktemp("models")
    ckpt = latest_checkpoint(run_dir)
    assert ckpt is not None
    files = {"dec_hdrqn_checkpoint": ckpt}
    tasks = TaskSet(
        "two",
        (CaptureTask.mamt(3, n_agents=2, flicker=0.3), CaptureTask.mamt(4, n_agents=2)),
    )
    teachers = {
        k: DecHDRQN(
            mt_envs.make_vec("mamt_v0", 2, tasks=tasks, sampler=fixed(k), seed=k),
            seed=k,
            device="cpu",
            **SMALL_NET,
        )
        for k in range(2)
    }
    venv = mt_envs.make_vec("mamt_v0", 2, tasks=tasks, seed=0)
    student = PolicyDistillation(venv, teachers, seed=0, learning_starts=0, device="cpu")
    files["policy_distillation"] = student.learn(32).save(out / "student.zip")
    corridor = corridor_v0.parallel_env(tasks="corridor-5")
    files["q_learning"] = QLearning(corridor, seed=0).learn(50).save(out / "q.zip")
    chain = chain_v0.vector_env(2, tasks="chain-2", mode="sampled")
    files["soft_q_learning"] = SoftQLearning(chain, seed=0).learn(50).save(out / "soft.zip")
    corridor = corridor_v0.parallel_env(tasks="corridor-5")
    files["multidistral"] = MultiDistral(corridor, seed=0).learn(50).save(out / "md.zip")
    grid = gridworld_v0.parallel_env(tasks="gridworld-conflict-4")
    files["dcpg"] = DCPG(grid, seed=0).learn(10).save(out / "dcpg.zip")
    return files


MODEL_KINDS = (
    "dec_hdrqn_checkpoint",
    "policy_distillation",
    "q_learning",
    "soft_q_learning",
    "multidistral",
    "dcpg",
)
#: Trials per model kind: (damage, count). Member edits always rewrite a zip with valid CRCs.
MODEL_TRIALS = (
    ("flip", 12),
    ("truncate", 6),
    ("swap", 6),
    ("rename", 4),
    ("duplicate", 6),
    ("drop", 4),
    ("reorder", 2),
)


def load(path: Path) -> Any:
    return mt_agents.load_model(path, device="cpu")


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_damaged_model_files_are_refused_or_harmless(
    kind: str, model_files: dict[str, Path], tmp_path: Path
) -> None:
    path = model_files[kind]
    data = path.read_bytes()
    items = members(path)
    reference = fingerprint(load(path))
    rng = np.random.default_rng([9, MODEL_KINDS.index(kind)])
    tally = Tally(f"model file ({kind})")
    for damage, count in MODEL_TRIALS:
        for t in range(count):
            bad = tmp_path / f"{damage}{t}.zip"
            if damage == "flip":
                bad.write_bytes(flip(data, rng))
            elif damage == "truncate":
                bad.write_bytes(truncate(data, rng))
            else:
                write_zip(bad, member_edit(items, damage, rng))
            try:
                loaded = load(bad)
            except ModelFileError:
                tally.add(damage, "refused")
                continue
            # Accepted: only where the damage changed nothing a reader uses (a flipped
            # timestamp, two members of equal bytes swapped, members in another order).
            assert damage in ("flip", "swap", "reorder"), (damage, t)
            assert fingerprint(loaded) == reference, (damage, t)
            tally.add(damage, "harmless")
    counts = tally.report()
    assert tally.counts["reorder:harmless"] == 2  # no false alarm on a valid reordering
    # truncations, renames, duplicates and dropped members are always refused
    for damage in ("truncate", "rename", "duplicate", "drop"):
        assert tally.counts[f"{damage}:harmless"] == 0
    assert counts["refused"] >= counts["tried"] - 2 - 6


def test_swapped_equal_shaped_tensors_are_refused(
    model_files: dict[str, Path], tmp_path: Path
) -> None:
    """Swapping two tensors of one shape and dtype (the observation bounds, Adam's two
    moments) keeps every zip CRC and every index entry valid: the per-member CRC in meta.json
    is what refuses it."""
    items = dict(members(model_files["dec_hdrqn_checkpoint"]))
    low, high = "spaces/observation_low.npy", "spaces/observation_high.npy"
    assert items[low] != items[high]
    swapped = {**items, low: items[high], high: items[low]}
    with pytest.raises(ModelFileError, match="does not hold the data meta.json indexes"):
        load(write_zip(tmp_path / "swapped.zip", list(swapped.items())))


#: Runs in a subprocess under an address-space limit: foreign payloads and meta.json junk.
NASTY = r"""
import io, json, os, pickle, resource, sys, zipfile, warnings
from pathlib import Path
import numpy as np
resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))
import torch
torch.set_num_threads(1)
import mt_agents
from mt_agents.common import ModelFileError

work, marker = Path(sys.argv[1]), Path(sys.argv[2])
sources = json.loads(sys.argv[3])
n_junk = int(sys.argv[4])
JUNK = json.loads(sys.argv[5])
tally = {"tried": 0, "refused": 0, "loaded": 0, "other": []}

class Payload:
    def __reduce__(self):
        return (open, (str(marker), "w"))

def attempt(name, path):
    tally["tried"] += 1
    try:
        mt_agents.load_model(path, device="cpu")
    except ModelFileError:
        tally["refused"] += 1
        return
    except BaseException as exc:
        tally["other"].append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
        return
    tally["loaded"] += 1
    tally.setdefault("loaded_names", []).append(name)

def zip_of(path, items):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for n, d in items:
                zf.writestr(n, d)
    return path

raw = pickle.dumps(Payload())
(work / "pickle.zip").write_bytes(raw)
attempt("raw pickle", work / "pickle.zip")
torch.save({"weights": torch.zeros(2), "payload": Payload()}, work / "torch.pt")
attempt("torch.save file", work / "torch.pt")
pt = zipfile.ZipFile(work / "torch.pt")
attempt("torch.save members + meta.json", zip_of(work / "pt_meta.zip",
        [(i.filename, pt.read(i)) for i in pt.infolist()] +
        [("meta.json", zipfile.ZipFile(sources["dec_hdrqn_checkpoint"]).read("meta.json"))]))
obj = np.empty(1, dtype=object); obj[0] = Payload()
buf = io.BytesIO(); np.save(buf, obj, allow_pickle=True)
ckpt = zipfile.ZipFile(sources["dec_hdrqn_checkpoint"])
items = [(i.filename, ckpt.read(i)) for i in ckpt.infolist()]
name = [n for n, _ in items if n.startswith("tensors/")][0]
attempt("object .npy in place of a tensor",
        zip_of(work / "objnpy.zip", [(n, buf.getvalue() if n == name else d) for n, d in items]))
from stable_baselines3.common.save_util import save_to_zip_file
# SB3's own writer: data JSON (its non-JSON entries cloudpickled: SB3.load would run them),
# policy.pth and pytorch_variables.pth (torch.save files)
save_to_zip_file(work / "sb3_dqn.zip", data={"gamma": 0.99, "policy_class": Payload()},
                 params={"policy": {"q_net.weight": torch.zeros(2, 4)}},
                 pytorch_variables={"log_ent_coef": torch.zeros(1)})
attempt("Stable-Baselines3 zip", work / "sb3_dqn.zip")
sb = zipfile.ZipFile(work / "sb3_dqn.zip")
meta_member = [(n, d) for n, d in items if n == "meta.json"]
attempt("SB3 zip + a valid meta.json", zip_of(work / "sb3_meta.zip",
        [(i.filename, sb.read(i)) for i in sb.infolist()] + meta_member))
(work / "random.zip").write_bytes(np.random.default_rng(0).bytes(4096))
attempt("random bytes", work / "random.zip")
(work / "empty.zip").write_bytes(b"")
attempt("empty file", work / "empty.zip")
(work / "folder.zip").mkdir()
attempt("a folder", work / "folder.zip")
os.mkfifo(work / "fifo.zip")
attempt("a FIFO (would block a reader)", work / "fifo.zip")
os.symlink("/dev/zero", work / "zero.zip")
attempt("/dev/zero (endless)", work / "zero.zip")
bomb = zipfile.ZipFile(work / "bomb.zip", "w", zipfile.ZIP_DEFLATED)
bomb.writestr("meta.json", b" " * (65 * 2**20))
bomb.close()
attempt("zip bomb (65 MiB meta.json)", work / "bomb.zip")
attempt("absurdly nested meta.json", zip_of(work / "deep.zip",
        [("meta.json", b"[" * 200000 + b"]" * 200000)]))
attempt("meta.json not UTF-8", zip_of(work / "latin.zip", [("meta.json", b"\xff\xfe{}")]))
rng = np.random.default_rng(11)
for kind, src in sorted(sources.items()):
    z = zipfile.ZipFile(src)
    its = [(i.filename, z.read(i)) for i in z.infolist()]
    meta0 = json.loads(dict(its)["meta.json"])
    for t in range(n_junk):
        meta = json.loads(json.dumps(meta0))
        paths = []
        def walk(o, p):
            paths.append(p)
            if isinstance(o, dict):
                for k, v in o.items(): walk(v, p + [k])
            elif isinstance(o, list):
                for k, v in enumerate(o): walk(v, p + [k])
        walk(meta, [])
        p = paths[int(rng.integers(len(paths)))]
        value = JUNK[int(rng.integers(len(JUNK)))]
        if not p:
            meta = value
        else:
            parent = meta
            for k in p[:-1]:
                parent = parent[k]
            if isinstance(parent, dict) and rng.random() < 0.2:
                del parent[p[-1]]
            else:
                parent[p[-1]] = value
        out = [(n, json.dumps(meta).encode() if n == "meta.json" else d) for n, d in its]
        attempt(f"{kind} meta.json {p}={value!r}"[:160], zip_of(work / f"junk_{kind}_{t}.zip", out))
tally["marker"] = marker.exists()
pickle.loads(raw).close()  # the payload is live: unpickling it does create the marker
tally["payload_live"] = marker.exists()
print(json.dumps(tally))
"""


def test_foreign_payloads_and_meta_junk_in_a_subprocess(
    model_files: dict[str, Path], tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    work = tmp_path / "work"
    work.mkdir()
    sources = {k: str(v) for k, v in model_files.items()}
    n_junk = 12
    cmd = [sys.executable, "-c", NASTY, str(work), str(marker), json.dumps(sources)]
    cmd += [str(n_junk), json.dumps([v if v != 2**70 else 2**62 for v in JUNK])]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]  # no crash, no memory blow-up
    tally = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"\n[corrupt-files] foreign payloads + meta.json junk (subprocess): tried "
        f"{tally['tried']}, refused {tally['refused']}, loaded {tally['loaded']} (edits of "
        f"fields a model may hold), other {len(tally['other'])}"
    )
    assert tally["other"] == []  # one exception type: ModelFileError
    assert not tally["marker"]  # no pickle ever ran while loading
    assert tally["payload_live"]  # (and the payloads were live: unpickling creates the file)
    foreign = 14
    assert tally["tried"] == foreign + n_junk * len(MODEL_KINDS)
    assert not any(
        not name.startswith(MODEL_KINDS) for name in tally.get("loaded_names", [])
    )  # every foreign payload refused


# -- run.json -------------------------------------------------------------------------------------
def _resume_quietly(run: Path, steps: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    argv = ["train", "dec-hdrqn", "--out", str(run), "--resume", "--timesteps", str(steps)]
    code = main([*argv, "--num-envs", "2", "--verbose", "0", "--no-progress"])
    return code, capsys.readouterr().err


def test_damaged_run_json(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A damaged ``run.json`` is refused with UsageError (exit 2, one line); an edit that
    leaves it valid resumes (here with nothing left to do)."""
    good = (run_dir / "run.json").read_bytes()
    settings = json.loads(good)
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").mkdir()
    ckpt = latest_checkpoint(run_dir)
    assert ckpt is not None
    (run / "checkpoints" / ckpt.name).write_bytes(ckpt.read_bytes())
    steps = int(settings["timesteps"])
    rng = np.random.default_rng(21)
    tally = Tally("run.json")
    cases: list[tuple[str, Callable[[], bytes]]] = [("flip", lambda: flip(good, rng))] * 14
    cases += [("truncate", lambda: truncate(good, rng))] * 8
    cases += [("junk", lambda: json.dumps(json_junk(json.loads(good), rng)).encode())] * 24
    cases += [
        ("foreign", lambda: b""),
        ("foreign", lambda: pickle.dumps({"algorithm": "dec-hdrqn"})),
        ("foreign", lambda: b"[" * 100000 + b"]" * 100000),
        ("foreign", lambda: b"\x00" * 64),
        ("foreign", lambda: json.dumps({"algorithm": "dec-hdrqn", "env": "mast_v0"}).encode()),
    ]
    for damage, make in cases:
        (run / "run.json").write_bytes(make())
        try:
            _read_run(run)
        except UsageError:
            tally.add(damage, "refused")
            code, err = _resume_quietly(run, steps, capsys)
            assert code == 2 and len(err.strip().splitlines()) == 1, err
            assert err.startswith("mt-agents: error: ") and "run.json" in err
            continue
        code, err = _resume_quietly(run, steps, capsys)
        assert code in (0, 2) and "Traceback" not in err, err
        tally.add(damage, "accepted" if code == 0 else "refused-later")
    (run / "run.json").unlink()
    (run / "run.json").mkdir()  # a folder in its place
    with pytest.raises(UsageError, match="unreadable"):
        _read_run(run)
    tally.add("foreign", "refused")
    counts = tally.report()
    assert tally.counts["truncate:accepted"] == 0
    assert counts["refused"] >= 20


# -- pipeline.json --------------------------------------------------------------------------------
def test_damaged_pipeline_json(tmp_path: Path) -> None:
    """``pipeline.json`` damaged: PipelineError when opened for resuming, or (an edit that
    keeps it valid) a state whose phase records are read without error."""
    config = PipelineConfig(
        task_set="mamt-2a-3to6", tasks=(0, 1), specialist_timesteps=(10, 20), eval_episodes=2
    )
    out = tmp_path / "pipe"
    state = _RunState.open(out, config, resume=False)
    state.phases = {
        "specialists": {
            "0": {"done": True, "model": "specialists/task0/model.zip", "timesteps": 10},
            "1": {"done": True, "model": "specialists/task1/model.zip", "timesteps": 20},
        },
        "distill": {"done": True, "model": "distill/model.zip", "timesteps": 5, "wall_s": 1.0},
    }
    state.save()
    good = (out / "pipeline.json").read_bytes()
    rng = np.random.default_rng(31)
    tally = Tally("pipeline.json")
    cases: list[tuple[str, Callable[[], bytes]]] = [("flip", lambda: flip(good, rng))] * 20
    cases += [("truncate", lambda: truncate(good, rng))] * 10
    cases += [("junk", lambda: json.dumps(json_junk(json.loads(good), rng)).encode())] * 40
    cases += [
        ("foreign", lambda: b""),
        ("foreign", lambda: pickle.dumps({"format": "mt-agents-distill-pipeline"})),
        ("foreign", lambda: b"[" * 100000 + b"]" * 100000),
        ("foreign", lambda: b'{"format": "mt-agents-distill-pipeline"}'),
    ]
    for damage, make in cases:
        (out / "pipeline.json").write_bytes(make())
        try:
            opened = _RunState.open(out, None, resume=True)
        except PipelineError:
            tally.add(damage, "refused")
            continue
        for phase in ("specialists", "distill", "multi_hdrqn", "evaluate", "report"):
            opened.done(phase)
        opened.done("specialists", "0")
        opened.config.specialist_steps(len(opened.config.task_set_obj()))
        tally.add(damage, "accepted")
    counts = tally.report()
    assert tally.counts["truncate:accepted"] == 0
    assert counts["refused"] >= 40


# -- drone map JSON -------------------------------------------------------------------------------
def test_damaged_drone_map_files(tmp_path: Path) -> None:
    """A map file (the JSON form ``world_to_dict`` writes) damaged: ``load_map`` raises
    ValueError, or (an edit that keeps it valid) returns a valid World."""
    good = json.dumps(world_to_dict(load_map("rooms"))).encode()
    rng = np.random.default_rng(41)
    tally = Tally("drone map JSON")
    cases: list[tuple[str, Callable[[], bytes]]] = [("flip", lambda: flip(good, rng))] * 20
    cases += [("truncate", lambda: truncate(good, rng))] * 10
    cases += [("junk", lambda: json.dumps(json_junk(json.loads(good), rng)).encode())] * 50
    cases += [
        ("foreign", lambda: b""),
        ("foreign", lambda: pickle.dumps({"name": "x"})),
        ("foreign", lambda: b"[" * 100000 + b"]" * 100000),
    ]
    for k, (damage, make) in enumerate(cases):
        path = tmp_path / f"map{k}.json"  # a new name each time: load_map caches by name
        path.write_bytes(make())
        try:
            world = load_map(str(path))
        except ValueError:
            tally.add(damage, "refused")
            continue
        world.validate()
        tally.add(damage, "accepted")
    counts = tally.report()
    assert counts["refused"] >= 50


# -- progress.csv ---------------------------------------------------------------------------------
def test_damaged_progress_csv_plot(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``mt-agents plot`` on a damaged ``progress.csv`` (a run killed mid-write leaves half a
    row): it plots (damaged cells are blanks) or exits 2 with one line, never a traceback."""
    pytest.importorskip("matplotlib")
    good = (run_dir / "progress.csv").read_bytes()
    rng = np.random.default_rng(51)
    run = tmp_path / "run"
    run.mkdir()
    tally = Tally("progress.csv")
    cases = [("flip", flip(good, rng)) for _ in range(3)]
    cases += [("truncate", truncate(good, rng)) for _ in range(3)]
    cases += [("foreign", b"\x00" * 32), ("foreign", b"\xff\xfe\x00a,b\n1,2\n"), ("foreign", b"")]
    for damage, data in cases:
        (run / "progress.csv").write_bytes(data)
        code = main(["plot", str(run), "--out", str(tmp_path / "p.png")])
        err = capsys.readouterr().err
        assert code in (0, 2) and "Traceback" not in err, err
        if code == 2:
            assert len(err.strip().splitlines()) == 1 and err.startswith("mt-agents: error: ")
        tally.add(damage, "refused" if code == 2 else "plotted")
    tally.report()
