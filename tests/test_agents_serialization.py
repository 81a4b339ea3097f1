"""Safe model files: round trips, atomic writes, and every kind of bad file refused clearly."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from test_agents_common import LinearQ, make_venv

import mt_agents
import mt_envs
from mt_agents.common import ModelFileError, ModelFileNotFoundError, MultiAgentAlgorithm
from mt_agents.common.serialization import read_model_file, write_model_file
from mt_agents.common.utils import atomic_write
from mt_envs.capture import CaptureTask

torch.set_num_threads(1)


class OtherQ(LinearQ):
    algorithm_name = "test_other_q"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[LinearQ, Path]:
    model = LinearQ(make_venv(), seed=0, device="cpu").learn(800)
    path = model.save(tmp_path_factory.mktemp("model") / "linq")
    return model, path


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def edit_meta(files: dict[str, bytes], fn: Any) -> dict[str, bytes]:
    meta = json.loads(files["meta.json"])
    for entry in meta["arrays"].values():  # an edited file: drop the CRCs it would not match
        entry.pop("crc32", None)
    fn(meta)
    return {**files, "meta.json": json.dumps(meta).encode()}


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=arr.dtype == object)
    return buf.getvalue()


# ------------------------------------------------------------------------------- round trip


def test_round_trip_identical_predictions(trained: tuple[LinearQ, Path], tmp_path: Path) -> None:
    model, path = trained
    assert path.name == "linq.zip"
    venv = make_venv(seed=5)
    obs, _ = venv.reset(seed=5)
    expected, _ = model.predict(obs, deterministic=True)
    for env in (venv, None):
        loaded = LinearQ.load(path, env=env, device="cpu")
        np.testing.assert_array_equal(loaded.predict(obs, deterministic=True)[0], expected)
        for name, state in model.get_parameters().items():
            for key, tensor in state.items():
                assert torch.equal(loaded.get_parameters()[name][key], tensor)
        assert loaded.num_timesteps == 800 and loaded.updates == model.updates
        assert loaded._hyperparameters() == model._hyperparameters()
        assert loaded.task_set == model.task_set and loaded.num_agents == 2
    # optimizer state restored tensor for tensor
    loaded = LinearQ.load(str(path)[:-4], env=venv)  # ".zip" found, as in SB3
    a, b = model.optimizer.state_dict(), loaded.optimizer.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for pid, pstate in a["state"].items():
        for key, value in pstate.items():
            assert torch.equal(value, b["state"][pid][key])
    # the base class (and mt_agents.load_model) builds the class the file names
    assert type(MultiAgentAlgorithm.load(path)) is LinearQ
    assert type(mt_agents.load_model(path)) is LinearQ
    # overrides replace saved hyperparameters
    assert LinearQ.load(path, learning_rate=0.5, epsilon=0.0).epsilon == 0.0
    # the dict form of a loaded model (env=None) uses the saved agent names
    solo = LinearQ.load(path)
    actions, _ = solo.predict({"agent_0": obs[0, 0], "agent_1": obs[0, 1]}, deterministic=True)
    assert actions == {"agent_0": int(expected[0, 0]), "agent_1": int(expected[0, 1])}


def test_set_parameters_from_file(trained: tuple[LinearQ, Path], tmp_path: Path) -> None:
    model, path = trained
    fresh = LinearQ(make_venv(), seed=9, device="cpu")
    assert not torch.equal(fresh.q_net.weight, model.q_net.weight)
    fresh.set_parameters(path)
    for name, state in model.get_parameters().items():
        for key, tensor in state.items():
            assert torch.equal(fresh.get_parameters()[name][key], tensor)
    other = OtherQ(make_venv(), seed=0, device="cpu").save(tmp_path / "other.zip")
    with pytest.raises(ModelFileError, match="holds a 'test_other_q' model"):
        fresh.set_parameters(other)


def test_resume_training_continues_counts(trained: tuple[LinearQ, Path]) -> None:
    _, path = trained
    venv = make_venv()
    model = LinearQ.load(path, env=venv)
    model.learn(160, reset_num_timesteps=False)
    assert model.num_timesteps == 960 and model.updates == 120


def test_files_are_deterministic_and_atomic(trained: tuple[LinearQ, Path], tmp_path: Path) -> None:
    model, path = trained
    again = model.save(tmp_path / "again.zip")
    assert again.read_bytes() == path.read_bytes()  # fixed timestamps, sorted members
    assert sorted(os.listdir(tmp_path)) == ["again.zip"]  # no temporary files left
    slim = model.save(tmp_path / "slim.zip", include_optimizer=False)
    assert not any(n.startswith("optimizers/") for n in members(slim))
    assert LinearQ.load(slim).num_timesteps == 800
    # an interrupted write leaves the old file untouched and no temporary file behind
    target = tmp_path / "again.zip"

    def fail(f: Any) -> None:
        f.write(b"half a model")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, fail)
    assert target.read_bytes() == path.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["again.zip", "slim.zip"]


def test_model_file_layout(trained: tuple[LinearQ, Path]) -> None:
    _, path = trained
    names = set(members(path))
    assert "meta.json" in names
    assert {"tensors/q_net/weight.npy", "tensors/q_target/bias.npy"} <= names
    assert not any(n.endswith((".pkl", ".pt", ".pth")) for n in names)
    meta = json.loads(members(path)["meta.json"])
    assert meta["format"] == "mt_agents.model" and meta["format_version"] == 1
    assert meta["algorithm_name"] == "test_linear_q"
    assert meta["num_agents"] == 2 and meta["action_space"] == {"n": 5}
    assert meta["observation_space"]["shape"] == [5]
    assert meta["task_set"]["name"] == "mast-2a-4to8"
    assert {"torch_version", "numpy_version", "mt_agents_version"} <= set(meta)
    assert meta["hyperparameters"]["epsilon"] == 0.2


# ------------------------------------------------------------------------------- code execution


class Payload:
    """Unpickling this creates a marker file: what a malicious model file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_pickle_payloads_are_never_executed(trained: tuple[LinearQ, Path], tmp_path: Path) -> None:
    _, path = trained
    marker = tmp_path / "pwned"
    payload = np.empty(1, dtype=object)
    payload[0] = Payload(marker)
    files = members(path)
    # 1. a tensor replaced by an object array (a pickle inside the .npy), index edited to match
    evil = {**files, "tensors/q_net/bias.npy": npy(payload)}
    evil = edit_meta(
        evil,
        lambda m: m["arrays"].update({"tensors/q_net/bias.npy": {"dtype": "|O", "shape": [1]}}),
    )
    with pytest.raises(ModelFileError, match="only numeric arrays"):
        LinearQ.load(write_zip(tmp_path / "evil1.zip", evil))
    # 2. the same with the original index: the header says object, the file is refused
    evil = {**files, "tensors/q_net/bias.npy": npy(payload)}
    with pytest.raises(ModelFileError, match="pickled Python objects"):
        LinearQ.load(write_zip(tmp_path / "evil2.zip", evil))
    # 3. a torch.save-style archive (data.pkl) and a raw pickle file
    raw = pickle.dumps(Payload(marker))
    with pytest.raises(ModelFileError, match="no meta.json"):
        LinearQ.load(write_zip(tmp_path / "evil3.zip", {"archive/data.pkl": raw}))
    (tmp_path / "evil4.zip").write_bytes(raw)
    with pytest.raises(ModelFileError, match="not a zip"):
        LinearQ.load(tmp_path / "evil4.zip")
    # 4. a pickle smuggled in as an extra member next to a valid model
    with pytest.raises(ModelFileError, match="unexpected members"):
        LinearQ.load(write_zip(tmp_path / "evil5.zip", {**files, "data.pkl": raw}))
    assert not marker.exists()
    # the payload is real: unpickling it does create the file
    pickle.loads(raw).close()
    assert marker.exists()


