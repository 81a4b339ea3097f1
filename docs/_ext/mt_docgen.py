"""Generate documentation pages from code at build start (a small local Sphinx extension).

Pages written into ``docs/_generated/`` (git-ignored, rewritten on every build):

* ``envs/index.rst`` and ``envs/<env_id>.rst``: one page per registered env id
  (:func:`mt_envs.env_ids`). The body is the env module's docstring (the env card, RST), then the
  env's task sets and an autodoc section for its public classes and constructors.
* ``task_sets.rst``: every registered task set (:func:`mt_envs.task_sets.names`) with its env id,
  description and a nested table of its tasks.
* ``includes/benchmark_results.md``: included by ``benchmarks.md``. It includes
  ``benchmarks/results/env_throughput.md`` when that file exists and is a short note otherwise, so
  the build never fails because benchmarks have not been run yet.

Nothing here is hand-copied: change an env card, a task set or a benchmark result and the next
build shows it. Output is deterministic (sorted ids and names, no dates), and files are only
rewritten when their text changes, so incremental builds stay incremental.

Run ``python docs/_ext/mt_docgen.py`` to generate the pages without building.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

DOCS = Path(__file__).resolve().parent.parent
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"
#: The benchmark table that ``benchmarks/`` writes and the benchmarks page includes.
BENCHMARK_RESULTS = ROOT / "benchmarks" / "results" / "env_throughput.md"
#: Names every env module exposes as constructors (the PettingZoo module convention).
CONSTRUCTORS = ("parallel_env", "env", "raw_env", "vector_env")
MISSING = "–"


# -- small RST helpers ------------------------------------------------------------------------
def _title(text: str, char: str = "=", overline: bool = False) -> str:
    line = char * len(text)
    return f"{line}\n{text}\n{line}\n" if overline else f"{text}\n{line}\n"


def _list_table(
    header: list[str], rows: Iterable[list[str]], widths: list[int] | None = None, cls: str = ""
) -> str:
    """An RST ``list-table``; cells may hold several lines of RST (a nested table, say)."""
    out = [".. list-table::", "   :header-rows: 1"]
    if widths:
        out.append("   :widths: " + " ".join(str(w) for w in widths))
    if cls:
        out.append(f"   :class: {cls}")
    out.append("")
    for row in [header, *rows]:
        for j, cell in enumerate(row):
            lines = (cell or MISSING).splitlines()
            out.append(("   * - " if j == 0 else "     - ") + lines[0])
            out.extend(("       " + line) if line.strip() else "" for line in lines[1:])
    return "\n".join(out) + "\n"


def _literal(text: object) -> str:
    return f"``{text}``"


def set_label(name: str) -> str:
    """The cross-reference label of a task set's row on the task-set page."""
    return "task-set-" + re.sub(r"[^a-z0-9-]+", "-", name.lower())


# -- task formatting (generic: fields a family lacks show a dash) ----------------------------
def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _grid(task: Any) -> str:
    m = getattr(task, "grid_size", None)
    if isinstance(m, int):
        return f"{m}x{m}"
    if isinstance(m, tuple):
        return "x".join(str(v) for v in m)
    rows, cols = getattr(task, "rows", None), getattr(task, "cols", None)
    return f"{rows}x{cols}" if rows is not None and cols is not None else MISSING


def _field(task: Any, name: str) -> str:
    value = getattr(task, name, None)
    if value is None:
        return MISSING
    if isinstance(value, tuple):
        return "(" + ", ".join(_num(v) for v in value) + ")"
    return _num(value)


def _target_policy(task: Any) -> str:
    policy = getattr(task, "target_policy", None)
    if policy is None:
        return MISSING
    text = "uniform" if len(set(policy)) == 1 else "(" + ", ".join(_num(p) for p in policy) + ")"
    evasive = getattr(task, "evasive", 0.0)
    if evasive:
        text += f", evasive {_num(evasive)}"
    return text


def task_rows(task_set: Any) -> list[list[str]]:
    """One row per task: id, name, grid, agents, targets, flicker, assignment, policy, horizon."""
    return [
        [
            str(i),
            _literal(task.name),
            _grid(task),
            _field(task, "n_agents"),
            _field(task, "n_targets"),
            _field(task, "flicker"),
            _field(task, "assignment"),
            _target_policy(task),
            _field(task, "max_steps"),
        ]
        for i, task in enumerate(task_set)
    ]


TASK_HEADER = [
    "id",
    "name",
    "grid",
    "agents",
    "targets",
    "flicker",
    "assignment",
    "target policy (N, S, E, W, STAY)",
    "horizon",
]


