"""Safe model files: a zip of ``meta.json`` and ``.npy`` tensors, read without unpickling.

Layout of a model file (format version 1)::

    meta.json                          format, versions, algorithm, hyperparameters, spaces,
                                       task set, counters, and an index of every array member
    spaces/observation_low.npy         bounds of one agent's observation Box
    spaces/observation_high.npy
    tensors/<module>/<name>.npy        state dicts of the networks
    optimizers/<name>/<param>/<key>.npy  optimizer state tensors (JSON holds the rest)

Every array is written with ``numpy.save(allow_pickle=False)`` semantics and read with
``numpy.lib.format.read_array(allow_pickle=False)``: an object array, which is how a pickle
payload would hide in a ``.npy`` file, is refused before anything is unpickled. JSON is parsed
with the standard ``json`` module. Members are read whole, so zip CRCs catch flipped bytes; the
index records each array member's CRC, so members swapped or renamed into each other's places are
refused too, as are members stored twice. Files
are written to a temporary file and renamed (:func:`~mt_agents.common.utils.atomic_write`).
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mt_agents.common.utils import atomic_write

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ModelFileError",
    "ModelFileNotFoundError",
    "decode_optimizer_state",
    "decode_state_dict",
    "encode_optimizer_state",
    "encode_state_dict",
    "read_model_file",
    "resolve_model_path",
    "write_model_file",
]

#: Value of ``meta.json["format"]``.
FORMAT = "mt_agents.model"
#: Newest format version this code reads and the one it writes.
FORMAT_VERSION = 1
META = "meta.json"
#: Largest ``meta.json`` accepted (bytes, uncompressed).
MAX_META_BYTES = 64 * 2**20
#: Slack above an array's data size allowed for its ``.npy`` header.
_NPY_HEADER_SLACK = 2**16
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_MAX_RATIO = 1100  # deflate expands at most ~1032x
_DTYPE_KINDS = "biuf"  # bool, signed, unsigned, float: what a tensor may hold
_TORCH_ONLY = {"bfloat16": torch.int16}  # stored bit-for-bit as this integer view


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not a model file, truncated or corrupt, of another
    algorithm, for other spaces than the env, with missing, extra or mis-shaped tensors, or of
    an unsupported format version. The message says what is wrong and what to do."""


class ModelFileNotFoundError(ModelFileError, FileNotFoundError):
    """The model file does not exist (also a ``FileNotFoundError``)."""


def resolve_model_path(path: str | os.PathLike[str]) -> Path:
    """The file ``path`` names, trying ``path + ".zip"`` as Stable-Baselines3 does.

    Raises:
        ModelFileNotFoundError: When neither exists.
    """
    p = Path(path)
    if p.is_file():
        return p
    zipped = p.with_name(p.name + ".zip")
    if p.suffix != ".zip" and zipped.is_file():
        return zipped
    raise ModelFileNotFoundError(
        f"no model file at {str(p)!r}: check the path (the file written by model.save(path) is "
        f"'<path>.zip' when path has no suffix)"
    )


# ---------------------------------------------------------------------------------- tensors


def _tensor_to_array(t: torch.Tensor) -> tuple[np.ndarray, str]:
    t = t.detach().cpu()
    torch_dtype = str(t.dtype).removeprefix("torch.")
    if torch_dtype in _TORCH_ONLY:
        t = t.view(_TORCH_ONLY[torch_dtype])
    return np.array(t.numpy(), copy=True, order="C"), torch_dtype


def _array_to_tensor(arr: np.ndarray, torch_dtype: str) -> torch.Tensor:
    try:
        t = torch.from_numpy(np.array(arr, copy=True))
        if torch_dtype in _TORCH_ONLY:
            t = t.view(getattr(torch, torch_dtype))
    except (RuntimeError, TypeError, ValueError) as exc:  # e.g. a bfloat16 view of int8 data
        raise ModelFileError(
            f"an array of {arr.dtype} {list(arr.shape)} cannot be a {torch_dtype} tensor ({exc}): "
            "the file is corrupt or was edited"
        ) from exc
    return t