# ------------------------------------------------------------------------------- damaged files


def test_missing_empty_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFileNotFoundError, match="no model file") as info:
        LinearQ.load(tmp_path / "nothing.zip")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(ModelFileNotFoundError):
        LinearQ.load(tmp_path)  # a folder
    (tmp_path / "empty.zip").write_bytes(b"")
    (tmp_path / "text.zip").write_text("hello")
    for name in ("empty.zip", "text.zip"):
        with pytest.raises(ModelFileError, match="not a zip archive"):
            LinearQ.load(tmp_path / name)
    with pytest.raises(ModelFileError, match="not valid JSON"):
        LinearQ.load(write_zip(tmp_path / "j.zip", {"meta.json": b"{nope"}))
    with pytest.raises(ModelFileError, match="does not describe an mt_agents model"):
        LinearQ.load(write_zip(tmp_path / "f.zip", {"meta.json": b'{"format": "sb3"}'}))


def test_truncated_files(trained: tuple[LinearQ, Path], tmp_path: Path) -> None:
    _, path = trained
    data = path.read_bytes()
    for frac in (0.02, 0.25, 0.5, 0.75, 0.99):
        cut = tmp_path / f"cut{frac}.zip"
        cut.write_bytes(data[: int(len(data) * frac)])
        with pytest.raises(ModelFileError):
            LinearQ.load(cut)