# -- pages -------------------------------------------------------------------------------------
def task_sets_page() -> str:
    from mt_envs import task_sets
    from mt_envs.registry import ENV_MODULES

    names = task_sets.names()
    parts = [
        ".. This page is generated by docs/_ext/mt_docgen.py from mt_envs.task_sets; "
        "do not edit.\n",
        ".. _task-sets:\n",
        _title("Task sets", "=", overline=True),
        "A task set is an ordered, named, immutable collection of tasks; index ``i`` is the task "
        'id reported in ``infos[agent]["task_id"]``. Build an env on a set with '
        '``tasks="<name>"`` (or get the set itself with ``mt_envs.task_sets.get(name)``). '
        f"{len(names)} sets are registered.\n",
        "Grid sides are ``m x m`` tori, ``flicker`` is the probability ``Pf`` that an agent sees "
        "no target in a step, ``assignment[i]`` is the target of agent ``i``, and the target "
        "policy gives the probabilities of the five target moves (``uniform`` is the random "
        "walk). The horizon is the step limit (truncation).\n",
    ]
    rows = []
    for name in names:
        ts = task_sets.get(name)
        env_id = task_sets.env_id_of(name)
        # Sets played through a wrapper (mpe-mkt) name an env that is not a registered id.
        env_ref = f":doc:`{env_id} <envs/{env_id}>`" if env_id in ENV_MODULES else f"``{env_id}``"
        left = "\n".join(
            [
                f".. _{set_label(name)}:",
                "",
                f"**{name}**",
                "",
                f"{env_ref}, {len(ts)} task{'s' if len(ts) != 1 else ''}",
                "",
                ts.description or "",
            ]
        )
        rows.append([left, _list_table(TASK_HEADER, task_rows(ts), cls="task-table")])
    parts.append(_list_table(["task set", "tasks"], rows, widths=[22, 78], cls="task-set-table"))
    return "\n".join(parts)


def public_classes(module: ModuleType, env_id: str) -> list[type]:
    """The public classes behind an env id, in a stable order.

    These are the ``mt_envs`` classes the env module binds (its ParallelEnv and batched env), the
    task classes of its registered task sets and of its default task set.
    """
    from mt_envs import task_sets

    found: dict[str, type] = {}
    for attr, value in vars(module).items():
        if (
            inspect.isclass(value)
            and not attr.startswith("_")
            and value.__module__.split(".")[0] == "mt_envs"
        ):
            found[f"{value.__module__}.{value.__qualname__}"] = value
    for name in task_sets.names(env_id):
        for task in task_sets.get(name):
            cls = type(task)
            found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[k] for k in sorted(found)]


def _public_path(cls: type) -> str:
    """The shortest public dotted path of ``cls`` (``mt_envs.capture.CaptureTask``, not
    ``mt_envs.capture.task.CaptureTask``)."""
    import importlib

    parts = cls.__module__.split(".")
    for k in range(1, len(parts) + 1):
        mod = importlib.import_module(".".join(parts[:k]))
        if getattr(mod, cls.__qualname__, None) is cls:
            return f"{mod.__name__}.{cls.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def _default_task_set(module: ModuleType) -> str | None:
    """The name of the task set an env id plays when built without ``tasks=``."""
    env = module.parallel_env()
    try:
        task_set = getattr(getattr(env, "unwrapped", env), "task_set", None)
        return getattr(task_set, "name", None)
    finally:
        env.close()


def env_page(env_id: str) -> str:
    from mt_envs import registry, task_sets

    module = registry.env_module(env_id)
    card = inspect.cleandoc(module.__doc__ or "")
    if not card:
        raise RuntimeError(
            f"env module {module.__name__} has no docstring: every env ships an env card "
            "(CONVENTIONS.md habit 2)"
        )
    summary = card.splitlines()[0].strip()
    parts = [
        f".. This page is generated by docs/_ext/mt_docgen.py from the docstring of "
        f"{module.__name__}; edit the env card there.\n",
        f".. _env-{env_id}:\n",
        _title(env_id, "=", overline=True),
        f".. module:: {module.__name__}\n   :synopsis: {summary}\n",
        card + "\n",
        _title("Task sets of this env", "-"),
    ]
    names = task_sets.names(env_id)
    default = _default_task_set(module)
    if names:
        rows = [
            [
                f":ref:`{n} <{set_label(n)}>`" + (" (default)" if n == default else ""),
                str(len(task_sets.get(n))),
                task_sets.get(n).description,
            ]
            for n in names
        ]
        parts.append(_list_table(["task set", "tasks", "description"], rows, widths=[20, 8, 72]))
    else:
        parts.append("No task set is registered for this id.\n")
    parts += [
        _title("API", "-"),
        "Constructors (the PettingZoo module convention):\n",
    ]
    for fn in CONSTRUCTORS:
        if hasattr(module, fn):
            parts.append(f".. autofunction:: {module.__name__}.{fn}\n")
    classes = public_classes(module, env_id)
    if classes:
        parts.append("Public classes (documented in full in the :doc:`API reference </api>`):\n")
        for cls in classes:
            parts.append(
                f".. autoclass:: {_public_path(cls)}\n"
                "   :members:\n   :show-inheritance:\n   :no-index:\n"
            )
    return "\n".join(parts)


