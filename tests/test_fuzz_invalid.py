"""Invalid-input fuzzing (hypothesis) of every public entry point: task dataclasses, env actions,
batched actions, reset options and seeds, ``make`` / ``make_vec`` arguments and wrapper
arguments, for the envs, the batched envs and the wrappers.

Every invalid input must be refused with the exception type the docs give (``ValueError`` for
values out of range, ``TypeError`` where a docstring says so for a wrong type, the
``KeyError`` subclass :class:`~mt_envs.utils.UnknownNameError` for unknown names, listing close
matches) and a message that names the offending parameter or value. Never silent acceptance,
never an ``IndexError``, ``AttributeError`` or bare ``KeyError`` from deep inside, never a numpy
message that names nothing. An env that refused a step is unchanged: its next valid step equals
that of a twin that never saw the bad input.

Each example is one invalid input; :data:`TALLY` counts, per category, the inputs tried and those
refused as documented (the tests assert 100 %; the counts are printed at the end of the module,
see :func:`tally_report`). Examples per test come from the hypothesis profile (``ci``: 1000).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pettingzoo import ParallelEnv

import mt_envs
from mt_envs.capture import CaptureTask
from mt_envs.chain import ChainTask
from mt_envs.corridor import CorridorTask
from mt_envs.corridor.task import is_wall
from mt_envs.drone import DroneTask
from mt_envs.drone.world import map_names
from mt_envs.gridworld import GridWorldTask
from mt_envs.gridworld.task import START_NAMES
from mt_envs.mpe import GAMES, MPETask
from mt_envs.tasks import Task, fixed, task_from_dict
from mt_envs.utils import UnknownNameError
from mt_envs.vector import SyncVectorEnv
from wrappers import (
    AgentIndicator,
    MultiTaskEnv,
    PadActions,
    PadAgents,
    PadObservations,
    RecordEpisodes,
    SlotTask,
    TaskIndicator,
    make_group_env,
    record_parallel_env,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:No agents present but not all possible_agents:UserWarning"
)

#: category -> [inputs tried, inputs refused as documented]
TALLY: dict[str, list[int]] = defaultdict(lambda: [0, 0])
#: Errors that only ever come from deep inside (a documented lookup error is UnknownNameError).
INTERNAL = (IndexError, AttributeError, AssertionError)


def refused(
    category: str,
    call: Callable[[], Any],
    allowed: tuple[type[BaseException], ...],
    *tokens: str,
) -> BaseException:
    """Call ``call``, which must raise one of ``allowed`` whose message holds one of ``tokens``
    (the parameter's name or the value); count the input in :data:`TALLY`."""
    TALLY[category][0] += 1
    try:
        call()
    except allowed as exc:
        if type(exc) is KeyError or isinstance(exc, INTERNAL):
            raise AssertionError(f"{category}: {type(exc).__name__} from inside: {exc}") from exc
        msg = str(exc)
        if tokens and not any(t in msg for t in tokens):
            raise AssertionError(f"{category}: message names none of {tokens}: {msg!r}") from exc
        TALLY[category][1] += 1
        return exc
    except Exception as exc:
        want = "/".join(t.__name__ for t in allowed)
        raise AssertionError(
            f"{category}: {type(exc).__name__} ({exc}) where the docs give {want}"
        ) from exc
    raise AssertionError(f"{category}: the invalid input was silently accepted")


@pytest.fixture(scope="module", autouse=True)
def tally_report(request: pytest.FixtureRequest) -> Any:
    """Print the per-category counts after the module's tests (shown even with ``-q``)."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None or not TALLY:
        return
    with capture.global_and_fixture_disabled():
        _write_tally(reporter)


def _write_tally(reporter: Any) -> None:
    """Counts per category (``actions``, ``reset seeds``...; the targets within a category are
    summed), then the total."""
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for category, (tried, ok) in TALLY.items():
        group = groups[category.split(":")[0]]
        group[0] += tried
        group[1] += ok
    reporter.write_line("")
    reporter.write_line("invalid inputs tried / refused as documented, by category:")
    for name in sorted(groups):
        tried, ok = groups[name]
        reporter.write_line(f"  {name:<30} {tried:>6} / {ok:<6} ({100 * ok / tried:.1f} %)")
    tried = sum(v[0] for v in TALLY.values())
    ok = sum(v[1] for v in TALLY.values())
    reporter.write_line(f"  {'total':<30} {tried:>6} / {ok:<6} ({100 * ok / tried:.1f} %)")


# -- invalid value pools ---------------------------------------------------------------------------
class Junk:
    """An object of no expected type."""

    def __repr__(self) -> str:
        return "Junk()"


#: Values of no numeric type (bools count: they are refused where numbers are expected).
NOT_NUMBER = st.one_of(
    st.booleans(),
    st.text(max_size=3),
    st.none(),
    st.lists(st.integers(0, 3), max_size=2),
    st.tuples(st.integers(0, 3)),
    st.complex_numbers(allow_nan=False, max_magnitude=10),
    st.binary(max_size=2),
    st.builds(Junk),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)
#: Not an int: any float (integral ones too, NaN and infinities) or anything above.
NOT_INT = st.one_of(st.floats(), NOT_NUMBER)


def bad_int(lo: int, hi: int | None = None) -> st.SearchStrategy[Any]:
    """Ints outside ``[lo, hi]`` or things that are not ints."""
    out = [st.integers(max_value=lo - 1), NOT_INT]
    if hi is not None:
        out.insert(1, st.integers(min_value=hi + 1))
    return st.one_of(*out)


def bad_real(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> Any:
    """Numbers outside ``[lo, hi]`` (ends excluded where open), NaN, infinities, non-numbers."""
    below = st.floats(max_value=lo, exclude_max=not lo_open)
    above = st.floats(min_value=hi, exclude_min=not hi_open)
    return st.one_of(below, above, st.just(math.nan), NOT_NUMBER)


BAD_HORIZON = bad_int(1)
BAD_SEED = st.one_of(
    st.integers(max_value=-1), st.floats(), NOT_NUMBER.filter(lambda v: v is not None)
)
NAME_CHARS = st.characters(codec="utf-8")  # any character but lone surrogates


def bad_word(allowed_extra: str) -> st.SearchStrategy[Any]:
    """Strings with a character outside letters, digits and ``allowed_extra``, or non-strings."""
    bad_char = NAME_CHARS.filter(lambda c: not (c.isalnum() or c in allowed_extra))
    text = st.tuples(st.text(max_size=2), bad_char, st.text(max_size=2)).map("".join)
    return st.one_of(text, NOT_NUMBER.filter(lambda v: not isinstance(v, str)), st.integers())


# -- 1. task dataclasses ---------------------------------------------------------------------------
CELLS = st.tuples(st.integers(-3, 10), st.integers(-3, 12))
WALLS = CELLS.filter(lambda c: is_wall(*c))
FLOOR = CELLS.filter(lambda c: not is_wall(*c))
BAD_CELL = st.one_of(
    WALLS, st.tuples(st.integers(0, 6)), st.tuples(st.floats(1, 5), st.integers(1, 2)), NOT_NUMBER
)

#: (class, valid keyword base, field, invalid values, extra allowed type) per task field. The
#: value strategies may need the base (MAMT assignment: a permutation of n agents).
Field = tuple[type[Task], dict[str, Any], str, st.SearchStrategy[Any]]

_CAPTURE = {"grid_size": 4, "n_agents": 2, "n_targets": 2}
_POLICY_BAD = st.one_of(
    st.lists(st.floats(0, 1), min_size=5, max_size=5).filter(
        lambda p: not math.isclose(sum(p), 1.0, abs_tol=1e-5)
    ),
    st.lists(st.floats(0, 1), min_size=0, max_size=4),
    st.lists(st.floats(0, 1), min_size=6, max_size=8),
    st.floats(1e-3, 1).map(lambda n: (0.25, 0.25, 0.25, 0.25 + n, -n)),  # sums to 1, one < 0
    st.lists(st.floats(0, 1), min_size=5, max_size=5).map(lambda p: [*p[:4], math.nan]),
    st.lists(st.floats(-1, -1e-3), min_size=1, max_size=1).map(lambda n: [0.5, 0.5, 0.0, 0.0, *n]),
    st.integers(),
    st.none(),
    st.text(max_size=5),
    st.builds(Junk),
)
_ASSIGNMENT_BAD = st.one_of(
    st.lists(st.integers(-2, 4), max_size=4).filter(lambda a: sorted(a) != [0, 1]),
    st.just((0, 0)),
    st.just({0: 1, 1: 0}),
    st.just("01"),
    st.tuples(st.floats(0, 1), st.floats(0, 1)),
    st.integers(),
    st.builds(Junk),
)
_CORRIDOR = {"starts": ((1, 1), (1, 7)), "goals": ((5, 7), (5, 1))}
_GRIDWORLD = {"goal": (2, 2), "rows": 4, "cols": 4}
_DRONE = {"map": "corridor"}
_CORNERS = {"top-left": (0, 0), "top-right": (0, 3), "bottom-left": (3, 0), "bottom-right": (3, 3)}

TASK_FIELDS: list[Field] = [
    (CaptureTask, _CAPTURE, "grid_size", bad_int(2, 256)),
    (CaptureTask, _CAPTURE, "n_agents", bad_int(1, 32)),
    (
        CaptureTask,
        _CAPTURE,
        "n_targets",
        st.one_of(st.integers().filter(lambda n: n not in (1, 2)), NOT_INT),
    ),
    (CaptureTask, _CAPTURE, "flicker", bad_real(0, 1)),
    (CaptureTask, _CAPTURE, "slip", bad_real(0, 1)),
    (CaptureTask, _CAPTURE, "evasive", bad_real(0, 1)),
    (CaptureTask, _CAPTURE, "target_policy", _POLICY_BAD),
    (CaptureTask, _CAPTURE, "assignment", _ASSIGNMENT_BAD),
    (CaptureTask, _CAPTURE, "horizon", BAD_HORIZON.filter(lambda h: h is not None)),
    (
        CorridorTask,
        _CORRIDOR,
        "starts",
        st.one_of(
            st.tuples(BAD_CELL, FLOOR),
            st.tuples(FLOOR, BAD_CELL),
            FLOOR.map(lambda c: (c, c)),
            st.tuples(FLOOR, FLOOR, FLOOR),
            NOT_NUMBER,
        ),
    ),
    (
        CorridorTask,
        _CORRIDOR,
        "goals",
        st.one_of(
            st.tuples(BAD_CELL, FLOOR),
            st.tuples(FLOOR, BAD_CELL),
            FLOOR.map(lambda c: (c, c)),
            st.just(((1, 1), (3, 3))),
            NOT_NUMBER,
        ),
    ),
    (CorridorTask, _CORRIDOR, "horizon", BAD_HORIZON),
    (CorridorTask, _CORRIDOR, "tag", bad_word("_")),
    (GridWorldTask, _GRIDWORLD, "rows", bad_int(2, 256)),
    (GridWorldTask, _GRIDWORLD, "cols", bad_int(2, 256)),
    (
        GridWorldTask,
        _GRIDWORLD,
        "goal",
        st.one_of(
            st.tuples(st.integers(), st.integers()).filter(
                lambda c: not (0 <= c[0] < 4 and 0 <= c[1] < 4)
            ),
            st.tuples(st.integers(0, 3)),
            st.tuples(st.floats(), st.integers(0, 3)),
            NOT_NUMBER.filter(lambda v: not (isinstance(v, list) and len(v) == 2)),
        ),
    ),
    (
        GridWorldTask,
        _GRIDWORLD,
        "obstacles",
        st.one_of(
            st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=3).map(
                lambda o: [*o, (2, 2)]
            ),
            st.lists(st.tuples(st.integers(4, 9), st.integers()), min_size=1, max_size=2),
            st.just([(r, c) for r in range(4) for c in range(4) if (r, c) != (2, 2)]),
            st.integers(),
            st.text(min_size=1, max_size=3),
            st.lists(st.integers(), min_size=1, max_size=2),
        ),
    ),
    (
        GridWorldTask,
        _GRIDWORLD,
        "start",
        st.one_of(
            st.text(max_size=8).filter(lambda s: s not in START_NAMES),
            st.just(()),
            st.lists(st.tuples(st.integers(4, 9), st.integers(0, 3)), min_size=1, max_size=2),
            st.just([(2, 2)]),
            st.integers(),
            st.lists(st.none(), min_size=1, max_size=1),
        ),
    ),
    (GridWorldTask, _GRIDWORLD, "horizon", BAD_HORIZON),
    (GridWorldTask, _GRIDWORLD, "label", bad_word("-_.")),
    (ChainTask, {}, "variant", st.one_of(st.integers().filter(lambda v: v not in (1, 2)), NOT_INT)),
    (ChainTask, {}, "p", bad_real(0, 1).filter(lambda v: v is not None)),
    (ChainTask, {}, "horizon", BAD_HORIZON),
    (
        DroneTask,
        _DRONE,
        "map",
        st.one_of(
            st.text(max_size=8).filter(lambda s: s not in map_names()),
            st.text(max_size=4).map(lambda s: f"/nonexistent/{s}.json"),
            NOT_NUMBER.filter(lambda v: not isinstance(v, str)),
        ),
    ),
    (DroneTask, _DRONE, "horizon", BAD_HORIZON),
    (DroneTask, _DRONE, "noise_std", bad_real(0, 1).filter(lambda v: v is not None)),
    (DroneTask, _DRONE, "dropout", bad_real(0, 1, hi_open=True).filter(lambda v: v is not None)),
    (DroneTask, _DRONE, "bias", bad_real(-0.5, 0.5).filter(lambda v: v is not None)),
    (DroneTask, _DRONE, "light", bad_real(0, 1).filter(lambda v: v is not None)),
    (DroneTask, _DRONE, "angle_noise_deg", bad_real(0, 45)),
    (DroneTask, _DRONE, "start_jitter", bad_real(0, 1)),
    (DroneTask, _DRONE, "yaw_jitter_deg", bad_real(0, 180)),
    (
        MPETask,
        {},
        "game",
        st.one_of(st.text(max_size=8).filter(lambda s: s not in GAMES), NOT_NUMBER),
    ),
    (MPETask, {"game": "push"}, "max_cycles", bad_int(1, 100_000)),
    (MPETask, {"game": "adversary"}, "n_good", bad_int(1, 8).filter(lambda v: v is not None)),
    (
        MPETask,
        {"game": "push"},
        "n_good",
        st.one_of(st.integers().filter(lambda v: v != 1), NOT_INT.filter(lambda v: v is not None)),
    ),
    (
        MPETask,
        {"game": "push"},
        "opponent",
        st.one_of(
            st.text(max_size=8).filter(lambda s: s not in ("scripted", "random", "noop")),
            NOT_NUMBER.filter(lambda v: v is not None),
        ),
    ),
    (
        MPETask,
        {"game": "speaker_listener"},
        "opponent",
        st.sampled_from(["scripted", "random", "noop", "x"]),
    ),
    (
        SlotTask,
        {},
        "label",
        st.one_of(st.just(""), NOT_NUMBER.filter(lambda v: not isinstance(v, str))),
    ),
]
#: Fields whose unknown names are documented as UnknownNameError (a KeyError).
NAME_FIELDS = {
    (DroneTask, "map"),
    (MPETask, "game"),
    (MPETask, "opponent"),
    (GridWorldTask, "start"),
}


@given(data=st.data(), k=st.integers(0, len(TASK_FIELDS) - 1))
@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
def test_invalid_task_fields_are_refused_naming_the_field(data: st.DataObject, k: int) -> None:
    cls, base, field, values = TASK_FIELDS[k]
    value = data.draw(values, label=f"{cls.__name__}.{field}")
    allowed: tuple[type[BaseException], ...] = (ValueError,)
    if (cls, field) in NAME_FIELDS:
        allowed = (ValueError, UnknownNameError)
    tokens: tuple[str, ...] = (
        field,
        f"{cls.__name__}.{field}",
        repr(value)[:40],
        "drone map",
        "no free cell",
    )
    if cls is CorridorTask:
        tokens += ("own goal",)
    if cls is GridWorldTask and field == "obstacles":
        tokens += ("goal",)
    refused(f"task {cls.__name__}", lambda: cls(**{**base, field: value}), allowed, *tokens)


TASK_DICTS = st.one_of(
    st.builds(
        dict,
        family=st.text(max_size=6).filter(
            lambda f: f not in ("capture", "chain", "corridor", "drone", "gridworld", "mpe")
        ),
    ),
    st.builds(
        dict, family=st.one_of(st.none(), st.integers(), st.lists(st.text(max_size=2), max_size=1))
    ),
    st.text(min_size=1, max_size=8)
    .filter(lambda k: k not in ("family", "variant", "p", "horizon"))
    .map(lambda k: {"family": "chain", k: 1}),
    st.sampled_from([3, None, "chain", [("family", "chain")], ("family",)]),
    st.builds(lambda h: {"family": "chain", "horizon": h}, BAD_HORIZON),
)


@given(data=TASK_DICTS)
def test_invalid_task_dicts_are_refused(data: Any) -> None:
    refused(
        "task dicts (task_from_dict)",
        lambda: task_from_dict(data),
        (ValueError, TypeError, UnknownNameError),
        "family",
        "field",
        "task dict",
        "horizon",
    )


# -- the env pool (built once; kept in lockstep with a twin) -----------------------------------
def _drone_small(**kwargs: Any) -> ParallelEnv:
    return mt_envs.make(
        "drone_nav_v0", tasks=[DroneTask("corridor", horizon=20)], rows=2, cols=4, **kwargs
    )


def _padded_mix() -> ParallelEnv:
    """A capture slot (Discrete(5)) and a drone slot (Discrete(25)), padded; padded actions
    refused; agent and task indicators."""
    slots = [mt_envs.make("mast_v0", tasks=[CaptureTask.mast(3, 2)]), _drone_small()]
    mt = MultiTaskEnv(slots, sampler="round_robin", pad=True, invalid_action="raise")
    return TaskIndicator(AgentIndicator(mt))


#: ParallelEnvs and wrapper stacks whose actions are fuzzed: name -> factory.
ENVS: dict[str, Callable[[], ParallelEnv]] = {
    "mamt_v0": lambda: mt_envs.make("mamt_v0"),
    "mast_v0": lambda: mt_envs.make("mast_v0"),
    "corridor_v0": lambda: mt_envs.make("corridor_v0"),
    "gridworld_v0": lambda: mt_envs.make("gridworld_v0"),
    "chain_v0": lambda: mt_envs.make("chain_v0", mode="sampled"),
    "drone_nav_v0": _drone_small,
    "drone_nav_v0(continuous)": lambda: _drone_small(continuous_actions=True),
    "mpe group": lambda: make_group_env("mpe-mkt", invalid_action="raise"),
    "MultiTaskEnv(pad) + indicators": _padded_mix,
    "PadActions(7)": lambda: PadActions(mt_envs.make("mamt_v0"), 7),
    "PadAgents(PadObservations)": lambda: PadAgents(
        PadObservations(mt_envs.make("mamt_v0"), 12), 3
    ),
}


class Pair:
    """An env reset to one fixed state for every example, and what its next valid step must
    give: each example refuses a bad step and then checks that a valid step still gives exactly
    that (the refusal changed nothing). The expected step comes from a twin, computed once."""

    SEED = 7

    def __init__(self, name: str) -> None:
        self.env = ENVS[name]()
        twin = ENVS[name]()
        _, infos = twin.reset(seed=self.SEED)
        self.expected = twin.step(_valid(twin, infos))

    def start(self) -> dict[str, Any]:
        """Reset ``env`` to the example's start state; return its infos."""
        _, self.infos = self.env.reset(seed=self.SEED)
        return self.infos

    def check_unchanged(self) -> None:
        got = self.env.step(_valid(self.env, self.infos))
        assert _same_step(got, self.expected), "a refused step changed the env"


@functools.cache
def pair(name: str) -> Pair:
    return Pair(name)


@functools.cache
def pooled(name: str) -> ParallelEnv:
    return ENVS[name]()


def _valid(env: ParallelEnv, infos: dict[str, Any]) -> dict[str, Any]:
    """The last legal action of every live agent (a deterministic valid step)."""
    out: dict[str, Any] = {}
    for agent in env.agents:
        space = env.action_space(agent)
        if isinstance(space, gymnasium.spaces.Box):
            out[agent] = np.zeros(space.shape, dtype=space.dtype)
            continue
        mask = infos[agent].get("action_mask")
        out[agent] = int(np.flatnonzero(mask)[-1]) if mask is not None else int(space.n) - 1
    return out


def _same_step(a: tuple, b: tuple) -> bool:
    for x, y in zip(a[:4], b[:4], strict=True):
        if x.keys() != y.keys():
            return False
        for k in x:
            if not np.array_equal(np.asarray(x[k]), np.asarray(y[k])):
                return False
    return True


# -- 2. per-agent actions --------------------------------------------------------------------------
def bad_discrete(n_real: int, n_padded: int, padded_refused: bool) -> st.SearchStrategy[Any]:
    """Values that are not an action of ``Discrete(n)`` (``n_padded`` when padded actions are
    substituted, ``n_real`` when they are refused)."""
    top = n_real if padded_refused else n_padded
    ints = st.one_of(st.integers(max_value=-1), st.integers(min_value=top))
    np_ints = st.tuples(
        st.sampled_from([np.int8, np.int16, np.int32, np.int64]), st.integers(-128, -1)
    ).map(lambda t: t[0](t[1]))
    big = st.integers(min_value=max(top, 128), max_value=2**62).map(np.int64)
    return st.one_of(
        ints,
        np_ints,
        big,
        st.floats(),  # 2.0 as much as NaN: floats are refused, never rounded
        st.floats(width=32).map(np.float32),
        st.booleans(),
        st.just(np.bool_(True)),
        st.text(max_size=3),
        st.binary(max_size=2),
        st.lists(st.integers(0, n_real - 1), min_size=1, max_size=3),
        st.tuples(st.integers(0, n_real - 1)),
        hnp.arrays(
            np.int64, st.sampled_from([(1,), (2,), (1, 1)]), elements=st.integers(0, n_real - 1)
        ),
        hnp.arrays(np.float64, (), elements=st.floats(0, n_real - 1)),
        st.just(np.array(True)),
        st.complex_numbers(max_magnitude=5, allow_nan=False),
        st.builds(Junk),
        st.dictionaries(st.text(max_size=1), st.integers(), max_size=1),
    )


BAD_BOX_ACTION = st.one_of(
    hnp.arrays(np.float64, st.sampled_from([(1,), (3,), (2, 2), ()]), elements=st.floats(-1, 1)),
    st.tuples(st.floats(-1, 1), st.floats(-1, 1))
    .filter(lambda t: True)
    .map(lambda t: (t[0], t[1] + 3.0)),
    st.tuples(st.floats(min_value=1, exclude_min=True), st.floats(-1, 1)),
    st.tuples(st.floats(-1, 1), st.floats(max_value=-1, exclude_max=True)),
    st.tuples(st.sampled_from([math.nan, math.inf, -math.inf]), st.floats(-1, 1)),
    st.text(max_size=3),
    st.none(),
    st.builds(Junk),
    st.lists(st.text(max_size=1), min_size=2, max_size=2),
)


@functools.cache
def _action_spec(name: str) -> tuple[int, bool, bool]:
    """(padded actions, padded actions refused, Box actions)."""
    space = pooled(name).action_space(pooled(name).possible_agents[0])
    if isinstance(space, gymnasium.spaces.Box):
        return 0, False, True
    return int(space.n), name in ("MultiTaskEnv(pad) + indicators", "mpe group"), False


def _real_actions(pr: Pair, agent: str, n_padded: int) -> int:
    mask = pr.infos[agent].get("action_mask")
    return n_padded if mask is None else int(np.flatnonzero(mask)[-1]) + 1


@given(data=st.data(), name=st.sampled_from(sorted(ENVS)))
def test_invalid_actions_are_refused_and_change_nothing(data: st.DataObject, name: str) -> None:
    n_padded, refuses, box = _action_spec(name)
    pr = pair(name)
    env = pr.env
    pr.start()
    agent = env.agents[data.draw(st.integers(0, len(env.agents) - 1), label="agent")]
    if box:
        values = BAD_BOX_ACTION
    else:
        values = bad_discrete(_real_actions(pr, agent, n_padded), n_padded, refuses)
    bad = data.draw(values, label="action")
    actions = {**_valid(env, pr.infos), agent: bad}
    refused(f"actions: {name}", lambda: env.step(actions), (ValueError,), agent)
    pr.check_unchanged()


BAD_ACTION_DICTS = st.one_of(
    st.sampled_from(["list", "tuple", "none", "str", "int", "array"]),
    st.just("missing"),
    st.text(max_size=6).map(lambda s: ("unknown", s)),
    st.integers().map(lambda i: ("unknown", i)),
)


@given(kind=BAD_ACTION_DICTS, name=st.sampled_from(sorted(ENVS)))
def test_invalid_action_dicts_are_refused_and_change_nothing(kind: Any, name: str) -> None:
    pr = pair(name)
    env = pr.env
    valid = _valid(env, pr.start())
    allowed: tuple[type[BaseException], ...]
    tokens: tuple[str, ...]
    if kind == "missing":
        agent = env.agents[-1]
        actions: Any = {a: v for a, v in valid.items() if a != agent}
        allowed, tokens = (ValueError,), (agent,)
    elif isinstance(kind, tuple):
        key = kind[1]
        if key in env.possible_agents:
            key = f"{key}!"
        actions = {**valid, key: next(iter(valid.values()))}
        allowed, tokens = (ValueError,), ("unknown agent", repr(key))
    else:
        actions = {
            "list": list(valid.values()),
            "tuple": tuple(valid.values()),
            "none": None,
            "str": "agent_0",
            "int": 0,
            "array": np.zeros(len(valid), dtype=np.int64),
        }[kind]
        allowed, tokens = (TypeError,), ("actions",)
    refused(f"action dicts: {name}", lambda: env.step(actions), allowed, *tokens)
    pr.check_unchanged()


# -- 3. batched actions ----------------------------------------------------------------------------
VEC_IDS = ("mamt_v0", "corridor_v0", "gridworld_v0", "chain_v0", "drone_nav_v0")
B = 3


def _make_vec(env_id: str, native: bool) -> Any:
    kwargs: dict[str, Any] = {}
    if env_id == "drone_nav_v0":
        kwargs = {"tasks": [DroneTask("corridor", horizon=20)], "rows": 2, "cols": 4}
    return mt_envs.make_vec(env_id, B, seed=0, native=native, **kwargs)


def _small_bridge() -> Any:
    from wrappers.sb3 import to_sb3_vec_env

    def make() -> ParallelEnv:  # 2 and 3 agents, padded: the bridge has filler indices
        tasks = [CaptureTask.mast(3, 2), CaptureTask.mast(4, 3)]
        return MultiTaskEnv.from_task_set("mast_v0", tasks, pad=True)

    return to_sb3_vec_env(make, n_copies=2, seed=0)


class VecPair:
    """A batched env (or SB3 bridge) reset to one state for every example, and the result its
    next valid step must give (see :class:`Pair`)."""

    def __init__(self, build: Callable[[], Any], sb3: bool) -> None:
        self.env, self.sb3 = build(), sb3
        twin = build()
        self._reset(twin)
        self.expected = twin.step(self._valid(twin))

    def _reset(self, venv: Any) -> None:
        if self.sb3:
            venv.seed(0)
            venv.reset()
        else:
            _, self.info = venv.reset(seed=0)

    def _valid(self, venv: Any) -> np.ndarray:
        """The last legal action everywhere."""
        masks = venv.action_masks() if self.sb3 else self.info["action_mask"]
        return masks.shape[-1] - 1 - np.argmax(masks[..., ::-1], axis=-1)

    def start(self) -> None:
        self._reset(self.env)

    def check_unchanged(self) -> None:
        got = self.env.step(self._valid(self.env))
        for x, y in zip(got[:-1], self.expected[:-1], strict=True):
            assert np.array_equal(x, y), "a refused step changed the batched env"


@functools.cache
def vec(env_id: str, native: bool) -> Any:
    return _make_vec(env_id, native)


@functools.cache
def vec_pair(env_id: str, native: bool | None) -> VecPair:
    if env_id == "sb3":
        return VecPair(_small_bridge, sb3=True)
    return VecPair(lambda: _make_vec(env_id, bool(native)), sb3=False)


@st.composite
def bad_batches(draw: Any, shape: tuple[int, ...], n_act: int) -> Any:
    """Action arrays for a batched env that expects ints of ``shape`` in ``[0, n_act)``."""
    kind = draw(st.sampled_from(["shape", "float", "bool", "range", "object", "ragged", "scalar"]))
    if kind == "shape":
        other = draw(
            hnp.array_shapes(min_dims=0, max_dims=3, max_side=4).filter(lambda s: s != shape)
        )
        if len(shape) == 1 and other == (shape[0], 1):
            other = (shape[0], 2)
        return np.zeros(other, dtype=np.int64)
    if kind == "float":
        return draw(hnp.arrays(draw(st.sampled_from([np.float32, np.float64])), shape))
    if kind == "bool":
        return draw(hnp.arrays(np.bool_, shape))
    if kind == "range":
        arr = np.zeros(shape, dtype=np.int64)
        idx = tuple(draw(st.integers(0, s - 1)) for s in shape)
        arr[idx] = draw(
            st.one_of(st.integers(-(2**62), -1), st.integers(min_value=n_act, max_value=2**62))
        )
        return arr
    if kind == "object":
        arr = np.zeros(shape, dtype=object)
        idx = tuple(draw(st.integers(0, s - 1)) for s in shape)
        arr[idx] = draw(st.one_of(st.text(max_size=2), st.none(), st.builds(Junk)))
        return arr
    if kind == "ragged":
        return [
            [0] * (shape[-1] if len(shape) > 1 else 1),
            [0, 0, 0, 0, 0][: draw(st.integers(0, 4))],
        ]
    return draw(st.one_of(st.none(), st.text(max_size=2), st.integers(0, 3)))


@given(
    data=st.data(),
    target=st.sampled_from([*((e, n) for e in VEC_IDS for n in (True, False)), ("sb3", None)]),
)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_invalid_batched_actions_are_refused(data: st.DataObject, target: tuple[str, Any]) -> None:
    env_id, native = target
    pr = vec_pair(env_id, native)
    venv = pr.env
    pr.start()
    if pr.sb3:
        shape: tuple[int, ...] = (venv.num_envs,)
        n_act = int(venv.action_space.n)
        live = venv.live_mask
        label = "actions: SB3 bridge"
    else:
        shape, n_act = (B, venv.num_agents), int(venv.single_action_space.n)
        live = pr.info["agent_mask"]
        label = f"batched actions: {env_id}{'' if native else ' (SyncVectorEnv)'}"
    bad = data.draw(bad_batches(shape, n_act), label="actions")
    if isinstance(bad, np.ndarray) and bad.shape == shape and bad.dtype.kind in "iu":
        # entries of padded agents and SB3 filler indices are documented as ignored: the bad
        # value goes to the last live entry (with the bridge, earlier copies must not step)
        k = tuple(np.argwhere(live)[-1])
        bad = np.where(live, 0, bad)
        bad[k] = data.draw(st.one_of(st.integers(-(2**62), -1), st.integers(n_act, 2**62)))
    refused(label, lambda: venv.step(bad), (ValueError,), "action")
    pr.check_unchanged()


# -- 4. reset options and seeds --------------------------------------------------------------------
OPTION_TARGETS = (*sorted(ENVS), *(f"vec:{e}" for e in VEC_IDS), *(f"sync:{e}" for e in VEC_IDS))


def _reset_target(name: str) -> tuple[Callable[..., Any], Any, bool]:
    """``(reset, task_set, team mode)`` of a ParallelEnv, a native batched env or a
    SyncVectorEnv."""
    if name.startswith("vec:"):
        env: Any = vec(name[4:], True)
    elif name.startswith("sync:"):
        env = vec(name[5:], False)
    else:
        env = pooled(name)
    inner = env.envs[0] if isinstance(env, SyncVectorEnv) else env
    inner = getattr(inner, "unwrapped", inner)
    return env.reset, getattr(inner, "task_set", None), bool(getattr(inner, "team", False))


BAD_OPTIONS = st.one_of(
    st.lists(st.integers(), max_size=2),
    st.text(max_size=3),
    st.integers(),
    st.tuples(st.text(max_size=1)),
    st.builds(Junk),
)


@st.composite
def bad_task_options(
    draw: Any, n_tasks: int, batched: bool
) -> tuple[Any, tuple[type[BaseException], ...], tuple[str, ...]]:
    """An invalid ``options["task"]`` with the errors and message words the docs give."""
    kind = draw(
        st.sampled_from(["range", "name", "type", "alien"] + (["array"] if batched else []))
    )
    if kind == "range":
        v = draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=n_tasks)))
        return v, (ValueError,), ("task id", "0..", str(v))
    if kind == "name":
        v = draw(st.text(min_size=1, max_size=6))
        return v, (UnknownNameError, ValueError), ("unknown task", repr(v), "task")
    if kind == "alien":
        v = draw(
            st.sampled_from(
                [CaptureTask.mamt(9, 3), ChainTask(2, horizon=3), MPETask("push", max_cycles=3)]
            )
        )
        return v, (ValueError, TypeError), ("task",)
    if kind == "array":
        v = draw(
            st.one_of(
                hnp.arrays(
                    np.int64,
                    st.integers(0, 5).filter(lambda n: n != B).map(lambda n: (n,)),
                    elements=st.integers(0, n_tasks - 1),
                ),
                hnp.arrays(np.float64, (B,)),
                hnp.arrays(np.int64, (B,), elements=st.integers(n_tasks, n_tasks + 3)),
                hnp.arrays(np.int64, (B, 2), elements=st.integers(0, n_tasks - 1)),
            )
        )
        return v, (ValueError,), ("task",)
    v = draw(
        st.one_of(
            st.floats(),
            st.booleans(),
            st.builds(Junk),
            st.lists(st.integers(0, 1), min_size=1, max_size=2),
        )
    )
    return v, (TypeError, ValueError), ("task",)