def encode_state_dict(
    prefix: str, state: Mapping[str, torch.Tensor]
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Turn a module's state dict into index entries and arrays.

    Args:
        prefix: Member folder, e.g. ``"tensors/q_net"``.
        state: The state dict (tensors only).

    Returns:
        ``(index, arrays)``: ``index[key] = {"member", "torch_dtype", "shape"}`` and
        ``arrays[member] = array``.

    Raises:
        TypeError: For a value that is not a tensor.
    """
    index: dict[str, dict[str, Any]] = {}
    arrays: dict[str, np.ndarray] = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"state entry {prefix}/{key} is a {type(value).__name__}, not a tensor: only "
                "tensors can be saved (keep other values in _hyperparameters or _extra_state)"
            )
        arr, torch_dtype = _tensor_to_array(value)
        member = f"{prefix}/{key}.npy"
        index[key] = {"member": member, "torch_dtype": torch_dtype, "shape": list(value.shape)}
        arrays[member] = arr
    return index, arrays


def decode_state_dict(
    what: str,
    index: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    expected: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Rebuild a state dict from index entries and arrays, checking it against ``expected``.

    Args:
        what: Name used in error messages (e.g. ``"module 'q_net'"``).
        index: ``key -> {"member", "torch_dtype", "shape"}`` as written by
            :func:`encode_state_dict`.
        arrays: The arrays of the file.
        expected: The state dict of the freshly built module: keys, shapes and dtypes must match.

    Returns:
        The state dict, on the CPU.

    Raises:
        ModelFileError: For missing, extra or mis-shaped tensors or a bad index.
    """
    if not isinstance(index, Mapping):
        raise ModelFileError(f"{what}: its tensor index in meta.json is not an object")
    if expected is not None:
        missing = sorted(set(expected) - set(index))
        extra = sorted(set(index) - set(expected))
        if missing or extra:
            raise ModelFileError(
                f"{what} does not match the network built from the file's hyperparameters: "
                f"missing tensors {missing}, unexpected tensors {extra}. The file was written by "
                "another version of this algorithm or was edited; retrain or use the code that "
                "wrote it"
            )
    out: dict[str, torch.Tensor] = {}
    for key, entry in index.items():
        if (
            not isinstance(entry, Mapping)
            or not {"member", "torch_dtype", "shape"} <= set(entry)
            or not isinstance(entry["shape"], list)
        ):
            raise ModelFileError(f"{what}: index entry {key!r} in meta.json is malformed")
        member = entry["member"]
        if not isinstance(member, str) or member not in arrays:
            raise ModelFileError(f"{what}: tensor {key!r} (member {member!r}) is missing")
        tensor = _array_to_tensor(arrays[member], str(entry["torch_dtype"]))
        if list(tensor.shape) != list(entry["shape"]):
            raise ModelFileError(
                f"{what}: tensor {key!r} has shape {list(tensor.shape)} but meta.json says "
                f"{entry['shape']}: the file is corrupt"
            )
        if expected is not None:
            ref = expected[key]
            if tensor.shape != ref.shape or tensor.dtype != ref.dtype:
                raise ModelFileError(
                    f"{what}: tensor {key!r} is {tensor.dtype} {list(tensor.shape)}, the network "
                    f"needs {ref.dtype} {list(ref.shape)}; the file's hyperparameters and tensors "
                    "disagree (an edited or foreign file)"
                )
        out[key] = tensor
    return out


def _jsonable(value: Any, where: str) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return {"__float__": repr(value)}
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where) for v in value]
    raise TypeError(f"{where} is a {type(value).__name__}: only JSON values can be saved")


def _unjson(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"__float__"}:
        return float(value["__float__"])
    if isinstance(value, list):
        return [_unjson(v) for v in value]
    return value