def envs_index_page(env_ids: list[str]) -> str:
    from mt_envs import registry, task_sets

    rows = []
    for env_id in env_ids:
        module = registry.env_module(env_id)
        summary = inspect.cleandoc(module.__doc__ or "").splitlines()[0] if module.__doc__ else ""
        sets = ", ".join(f":ref:`{n} <{set_label(n)}>`" for n in task_sets.names(env_id))
        rows.append([f":doc:`{env_id}`", summary, sets])
    return "\n".join(
        [
            ".. This page is generated by docs/_ext/mt_docgen.py from mt_envs.env_ids(); "
            "do not edit.\n",
            ".. _envs:\n",
            _title("Environments", "=", overline=True),
            "Every environment id below is a module of :mod:`mt_envs` with ``parallel_env``, "
            "``env`` (AEC), ``raw_env`` and, for families with a batched core, ``vector_env``; "
            "``mt_envs.make(env_id)`` and ``mt_envs.make_vec(env_id, num_envs)`` build them by "
            "id. Each page is the env card: the module docstring.\n",
            _list_table(["env id", "summary", "task sets"], rows, widths=[14, 50, 36]),
            ".. toctree::\n   :hidden:\n\n" + "\n".join(f"   {e}" for e in env_ids) + "\n",
        ]
    )


def benchmark_include() -> str:
    """Markdown included by ``benchmarks.md``: the results table, or a note that it is missing."""
    if BENCHMARK_RESULTS.is_file():
        text = BENCHMARK_RESULTS.read_text(encoding="utf-8")
        levels = [len(m.group(1)) for m in re.finditer(r"^(#{1,6})\s", text, flags=re.M)]
        # The results sit under the page's level-1 title: their top heading becomes level 2.
        offset = max(0, 2 - min(levels)) if levels else 0
        # Include paths in nested includes resolve against the including page (docs/).
        rel = Path("..") / BENCHMARK_RESULTS.relative_to(ROOT)
        return (
            "<!-- generated by docs/_ext/mt_docgen.py: includes the benchmark results -->\n\n"
            f"```{{include}} {rel.as_posix()}\n:heading-offset: {offset}\n:relative-images:\n```\n"
        )
    return (
        "<!-- generated by docs/_ext/mt_docgen.py: the benchmark results are missing -->\n\n"
        "```{note}\n"
        "No results yet: `benchmarks/results/env_throughput.md` does not exist in this checkout. "
        "Run `python benchmarks/env_throughput.py` and rebuild the docs to see the table here.\n"
        "```\n"
    )


# -- writing ---------------------------------------------------------------------------------
def _write(path: Path, text: str, written: set[Path]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    written.add(path.resolve())


def generate(outdir: Path = GENERATED) -> list[Path]:
    """Write every generated page under ``outdir``; remove stale ones. Returns the pages."""
    import mt_envs

    written: set[Path] = set()
    env_ids = mt_envs.env_ids()
    _write(outdir / "envs" / "index.rst", envs_index_page(env_ids), written)
    for env_id in env_ids:
        _write(outdir / "envs" / f"{env_id}.rst", env_page(env_id), written)
    _write(outdir / "task_sets.rst", task_sets_page(), written)
    _write(outdir / "includes" / "benchmark_results.md", benchmark_include(), written)
    if outdir.is_dir():
        for path in outdir.rglob("*"):
            if path.is_file() and path.resolve() not in written:
                path.unlink()  # a page of an env id or set that no longer exists
    return sorted(written)


def _on_builder_inited(app: Any) -> None:
    generate(Path(app.srcdir) / "_generated")


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", _on_builder_inited)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    for page in generate():
        print(page.relative_to(ROOT))