@given(
    data=st.data(),
    name=st.sampled_from(OPTION_TARGETS),
    kind=st.sampled_from(["options", "task", "seed"]),
)
def test_invalid_reset_options_and_seeds_are_refused(
    data: st.DataObject, name: str, kind: str
) -> None:
    reset, task_set, team = _reset_target(name)
    batched = name.startswith("vec:")
    if kind == "options":
        options = data.draw(BAD_OPTIONS, label="options")
        refused(f"reset options: {name}", lambda: reset(options=options), (TypeError,), "options")
    elif kind == "seed":
        seed = data.draw(BAD_SEED, label="seed")
        refused(f"reset seeds: {name}", lambda: reset(seed=seed), (TypeError, ValueError), "seed")
    else:
        n_tasks = len(task_set) if task_set is not None else 1
        spec, allowed, tokens = data.draw(bad_task_options(n_tasks, batched), label="task")
        if team:  # team mode: every task option is refused
            allowed, tokens = (ValueError,), ("team",)
        refused(
            f"reset task option: {name}", lambda: reset(options={"task": spec}), allowed, *tokens
        )


# -- 5. make / make_vec arguments ------------------------------------------------------------------
ENV_IDS = tuple(mt_envs.env_ids())
#: Keyword -> (invalid values, documented errors, message words) for every env id that takes it.
COMMON_KWARGS: dict[str, tuple[Any, tuple[type[BaseException], ...], tuple[str, ...]]] = {
    "tasks": (
        st.one_of(
            st.integers(),
            st.floats(),
            st.just([]),
            st.lists(st.integers(), min_size=1, max_size=2),
            st.builds(Junk),
            st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
        ),
        (TypeError,),
        ("tasks",),
    ),
    "sampler": (
        st.one_of(
            st.integers(),
            st.floats(),
            st.none(),
            st.builds(Junk),
            st.text(max_size=6).filter(lambda s: s not in ("uniform", "round_robin")),
        ),
        (TypeError, UnknownNameError),
        ("sampler",),
    ),
    "seed_task": (BAD_SEED, (TypeError, ValueError), ("seed_task",)),
    "bogus_keyword": (st.integers(), (TypeError,), ("bogus_keyword",)),
}
FAMILY_KWARGS: dict[
    str, dict[str, tuple[Any, tuple[type[BaseException], ...], tuple[str, ...]]]
] = {
    "mamt_v0": {
        "obs_encoding": (
            st.one_of(st.text(max_size=6), st.integers()).filter(
                lambda v: v not in ("coords", "onehot")
            ),
            (ValueError,),
            ("obs_encoding",),
        )
    },
    "mast_v0": {
        "obs_encoding": (
            st.one_of(st.text(max_size=6), st.integers()).filter(
                lambda v: v not in ("coords", "onehot")
            ),
            (ValueError,),
            ("obs_encoding",),
        )
    },
    "corridor_v0": {
        "obs_type": (
            st.one_of(st.text(max_size=6), st.integers()).filter(
                lambda v: v not in ("multidiscrete", "float")
            ),
            (ValueError,),
            ("obs_type",),
        ),
        "mode": (
            st.one_of(st.text(max_size=6), st.integers()).filter(lambda v: v != "sampled"),
            (ValueError,),
            ("mode",),
        ),
    },
    "gridworld_v0": {
        "mode": (
            st.one_of(st.text(max_size=6), st.integers()).filter(
                lambda v: v not in ("team", "sampled")
            ),
            (ValueError,),
            ("mode",),
        ),
        "start": (
            st.one_of(
                st.text(max_size=6).filter(lambda s: s not in START_NAMES),
                st.lists(st.tuples(st.integers(20, 30), st.integers(0, 3)), min_size=1, max_size=1),
            ),
            (ValueError, UnknownNameError),
            ("start",),
        ),
    },
    "chain_v0": {
        "mode": (
            st.one_of(st.text(max_size=6), st.integers()).filter(
                lambda v: v not in ("team", "sampled")
            ),
            (ValueError,),
            ("mode",),
        ),
        "p": (bad_real(0, 1).filter(lambda v: v is not None), (ValueError,), ("p",)),
    },
    "drone_nav_v0": {
        "mode": (
            st.one_of(st.text(max_size=6), st.integers(), st.none()).filter(
                lambda v: v not in ("shared", "team")
            ),
            (ValueError,),
            ("mode",),
        ),
        "n_drones": (bad_int(1, 64), (ValueError,), ("n_drones",)),
        "obs_type": (
            st.one_of(st.text(max_size=6), st.integers()).filter(
                lambda v: v not in ("depth", "image")
            ),
            (ValueError,),
            ("obs_type",),
        ),
        "extras": (
            st.one_of(
                st.text(min_size=1, max_size=6).filter(
                    lambda v: v not in ("altitude", "last_action")
                ),
                st.just(("altitude", "altitude")),
            ),
            (ValueError,),
            ("extras",),
        ),
        "continuous_actions": (
            NOT_NUMBER.filter(lambda v: not isinstance(v, bool)),
            (ValueError,),
            ("continuous_actions",),
        ),
        "rows": (bad_int(1), (ValueError,), ("rows",)),
        "cols": (bad_int(1), (ValueError,), ("cols",)),
        "fov_h": (bad_real(0, 180, lo_open=False, hi_open=True), (ValueError,), ("fov_h",)),
        "fov_v": (bad_real(0, 180, hi_open=True), (ValueError,), ("fov_v",)),
        "max_range": (
            st.one_of(st.floats(max_value=0), st.just(math.nan), NOT_NUMBER),
            (ValueError,),
            ("max_range",),
        ),
        "step_length": (
            st.one_of(st.floats(max_value=0), st.just(math.nan), NOT_NUMBER),
            (ValueError,),
            ("step_length",),
        ),
        "radius": (
            st.one_of(st.floats(max_value=0), st.just(math.nan), NOT_NUMBER),
            (ValueError,),
            ("radius",),
        ),
        "crash_distance": (
            st.one_of(st.floats(max_value=0, exclude_max=True), st.just(math.nan), NOT_NUMBER),
            (ValueError,),
            ("crash_distance",),
        ),
        "centre_window": (
            st.one_of(
                st.tuples(st.integers(max_value=0), st.integers(1, 4)),
                st.tuples(st.integers(1, 8), st.integers(min_value=33)),
                st.tuples(st.integers(1, 2)),
                # A list [rows, cols] of positive ints is a valid window: leave those out.
                NOT_NUMBER.filter(
                    lambda v: (
                        v is not None and not (isinstance(v, list) and len(v) == 2 and min(v) >= 1)
                    )
                ),
            ),
            (ValueError,),
            ("centre_window",),
        ),
    },
}
MAKE_CASES = [(e, k) for e in ENV_IDS for k in (*COMMON_KWARGS, *FAMILY_KWARGS.get(e, {}))]