def encode_optimizer_state(
    prefix: str, state: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Split an optimizer's ``state_dict()`` into JSON and arrays (tensors only, no pickles).

    Args:
        prefix: Member folder, e.g. ``"optimizers/q_net"``.
        state: ``optimizer.state_dict()``.

    Returns:
        ``(entry, arrays)``: ``entry = {"param_groups": [...], "state": {param: {key: ...}}}``
        where tensor values are ``{"member", "torch_dtype", "shape"}`` references.
    """
    groups = [
        {k: _jsonable(v, f"{prefix} param group option {k!r}") for k, v in g.items()}
        for g in state["param_groups"]
    ]
    arrays: dict[str, np.ndarray] = {}
    per_param: dict[str, dict[str, Any]] = {}
    for pid, pstate in state["state"].items():
        entry: dict[str, Any] = {}
        for key, value in pstate.items():
            if isinstance(value, torch.Tensor):
                arr, torch_dtype = _tensor_to_array(value)
                member = f"{prefix}/{pid}/{key}.npy"
                arrays[member] = arr
                entry[key] = {
                    "member": member,
                    "torch_dtype": torch_dtype,
                    "shape": list(value.shape),
                }
            else:
                entry[key] = {"value": _jsonable(value, f"{prefix} state {pid}/{key}")}
        per_param[str(pid)] = entry
    return {"param_groups": groups, "state": per_param}, arrays


def decode_optimizer_state(
    what: str,
    entry: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    optimizer: torch.optim.Optimizer,
) -> dict[str, Any]:
    """Rebuild an optimizer ``state_dict`` from :func:`encode_optimizer_state` output.

    The groups and parameters must match ``optimizer``'s; every state tensor must be a scalar
    or have its parameter's shape (as for Adam's moments), so a bad file fails here rather
    than in the first update.

    Raises:
        ModelFileError: When the saved state does not fit ``optimizer``.
    """
    current = optimizer.state_dict()
    try:
        groups = entry["param_groups"]
        saved_state = entry["state"]
        if len(groups) != len(current["param_groups"]):
            raise ModelFileError(
                f"{what}: {len(groups)} parameter groups saved, the optimizer has "
                f"{len(current['param_groups'])}"
            )
        params: list[torch.Tensor] = [p for g in optimizer.param_groups for p in g["params"]]
        new_groups = []
        for saved, cur in zip(groups, current["param_groups"], strict=True):
            if list(saved.get("params", [])) != list(cur["params"]):
                raise ModelFileError(f"{what}: the parameter groups hold other parameters")
            group = {}
            for k, v in saved.items():
                v = _unjson(v)
                group[k] = tuple(v) if isinstance(cur.get(k), tuple) else v
            new_groups.append(group)
        kinds = {frozenset(p) for p in saved_state.values()}
        if len(kinds) > 1:  # an optimizer keeps the same entries for every parameter it stepped
            raise ModelFileError(
                f"{what}: the parameters hold different state entries "
                f"{sorted(sorted(k) for k in kinds)}: the file was edited or damaged"
            )
        state: dict[int, dict[str, Any]] = {}
        for pid_s, pstate in saved_state.items():
            pid = int(pid_s)
            if not 0 <= pid < len(params):
                raise ModelFileError(f"{what}: state of unknown parameter {pid}")
            shape = tuple(params[pid].shape)
            out: dict[str, Any] = {}
            for key, ref in pstate.items():
                if "value" in ref:
                    out[key] = _unjson(ref["value"])
                    continue
                member = ref["member"]
                if member not in arrays:
                    raise ModelFileError(f"{what}: tensor {member!r} is missing")
                t = _array_to_tensor(arrays[member], str(ref["torch_dtype"]))
                if t.dim() > 0 and tuple(t.shape) != shape:
                    raise ModelFileError(
                        f"{what}: state {key!r} of parameter {pid} has shape "
                        f"{list(t.shape)}, the parameter has {list(shape)}"
                    )
                out[key] = t
            state[pid] = out
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{what}: the saved optimizer state is malformed ({exc})") from exc
    return {"state": state, "param_groups": new_groups}


# ------------------------------------------------------------------------------------- zip


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def write_model_file(
    path: str | os.PathLike[str], meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> Path:
    """Write ``meta.json`` and the arrays into a zip, atomically.

    ``meta["arrays"]`` is filled with an index of every member (dtype and shape), which
    :func:`read_model_file` checks. Member timestamps are fixed, so equal models give equal
    files.

    Args:
        path: Destination; ``.zip`` is appended when it has no suffix.
        meta: JSON-able metadata.
        arrays: Member name -> array (numeric or bool dtypes only).

    Returns:
        The path written.

    Raises:
        TypeError: For an array that is not numeric.
    """
    dest = Path(path)
    if dest.suffix == "":
        dest = dest.with_name(dest.name + ".zip")
    index = {}
    blobs = {}
    for name in sorted(arrays):
        arr = np.asarray(arrays[name])
        if arr.dtype.kind not in _DTYPE_KINDS:
            raise TypeError(f"array {name!r} has dtype {arr.dtype}: only numbers can be saved")
        blobs[name] = _npy_bytes(arr)
        # The CRC of the member's bytes ties each array to its name: zip CRCs catch damaged
        # bytes, this catches members swapped or renamed into each other's places.
        index[name] = {
            "dtype": arr.dtype.str,
            "shape": list(arr.shape),
            "crc32": zlib.crc32(blobs[name]),
        }
    full_meta = dict(meta)
    full_meta["arrays"] = index
    meta_bytes = json.dumps(full_meta, indent=1, sort_keys=True, allow_nan=False).encode()

    def write(f: Any) -> None:
        with zipfile.ZipFile(f, "w") as zf:
            info = zipfile.ZipInfo(META, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, meta_bytes)
            for name, blob in blobs.items():
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, blob)

    return atomic_write(dest, write)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> bytes:
    if info.file_size > _MAX_RATIO * max(info.compress_size, 1) + 4096:
        raise ModelFileError(
            f"{where}: member {info.filename!r} claims {info.file_size} bytes from "
            f"{info.compress_size} compressed, more than deflate can give (a zip bomb or a "
            "corrupt directory): the file is refused"
        )
    try:
        return zf.read(info)
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        RuntimeError,
        ValueError,
        NotImplementedError,  # a flipped 'version needed to extract' or compression field
    ) as exc:
        raise ModelFileError(
            f"{where}: member {info.filename!r} is corrupt ({exc}); the file was damaged "
            "(interrupted copy or download?): use another copy or an earlier checkpoint"
        ) from exc


def read_model_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and check a model file without unpickling anything.

    Checks: a zip; ``meta.json`` present, valid JSON of this format and a supported version;
    members are exactly ``meta.json`` plus the arrays of its index; every member's CRC; every
    array a plain numeric ``.npy`` (object arrays, i.e. pickles, are refused) of the indexed
    dtype and shape.

    Args:
        path: The model file (``.zip`` appended when missing, as Stable-Baselines3 does).

    Returns:
        ``(meta, arrays)``.

    Raises:
        ModelFileError: For anything wrong (ModelFileNotFoundError when there is no file).
    """
    p = resolve_model_path(path)
    where = f"model file {str(p)!r}"
    if not zipfile.is_zipfile(p):
        raise ModelFileError(
            f"{where} is not a zip archive (truncated, or not a model saved by mt_agents): "
            "use the .zip written by model.save() or a checkpoint"
        )
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise ModelFileError(f"{where} is a damaged zip archive ({exc})") from exc
    with zf:
        infos = {i.filename: i for i in zf.infolist()}
        if len(infos) != len(zf.infolist()):
            names = [i.filename for i in zf.infolist()]
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ModelFileError(
                f"{where} holds members {twice[:5]} more than once: mt_agents never writes "
                "them (readers would disagree on which copy counts); the file was edited or "
                "damaged"
            )
        if META not in infos:
            raise ModelFileError(
                f"{where} has no meta.json: it is not an mt_agents model (an SB3 model or a "
                "torch.save file? those are not loaded, since they could run code)"
            )
        if infos[META].file_size > MAX_META_BYTES:
            raise ModelFileError(f"{where}: meta.json is implausibly large")
        try:
            meta = json.loads(_read_member(zf, infos[META], where).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ModelFileError(f"{where}: meta.json is not valid JSON ({exc!r})") from exc
        _check_header(meta, where)
        index = meta.get("arrays")
        if not isinstance(index, dict):
            raise ModelFileError(f"{where}: meta.json has no array index: the file is corrupt")
        members = set(infos) - {META}
        missing = sorted(set(index) - members)
        extra = sorted(members - set(index))
        if missing:
            raise ModelFileError(
                f"{where} lacks members {missing[:5]}{' ...' if len(missing) > 5 else ''} that "
                "meta.json lists: the file is truncated or was edited"
            )
        if extra:
            raise ModelFileError(
                f"{where} holds unexpected members {extra[:5]}: mt_agents never writes them; "
                "the file was edited or is not an mt_agents model"
            )
        arrays = {name: _read_array(zf, infos[name], index[name], where) for name in sorted(index)}
    return meta, arrays


def _check_header(meta: Any, where: str) -> None:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(
            f"{where}: meta.json does not describe an mt_agents model (format "
            f"{meta.get('format') if isinstance(meta, dict) else None!r}, expected {FORMAT!r})"
        )
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{where}: meta.json has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{where} uses model format version {version}, this mt_agents reads up to "
            f"{FORMAT_VERSION}: upgrade mt_agents (the file was written by "
            f"{meta.get('mt_agents_version', 'a newer version')})"
        )