def test_byte_flips_are_refused_or_harmless(trained: tuple[LinearQ, Path], tmp_path: Path) -> None:
    """A flipped byte either makes loading fail with ModelFileError or falls in a field that
    no reader uses (timestamps, attributes): then the model is exactly the original."""
    model, path = trained
    data = bytearray(path.read_bytes())
    ref = model.get_parameters()
    data_bytes: set[int] = set()  # where member contents lie: flips there must be refused
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
            data_bytes.update(range(start, start + info.compress_size))
    rng = np.random.default_rng(0)
    offsets = rng.choice(len(data), size=120, replace=False)
    refused = 0
    flipped = tmp_path / "flip.zip"
    for off in offsets:
        bad = bytearray(data)
        bad[off] ^= 0xFF
        flipped.write_bytes(bytes(bad))
        try:
            loaded = LinearQ.load(flipped)
        except ModelFileError:
            refused += 1
            continue
        if off in data_bytes:  # a flip deflate ignores (e.g. an unused Huffman code length)
            assert members(flipped) == members(path), off
        for name, state in ref.items():
            for key, tensor in state.items():
                assert torch.equal(loaded.get_parameters()[name][key], tensor), off
        assert loaded._hyperparameters() == model._hyperparameters()
    assert refused >= 80


def test_other_algorithm(trained: tuple[LinearQ, Path], tmp_path: Path) -> None:
    _, path = trained
    other = OtherQ(make_venv(), seed=0, device="cpu").save(tmp_path / "other.zip")
    with pytest.raises(ModelFileError, match="holds a 'test_other_q' model, not 'test_linear_q'"):
        LinearQ.load(other)
    with pytest.raises(ModelFileError, match="holds a 'test_linear_q' model"):
        OtherQ.load(path)
    assert type(MultiAgentAlgorithm.load(other)) is OtherQ
    unknown = edit_meta(members(path), lambda m: m.update(algorithm_name="ppo"))
    with pytest.raises(ModelFileError, match="unknown algorithm 'ppo'"):
        MultiAgentAlgorithm.load(write_zip(tmp_path / "ppo.zip", unknown))


def test_other_spaces_or_agent_count(trained: tuple[LinearQ, Path], tmp_path: Path) -> None:
    _, path = trained
    onehot = make_venv(obs_encoding="onehot")
    with pytest.raises(ModelFileError, match=r"observations Box.*instead of shape \(5,\)"):
        LinearQ.load(path, env=onehot)
    three = mt_envs.make_vec("mast_v0", 2, tasks=[CaptureTask(grid_size=4, n_agents=3)])
    with pytest.raises(ModelFileError, match="3 agent slots instead of 2"):
        LinearQ.load(path, env=three)
    # a file claiming 4 actions: refused against the env, and its tensors do not fit alone
    four = edit_meta(members(path), lambda m: m["action_space"].update(n=4))
    four_path = write_zip(tmp_path / "four.zip", four)
    with pytest.raises(ModelFileError, match=r"actions Discrete\(5\) instead of Discrete\(4\)"):
        LinearQ.load(four_path, env=make_venv())
    with pytest.raises(
        ModelFileError, match=r"is torch.float32 \[5\], the network needs torch.float32 \[4\]"
    ):
        LinearQ.load(four_path)