@given(data=st.data(), case=st.sampled_from(MAKE_CASES), vector=st.booleans())
@settings(suppress_health_check=[HealthCheck.filter_too_much])
def test_invalid_make_arguments_are_refused(
    data: st.DataObject, case: tuple[str, str], vector: bool
) -> None:
    env_id, key = case
    values, allowed, tokens = {**COMMON_KWARGS, **FAMILY_KWARGS.get(env_id, {})}[key]
    value = data.draw(values, label=key)
    if key == "tasks" and isinstance(value, list) and not value:
        tokens = ("tasks",)
    kwargs = {key: value}
    native = data.draw(st.booleans(), label="native") if vector else True

    def call() -> Any:
        if vector:
            return mt_envs.make_vec(env_id, 2, native=native, **kwargs)
        return mt_envs.make(env_id, **kwargs)

    category = "make_vec arguments" if vector else "make arguments"
    refused(category, call, allowed, *tokens)


BAD_IDS = st.one_of(
    st.text(max_size=10).filter(lambda s: s not in ENV_IDS),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=2), max_size=1),
    st.builds(Junk),
)


@given(
    env_id=BAD_IDS, which=st.sampled_from(["make", "make_vec", "num_envs", "seed"]), data=st.data()
)
def test_invalid_env_ids_batch_sizes_and_vector_seeds_are_refused(
    env_id: Any, which: str, data: st.DataObject
) -> None:
    if which == "make":
        allowed = (TypeError, UnknownNameError)
        refused("env ids", lambda: mt_envs.make(env_id), allowed, "environment id", "env_id")
    elif which == "make_vec":
        allowed = (TypeError, UnknownNameError)
        refused("env ids", lambda: mt_envs.make_vec(env_id, 2), allowed, "environment id", "env_id")
    elif which == "num_envs":
        n = data.draw(bad_int(1), label="num_envs")
        env = data.draw(st.sampled_from(ENV_IDS), label="env id")
        native = data.draw(st.booleans(), label="native")
        refused(
            "make_vec num_envs",
            lambda: mt_envs.make_vec(env, n, native=native),
            (ValueError,),
            "num_envs",
        )
    else:
        seed: Any = data.draw(BAD_SEED, label="seed")
        env = data.draw(st.sampled_from(ENV_IDS), label="env id")
        native = data.draw(st.booleans(), label="native")
        refused(
            "make_vec seed",
            lambda: mt_envs.make_vec(env, 2, seed=seed, native=native),
            (TypeError, ValueError),
            "seed",
        )