def _read_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, entry: Any, where: str) -> np.ndarray:
    name = info.filename
    try:
        dtype = np.dtype(str(entry["dtype"]))
        shape = tuple(int(s) for s in entry["shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{where}: the index entry of {name!r} is malformed") from exc
    if dtype.kind not in _DTYPE_KINDS or any(s < 0 for s in shape):
        raise ModelFileError(
            f"{where}: {name!r} is declared as {dtype} {list(shape)}; only numeric arrays are "
            "accepted"
        )
    expected_bytes = dtype.itemsize * math.prod(shape)
    if info.file_size > expected_bytes + _NPY_HEADER_SLACK:
        raise ModelFileError(f"{where}: member {name!r} is larger than its declared shape allows")
    data = _read_member(zf, info, where)
    try:
        arr = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise ModelFileError(
                f"{where}: member {name!r} holds pickled Python objects; refused without "
                "loading them (model files hold numbers only: a file that needs unpickling "
                "could run code, do not use it)"
            ) from exc
        raise ModelFileError(f"{where}: member {name!r} is not a valid .npy ({exc})") from exc
    except (OSError, EOFError, SyntaxError, TypeError) as exc:
        raise ModelFileError(f"{where}: member {name!r} is not a valid .npy ({exc})") from exc
    if arr.dtype != dtype or arr.shape != shape:
        raise ModelFileError(
            f"{where}: member {name!r} is {arr.dtype} {list(arr.shape)}, meta.json says "
            f"{dtype} {list(shape)}: the file is corrupt or was edited"
        )
    crc = entry.get("crc32") if isinstance(entry, dict) else None
    if crc is not None and crc != info.CRC:  # files written before CRCs were indexed have none
        raise ModelFileError(
            f"{where}: member {name!r} does not hold the data meta.json indexes under that name "
            "(members swapped, renamed or replaced): the file was edited or damaged"
        )
    return arr
