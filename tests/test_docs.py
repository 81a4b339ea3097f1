"""The documentation builds with warnings as errors, its generated pages say what the code says,
and the code in the guides runs.

A broken env card (the module docstring of an env id) or a docstring that is not valid
reStructuredText fails here, with Sphinx's message naming the file and line.
"""

from __future__ import annotations

import html
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mt_envs
from mt_envs import task_sets

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _text(path: Path) -> str:
    """The visible text of an HTML page, roughly: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


@pytest.mark.skipif(
    importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("myst_parser") is None,
    reason="the docs build needs sphinx and myst-parser: pip install 'mt-envs[docs]'",
)
def test_docs_build_without_warnings_and_show_every_env_and_task_set(tmp_path):
    out = tmp_path / "html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            str(DOCS),
            str(out),
            "-d",
            str(tmp_path / "doctrees"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stderr}\n{proc.stdout[-3000:]}"

    pages = ("index", "quickstart", "api", "developer", "benchmarks", "changelog", "tabular")
    for page in (*pages, "wrappers", "agents", "dec_hdrqn"):
        assert (out / f"{page}.html").is_file(), f"page {page} missing"

    # One page per env id, holding its env card, its GIF and its task sets.
    env_ids = mt_envs.env_ids()
    assert env_ids
    index = _text(out / "_generated" / "envs" / "index.html")
    for env_id in env_ids:
        page = out / "_generated" / "envs" / f"{env_id}.html"
        assert page.is_file(), f"no page for env id {env_id}"
        text = _text(page)
        card = mt_envs.registry.env_module(env_id).__doc__
        summary = card.strip().splitlines()[0]
        assert summary in text, f"{env_id}: the env card's first line is not on its page"
        assert "Version history" in text
        assert f"{env_id}.gif" in page.read_text(encoding="utf-8")
        assert (out / "_static" / f"{env_id}.gif").is_file(), f"{env_id}.gif was not copied"
        size = (DOCS / "_static" / f"{env_id}.gif").stat().st_size
        assert size < 300 * 1024, f"{env_id}.gif is {size // 1024} KB: rerun docs/make_gifs.py"
        for name in task_sets.names(env_id):
            assert name in text, f"{env_id}: task set {name} not listed on its page"
        anchor = f'id="mt_envs.{env_id}.parallel_env"'
        assert anchor in page.read_text(encoding="utf-8"), f"{env_id}: API section missing"
        assert env_id in index

    # The task-set table lists every registered set, its env id and every task name.
    text = _text(out / "_generated" / "task_sets.html")
    for name in task_sets.names():
        ts = task_sets.get(name)
        assert name in text, f"task set {name} missing from the task-set page"
        assert task_sets.env_id_of(name) in text
        for task in ts:
            assert task.name in text, f"task {task.name} of {name} missing"

    # The benchmarks page includes the results table, or says it is missing.
    bench = _text(out / "benchmarks.html")
    results = ROOT / "benchmarks" / "results" / "env_throughput.md"
    if results.is_file():
        assert "No results yet" not in bench
    else:
        assert "No results yet" in bench


GUIDES = [
    "quickstart.md",
    "developer.md",
    "tabular.md",
    "wrappers.md",
    "agents.md",
    "dec_hdrqn.md",
    "distillation.md",
    "tabular_learners.md",
    "multidistral.md",
    "dcpg.md",
]


@pytest.mark.parametrize("page", GUIDES)
def test_python_blocks_of_the_guides_run(page, tmp_path, monkeypatch):
    """Every ```python block of a guide runs as written (in a fresh namespace each)."""
    pytest.importorskip("pygame", reason="the quickstart records a GIF: needs the render extra")
    pytest.importorskip("imageio", reason="the quickstart records a GIF: needs the render extra")
    blocks = re.findall(r"^```python\n(.*?)^```", (DOCS / page).read_text(), flags=re.S | re.M)
    assert blocks, f"no python blocks in {page}"
    monkeypatch.chdir(tmp_path)  # files the examples write (a GIF) land here
    for k, code in enumerate(blocks):
        exec(compile(code, f"{page}[python block {k}]", "exec"), {"__name__": "__docs__"})