# -- 6. wrapper arguments --------------------------------------------------------------------------
def _mamt() -> ParallelEnv:
    return pooled("mamt_v0")


def _mast3() -> ParallelEnv:
    return _base("mast3")


@functools.cache
def _base(kind: str) -> ParallelEnv:
    if kind == "mast3":
        return mt_envs.make("mast_v0", tasks=[CaptureTask.mast(3, 3)])
    return mt_envs.make("mamt_v0", tasks=[CaptureTask.mamt(3)], render_mode="rgb_array")


_VIDEO_DIR: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def video_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Where the recording wrappers may write (nothing valid is ever recorded here)."""
    _VIDEO_DIR.append(tmp_path_factory.mktemp("fuzz_videos"))
    yield
    _VIDEO_DIR.clear()


def _video_dir() -> Path:
    return _VIDEO_DIR[-1]


def _context_junk(value: Any) -> Callable[[int, Any], Any]:
    return lambda task_id, task: value


@functools.cache
def _sb3_set_options() -> Any:
    from wrappers.sb3 import to_sb3_vec_env

    return to_sb3_vec_env(lambda: mt_envs.make("mamt_v0"), n_copies=2, seed=0)


#: (label, invalid values, call(value), documented errors, message words)
WRAPPER_CASES: list[
    tuple[str, Any, Callable[[Any], Any], tuple[type[BaseException], ...], tuple[str, ...]]
] = [
    (
        "MultiTaskEnv slots",
        st.one_of(
            st.integers(),
            st.none(),
            st.text(max_size=3),
            st.dictionaries(st.text(max_size=1), st.integers(), max_size=1),
            st.builds(Junk),
        ),
        lambda v: MultiTaskEnv(v),
        (TypeError,),
        ("slots",),
    ),
    ("MultiTaskEnv slots", st.just([]), lambda v: MultiTaskEnv(v), (ValueError,), ("slot",)),
    (
        "MultiTaskEnv slots",
        st.lists(
            st.one_of(st.integers(), st.text(max_size=2), st.none(), st.builds(Junk)),
            min_size=1,
            max_size=2,
        ),
        lambda v: MultiTaskEnv(v),
        (TypeError,),
        ("slot 0",),
    ),
    (
        "MultiTaskEnv slots",
        st.one_of(st.just(()), st.tuples(st.just(0), st.just(0), st.just(0))),
        lambda v: MultiTaskEnv([(_mamt(), {}, None)[: len(v)]] if v else [()]),
        (ValueError, TypeError),
        ("slot 0",),
    ),
    (
        "MultiTaskEnv slots",
        st.one_of(st.integers(), st.text(max_size=2), st.lists(st.integers(), max_size=1)),
        lambda v: MultiTaskEnv([(_mamt(), v)]),
        (TypeError,),
        ("slot 0",),
    ),
    (
        "MultiTaskEnv slots",
        st.one_of(st.integers(max_value=-1), st.integers(min_value=4)),
        lambda v: MultiTaskEnv([(_mamt(), {"task": v})]),
        (ValueError,),
        ("slot 0",),
    ),
    (
        "MultiTaskEnv slots",
        st.text(max_size=5),
        lambda v: MultiTaskEnv([(_mamt(), {"task": v})]),
        (UnknownNameError,),
        ("slot 0",),
    ),
    (
        "MultiTaskEnv slots",
        st.one_of(
            st.floats(),
            st.booleans(),
            st.builds(Junk),
            st.lists(st.integers(0, 1), min_size=1, max_size=1),
        ),
        lambda v: MultiTaskEnv([(_mamt(), {"task": v})]),
        (TypeError,),
        ("slot 0",),
    ),
    (
        "MultiTaskEnv slots",
        st.just("heterogeneous"),
        lambda v: MultiTaskEnv([_mamt(), _mast3()]),
        (ValueError,),
        ("pad=True",),
    ),
    (
        "MultiTaskEnv sampler",
        st.one_of(
            st.integers(),
            st.none(),
            st.builds(Junk),
            st.text(max_size=5).filter(lambda s: s not in ("uniform", "round_robin")),
        ),
        lambda v: MultiTaskEnv([_mamt(), _mast3()], v, pad=True),
        (TypeError, UnknownNameError),
        ("sampler",),
    ),
    (
        "MultiTaskEnv sampler",
        st.one_of(
            st.lists(st.floats(0, 1), max_size=4).filter(
                lambda p: len(p) != 2 or not math.isclose(sum(p), 1)
            ),
            st.lists(st.text(max_size=2), min_size=2, max_size=2),
            st.tuples(st.just(math.nan), st.just(1.0)),
            st.tuples(
                st.floats(min_value=1.01, max_value=9), st.floats(max_value=-0.01, min_value=-8)
            ),
        ),
        lambda v: MultiTaskEnv([_mamt(), _mast3()], v, pad=True),
        (ValueError,),
        ("sampler", "weighted", "probabilit"),
    ),
    (
        "MultiTaskEnv sampler",
        st.one_of(st.integers(max_value=-1), st.integers(min_value=2)),
        lambda v: MultiTaskEnv([_mamt(), _mast3()], fixed(v), pad=True),
        (ValueError,),
        ("fixed",),
    ),
    (
        "MultiTaskEnv seed",
        BAD_SEED,
        lambda v: MultiTaskEnv([_mamt()], seed=v),
        (ValueError,),
        ("seed",),
    ),
    (
        "MultiTaskEnv pad",
        NOT_NUMBER.filter(lambda v: not isinstance(v, bool)),
        lambda v: MultiTaskEnv([_mamt()], pad=v),
        (TypeError,),
        ("pad",),
    ),
    (
        "MultiTaskEnv tasks",
        st.one_of(st.integers(), st.builds(Junk), st.lists(st.integers(), min_size=1, max_size=2)),
        lambda v: MultiTaskEnv([_mamt()], tasks=v),
        (TypeError,),
        ("tasks",),
    ),
    (
        "MultiTaskEnv tasks",
        st.lists(
            st.sampled_from([CaptureTask.mast(3), CaptureTask.mast(4)]),
            min_size=2,
            max_size=3,
            unique=True,
        ),
        lambda v: MultiTaskEnv([_mamt()], tasks=v),
        (ValueError,),
        ("tasks",),
    ),
    (
        "MultiTaskEnv name",
        st.one_of(st.just(""), NOT_NUMBER.filter(lambda v: not isinstance(v, str))),
        lambda v: MultiTaskEnv([_mamt()], name=v),
        (ValueError,),
        ("name",),
    ),
    (
        "MultiTaskEnv invalid_action",
        st.one_of(
            st.integers(max_value=-1),
            st.integers(min_value=5),
            st.floats(),
            NOT_NUMBER.filter(lambda v: v != "raise"),
        ),
        lambda v: MultiTaskEnv([_mamt(), _mast3()], pad=True, invalid_action=v),
        (ValueError, TypeError),
        ("invalid_action",),
    ),
    (
        "PadObservations target",
        st.one_of(
            st.integers(max_value=7),
            st.lists(st.integers(max_value=7), min_size=1, max_size=1),
            st.lists(st.integers(1, 9), min_size=2, max_size=3),
        ),
        lambda v: PadObservations(_mamt(), v),
        (ValueError,),
        ("target",),
    ),
    (
        "PadObservations target",
        st.one_of(st.floats(), st.booleans(), st.text(max_size=2), st.builds(Junk)),
        lambda v: PadObservations(_mamt(), v),
        (TypeError,),
        ("target",),
    ),
    (
        "PadObservations target",
        st.sampled_from(
            [
                gymnasium.spaces.Box(0.0, 0.5, (9,), np.float32),
                gymnasium.spaces.Box(0.0, 1.0, (9,), np.float64),
                gymnasium.spaces.Box(0.0, 1.0, (3,), np.float32),
            ]
        ),
        lambda v: PadObservations(_mamt(), v),
        (ValueError,),
        ("target",),
    ),
    (
        "PadActions target",
        st.integers(max_value=4),
        lambda v: PadActions(_mamt(), v),
        (ValueError,),
        ("target",),
    ),
    (
        "PadActions target",
        st.one_of(st.floats(), st.booleans(), st.text(max_size=2), st.builds(Junk)),
        lambda v: PadActions(_mamt(), v),
        (TypeError,),
        ("target",),
    ),
    (
        "PadActions invalid_action",
        st.one_of(st.integers(max_value=-1), st.integers(min_value=5)),
        lambda v: PadActions(_mamt(), 7, invalid_action=v),
        (ValueError,),
        ("invalid_action",),
    ),
    (
        "PadActions invalid_action",
        st.one_of(st.floats(), NOT_NUMBER.filter(lambda v: v != "raise")),
        lambda v: PadActions(_mamt(), 7, invalid_action=v),
        (TypeError,),
        ("invalid_action",),
    ),
    (
        "PadAgents n_agents",
        st.integers(max_value=1),
        lambda v: PadAgents(_mamt(), v),
        (ValueError,),
        ("n_agents",),
    ),
    (
        "PadAgents n_agents",
        st.one_of(st.floats(), NOT_NUMBER),
        lambda v: PadAgents(_mamt(), v),
        (TypeError,),
        ("n_agents",),
    ),
    (
        "PadAgents prefix",
        st.one_of(st.just("agent_"), NOT_NUMBER.filter(lambda v: not isinstance(v, str))),
        lambda v: PadAgents(_mamt(), 4, prefix=v),
        (ValueError, TypeError),
        ("prefix", "collide"),
    ),
    (
        "AgentIndicator env",
        st.one_of(NOT_NUMBER, st.just(pooled)),
        lambda v: AgentIndicator(v),
        (TypeError,),
        ("ParallelEnv",),
    ),
    (
        "TaskIndicator env",
        st.one_of(NOT_NUMBER, st.just(mt_envs.mamt_v0.env)),
        lambda v: TaskIndicator(v() if callable(v) else v),
        (TypeError,),
        ("ParallelEnv", "AEC"),
    ),
    (
        "TaskIndicator n_tasks",
        bad_int(1).filter(lambda v: v is not None),  # None: the task set's size
        lambda v: TaskIndicator(_mamt(), v),
        (ValueError,),
        ("n_tasks",),
    ),
    (
        "TaskIndicator context",
        NOT_NUMBER.filter(lambda v: v is not None),
        lambda v: TaskIndicator(_mamt(), context=v),
        (TypeError,),
        ("context",),
    ),
    (
        "TaskIndicator context",
        st.one_of(
            st.text(min_size=1, max_size=2),
            st.lists(st.lists(st.floats(0, 1), min_size=1, max_size=2), min_size=1, max_size=2),
            st.lists(st.just(math.nan), min_size=1, max_size=2),
            st.builds(Junk),
            st.none(),
        ),
        lambda v: TaskIndicator(_mamt(), context=_context_junk(v)),
        (ValueError,),
        ("context",),
    ),
    (
        "TaskIndicator context_space",
        NOT_NUMBER.filter(lambda v: v is not None),
        lambda v: TaskIndicator(_mamt(), context=_context_junk([0.0]), context_space=v),
        (TypeError,),
        ("context_space",),
    ),
    (
        "RecordEpisodes folder",
        st.one_of(st.integers(), st.none(), st.builds(Junk), st.floats()),
        lambda v: RecordEpisodes(_base("rgb"), v),
        (TypeError,),
        ("folder",),
    ),
    (
        "RecordEpisodes video_format",
        st.text(max_size=4).filter(lambda s: s not in ("gif", "mp4")),
        lambda v: RecordEpisodes(_base("rgb"), _video_dir(), video_format=v),
        (ValueError,),
        ("video_format",),
    ),
    (
        "RecordEpisodes fps",
        st.one_of(
            st.floats(max_value=0),
            st.just(math.nan),
            st.just(math.inf),
            st.text(max_size=2),
            st.builds(Junk),
        ),
        lambda v: RecordEpisodes(_base("rgb"), _video_dir(), fps=v),
        (ValueError,),
        ("fps",),
    ),
    (
        "RecordEpisodes episode_trigger",
        st.one_of(st.integers(), st.text(max_size=2), st.builds(Junk)),
        lambda v: RecordEpisodes(_base("rgb"), _video_dir(), episode_trigger=v),
        (TypeError,),
        ("episode_trigger",),
    ),
    (
        "RecordEpisodes name_prefix",
        st.one_of(st.just(""), NOT_NUMBER.filter(lambda v: not isinstance(v, str))),
        lambda v: RecordEpisodes(_base("rgb"), _video_dir(), name_prefix=v),
        (ValueError,),
        ("name_prefix",),
    ),
    (
        "RecordEpisodes env",
        st.just(None),
        lambda v: RecordEpisodes(_mamt(), _video_dir()),
        (ValueError,),
        ("render_mode",),
    ),
    (
        "record_parallel_env episodes",
        bad_int(1),
        lambda v: record_parallel_env(_base("rgb"), _video_dir() / "a.gif", episodes=v),
        (ValueError,),
        ("episodes",),
    ),
    (
        "record_parallel_env path",
        st.one_of(
            st.integers(),
            st.none(),
            st.builds(Junk),
            st.text(max_size=6).filter(lambda s: not s.lower().endswith((".gif", ".mp4"))),
        ),
        lambda v: record_parallel_env(_base("rgb"), v),
        (TypeError, ValueError),
        ("path", "video format"),
    ),
    (
        "record_parallel_env policy",
        st.one_of(st.integers(), st.text(max_size=2), st.builds(Junk)),
        lambda v: record_parallel_env(_base("rgb"), _video_dir() / "a.gif", v),
        (TypeError,),
        ("policy",),
    ),
    (
        "record_parallel_env seed",
        BAD_SEED,
        lambda v: record_parallel_env(_base("rgb"), _video_dir() / "a.gif", seed=v),
        (TypeError, ValueError),
        ("seed",),
    ),
    (
        "SyncVectorEnv num_envs",
        bad_int(1).filter(lambda v: v is not None),
        lambda v: SyncVectorEnv(lambda: _mamt(), num_envs=v),
        (ValueError,),
        ("num_envs",),
    ),
    (
        "SyncVectorEnv seed",
        BAD_SEED,
        lambda v: SyncVectorEnv(lambda: mt_envs.make("mamt_v0"), num_envs=1, seed=v),
        (TypeError, ValueError),
        ("seed",),
    ),
    (
        "make_group_env task_set",
        st.one_of(
            st.integers(), st.builds(Junk), st.just("mamt-2a-3to6"), st.text(min_size=1, max_size=4)
        ),
        lambda v: make_group_env(v),
        (TypeError, UnknownNameError),
        ("task", "MPETask"),
    ),
    ("make_group_env seed", BAD_SEED, lambda v: make_group_env(seed=v), (ValueError,), ("seed",)),
    (
        "make_group_env invalid_action",
        st.one_of(st.integers(max_value=-1), st.integers(min_value=3)),
        lambda v: make_group_env(invalid_action=v),
        (ValueError,),
        ("invalid_action",),
    ),
    (
        "make_group_env render_mode",
        st.text(max_size=4).filter(lambda s: s not in ("human", "rgb_array")),
        lambda v: make_group_env(render_mode=v),
        (ValueError,),
        ("render_mode",),
    ),
    (
        "to_sb3_vec_env n_copies",
        bad_int(1),
        lambda v: _to_sb3(lambda: mt_envs.make("mamt_v0"), n_copies=v),
        (ValueError,),
        ("n_copies",),
    ),
    (
        "to_sb3_vec_env seed",
        BAD_SEED,
        lambda v: _to_sb3(lambda: mt_envs.make("mamt_v0"), seed=v),
        (ValueError,),
        ("seed",),
    ),
    (
        "to_sb3_vec_env noop_action",
        st.one_of(
            st.integers(max_value=-1), st.integers(min_value=5), st.floats(), st.text(max_size=2)
        ),
        lambda v: _to_sb3(lambda: mt_envs.make("mamt_v0"), noop_action=v),
        (ValueError,),
        ("noop_action",),
    ),
    (
        "to_sb3_vec_env env",
        st.one_of(NOT_NUMBER.filter(lambda v: not callable(v)), st.just(mt_envs.mamt_v0.env)),
        lambda v: _to_sb3(v() if callable(v) else v),
        (TypeError,),
        ("env", "ParallelEnv", "AEC"),
    ),
    ("to_sb3_vec_env env", st.just(lambda: 3), lambda v: _to_sb3(v), (TypeError,), ("factory",)),
    (
        "SB3VecEnv set_options",
        st.one_of(
            st.integers(),
            st.text(max_size=2),
            st.builds(Junk),
            st.lists(st.integers(), min_size=2, max_size=2),
        ),
        lambda v: _sb3_set_options().set_options(v),
        (TypeError,),
        ("set_options",),
    ),
    (
        "SB3VecEnv set_options",
        st.lists(st.just({}), max_size=4).filter(lambda v: len(v) != 2),
        lambda v: _sb3_set_options().set_options(v),
        (ValueError,),
        ("set_options",),
    ),
]


def _to_sb3(env: Any, **kwargs: Any) -> Any:
    from wrappers.sb3 import to_sb3_vec_env

    return to_sb3_vec_env(env, **kwargs)


@given(data=st.data(), k=st.integers(0, len(WRAPPER_CASES) - 1))
@settings(suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
def test_invalid_wrapper_arguments_are_refused(data: st.DataObject, k: int) -> None:
    label, values, call, allowed, tokens = WRAPPER_CASES[k]
    value = data.draw(values, label=label)
    refused(f"wrapper args: {label.split()[0]}", lambda: call(value), allowed, *tokens)


def test_every_task_field_and_wrapper_argument_is_fuzzed() -> None:
    """The fuzz tables cover every field of every task dataclass."""
    for cls in (CaptureTask, CorridorTask, GridWorldTask, ChainTask, DroneTask, MPETask, SlotTask):
        fields = {f.name for f in dataclasses.fields(cls)}
        covered = {field for c, _, field, _ in TASK_FIELDS if c is cls}
        assert covered == fields, (cls.__name__, fields - covered)
