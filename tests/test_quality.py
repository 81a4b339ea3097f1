"""Lint, format and type checks run with the tests, so CI runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["mt_envs", "wrappers", "mt_agents", "tests", "benchmarks", "docs", "examples"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint():
    out = _run(sys.executable, "-m", "ruff", "check", *PATHS)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format():
    out = _run(sys.executable, "-m", "ruff", "format", "--check", *PATHS)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy():
    pytest.importorskip("mypy")
    out = _run(sys.executable, "-m", "mypy")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mt_envs_imports_neither_torch_nor_higher_layers():
    code = (
        "import sys, mt_envs, mt_envs.capture, mt_envs.vector, mt_envs.test, mt_envs.tabular, "
        "mt_envs.corridor, mt_envs.gridworld, mt_envs.chain, mt_envs.mpe, mt_envs.drone; "
        "bad = [m for m in ('torch', 'mt_agents', 'wrappers', 'pygame', 'mpe2', 'supersuit') "
        "if m in sys.modules]; "
        "assert not bad, bad"
    )
    out = _run(sys.executable, "-c", code)
    assert out.returncode == 0, out.stdout + out.stderr


def test_wrappers_import_no_torch_sb3_or_mpe2():
    code = (
        "import sys, wrappers, wrappers.multitask, wrappers.padding, wrappers.groups; "
        "bad = [m for m in ('torch', 'stable_baselines3', 'mt_agents', 'mpe2', 'pygame') "
        "if m in sys.modules]; "
        "assert not bad, bad"
    )
    out = _run(sys.executable, "-c", code)
    assert out.returncode == 0, out.stdout + out.stderr