def test_missing_extra_and_misshaped_tensors(trained: tuple[LinearQ, Path], tmp_path: Path) -> None:
    _, path = trained
    files = members(path)
    member = "tensors/q_net/bias.npy"

    def drop(meta: dict[str, Any]) -> None:
        del meta["arrays"][member]
        del meta["modules"]["q_net"]["bias"]

    cases = {
        # member and index entries removed consistently: the network misses a tensor
        "missing tensors \\['bias'\\]": edit_meta(
            {k: v for k, v in files.items() if k != member}, drop
        ),
        # member removed, index kept: truncated or edited archive
        "lacks members": {k: v for k, v in files.items() if k != member},
        # a tensor the network does not have
        "unexpected tensors \\['extra'\\]": edit_meta(
            {**files, "tensors/q_net/extra.npy": npy(np.zeros(3, np.float32))},
            lambda m: (
                m["arrays"].update({"tensors/q_net/extra.npy": {"dtype": "<f4", "shape": [3]}}),
                m["modules"]["q_net"].update(
                    extra={
                        "member": "tensors/q_net/extra.npy",
                        "torch_dtype": "float32",
                        "shape": [3],
                    }
                ),
            ),
        ),
        # a tensor of another shape, index edited to match
        r"'bias' is torch.float32 \[7\], the network needs torch.float32 \[5\]": edit_meta(
            {**files, member: npy(np.zeros(7, np.float32))},
            lambda m: (
                m["arrays"][member].update(shape=[7]),
                m["modules"]["q_net"]["bias"].update(shape=[7]),
            ),
        ),
        # far more data than the declared shape holds (never read whole)
        "larger than its declared shape allows": {
            **files,
            member: npy(np.zeros(10**5, np.float32)),
        },
        # the .npy disagrees with the index
        "meta.json says float32 \\[5\\]": {**files, member: npy(np.zeros(5, np.float64))},
        # another dtype, index edited to match
        "torch.float64 \\[5\\], the network needs torch.float32": edit_meta(
            {**files, member: npy(np.zeros(5, np.float64))},
            lambda m: (
                m["arrays"][member].update(dtype="<f8"),
                m["modules"]["q_net"]["bias"].update(torch_dtype="float64"),
            ),
        ),
        # a whole module missing
        "holds networks \\['q_net'\\]": edit_meta(files, lambda m: m["modules"].pop("q_target")),
        # optimizer state of the wrong shape
        "state 'exp_avg' of parameter 0 has shape \\[3\\]": edit_meta(
            {**files, "optimizers/q_net/0/exp_avg.npy": npy(np.zeros(3, np.float32))},
            lambda m: (
                m["arrays"]["optimizers/q_net/0/exp_avg.npy"].update(shape=[3]),
                m["optimizers"]["q_net"]["state"]["0"]["exp_avg"].update(shape=[3]),
            ),
        ),
    }
    for k, (pattern, content) in enumerate(cases.items()):
        with pytest.raises(ModelFileError, match=pattern):
            LinearQ.load(write_zip(tmp_path / f"case{k}.zip", content))


def test_versions_and_hyperparameters(trained: tuple[LinearQ, Path], tmp_path: Path) -> None:
    _, path = trained
    files = members(path)
    newer = edit_meta(files, lambda m: m.update(format_version=2))
    with pytest.raises(ModelFileError, match="format version 2, this mt_agents reads up to 1"):
        LinearQ.load(write_zip(tmp_path / "v2.zip", newer))
    bad_hp = edit_meta(files, lambda m: m["hyperparameters"].update(hidden_units=64))
    with pytest.raises(ModelFileError, match="does not accept the saved hyperparameters"):
        LinearQ.load(write_zip(tmp_path / "hp.zip", bad_hp))
    bad_gamma = edit_meta(files, lambda m: m["hyperparameters"].update(gamma=7))
    with pytest.raises(ModelFileError, match="gamma=7"):
        LinearQ.load(write_zip(tmp_path / "gamma.zip", bad_gamma))


def test_writer_refuses_non_numeric_arrays(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="only numbers can be saved"):
        write_model_file(
            tmp_path / "x.zip", {"format": "mt_agents.model"}, {"a.npy": np.array(["s"])}
        )
    assert not (tmp_path / "x.zip").exists()
    path = write_model_file(
        tmp_path / "ok",
        {"format": "mt_agents.model", "format_version": 1},
        {"a.npy": np.arange(3, dtype=np.int16), "b.npy": np.ones((2, 2), dtype=bool)},
    )
    assert path.name == "ok.zip"
    meta, arrays = read_model_file(path)
    assert arrays["a.npy"].dtype == np.int16 and arrays["b.npy"].all()
    assert meta["arrays"]["b.npy"] == {
        "dtype": "|b1",
        "shape": [2, 2],
        "crc32": zlib.crc32(npy(np.ones((2, 2), dtype=bool))),
    }
