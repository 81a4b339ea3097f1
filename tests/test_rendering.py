"""Rendering of the capture envs (ansi, rgb_array, human) and GIF recording."""

from __future__ import annotations

import itertools
import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import numpy as np
import pytest

import mt_envs
from mt_envs import mamt_v0, mast_v0
from mt_envs.capture import GreedyPolicy
from mt_envs.capture.rendering import (
    CAPTURE_CELL,
    CELL,
    NEUTRAL_TARGET,
    Layout,
    agent_colour,
    render_ansi,
)
from mt_envs.play import run_episodes

pygame = pytest.importorskip("pygame")
iio = pytest.importorskip("imageio.v3")

from mt_envs.capture.rendering import CaptureRenderer, _blend  # noqa: E402
from mt_envs.recording import HOLD_FRAMES, record_episodes, save_gif  # noqa: E402


def _patch_mode(frame: np.ndarray, x: int, y: int, half: int = 4) -> tuple[int, int, int]:
    """The most common colour of the (2 half + 1)^2 patch centred on pixel (x, y)."""
    patch = frame[y - half : y + half + 1, x - half : x + half + 1].reshape(-1, 3)
    colours, counts = np.unique(patch, axis=0, return_counts=True)
    return tuple(int(v) for v in colours[counts.argmax()])


def _play_to_capture(env, seed: int, task: int) -> list[np.ndarray]:
    """Frames of one greedy episode (reset frame first); asserts it ended by capture."""
    policy = GreedyPolicy.for_env(env)
    obs, infos = env.reset(seed=seed, options={"task": task})
    policy.reset()
    frames = [env.render()]
    while env.agents:
        obs, _, term, _, infos = env.step(policy(obs, infos))
        frames.append(env.render())
    assert any(term.values()), "the greedy chaser should capture on this seed"
    return frames


# -- rgb_array -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("module", "tasks"), [(mamt_v0, "mamt-2a-3to6"), (mast_v0, "mast-2a-4to8")]
)
def test_rgb_array_size_is_fixed_by_the_task_set(module, tasks) -> None:
    env = module.parallel_env(tasks=tasks, render_mode="rgb_array")
    layout = Layout.for_grid(env.table.grid_max)
    shapes = set()
    for task in range(len(env.task_set)):
        env.reset(seed=task, options={"task": task})
        frame = env.render()
        assert isinstance(frame, np.ndarray)
        assert frame.dtype == np.uint8
        shapes.add(frame.shape)
    assert shapes == {(layout.height, layout.width, 3)}
    assert 300 <= layout.width <= 480  # "8x8 is about 400 px"
    env.close()


def test_smaller_grids_are_centred() -> None:
    layout = Layout.for_grid(6)
    x3, y3 = layout.origin(3)
    x6, y6 = layout.origin(6)
    assert x3 - x6 == y3 - y6 == 3 * layout.cell // 2


@pytest.mark.parametrize("seed", range(4))
def test_agent_cell_centre_has_the_agent_colour(seed: int) -> None:
    # MAMT with flicker 0.3: visible agents are drawn in their colour, blind ones pale.
    env = mamt_v0.parallel_env(render_mode="rgb_array")
    renderer = CaptureRenderer("rgb_array")
    policy = GreedyPolicy.for_env(env)
    obs, infos = env.reset(seed=seed, options={"task": seed})
    policy.reset()
    checked = {True: 0, False: 0}
    while True:
        frame = renderer.draw(env)
        core = env.core
        cells = [tuple(p) for p in core.pos[: core.n]]
        for i in range(core.n):
            if cells.count(cells[i]) > 1:
                continue  # shared cells shrink and spread their agents
            x, y = renderer.cell_centre(env, *core.pos[i])
            colour = agent_colour(i)
            visible = env._last_visible[i]
            expected = colour if visible else _blend(colour, (255, 255, 255), 0.6)
            assert _patch_mode(frame, x, y) == expected
            checked[visible] += 1
        if not env.agents:
            break
        obs, _, _, _, infos = env.step(policy(obs, infos))
    assert checked[True] >= 2


def test_blind_agents_are_drawn_pale_over_many_states() -> None:
    # Over a few episodes with Pf = 0.3, some lone agents are blind and drawn pale.
    env = mamt_v0.parallel_env(render_mode="rgb_array")
    renderer = CaptureRenderer("rgb_array")
    pale = 0
    for seed in range(6):
        env.reset(seed=seed, options={"task": 3})
        for _ in range(4):
            frame = renderer.draw(env)
            core = env.core
            for i in range(core.n):
                if env._last_visible[i] or core.pos[i] == core.pos[1 - i]:
                    continue
                x, y = renderer.cell_centre(env, *core.pos[i])
                assert _patch_mode(frame, x, y) == _blend(agent_colour(i), (255, 255, 255), 0.6)
                pale += 1
            if not env.agents:
                break
            env.step(dict.fromkeys(env.agents, 4))
    assert pale >= 2


def test_agents_have_distinct_colours() -> None:
    colours = [agent_colour(i) for i in range(32)]
    assert len(set(colours)) == 32


def test_mamt_targets_take_their_agent_colour_and_mast_target_is_neutral() -> None:
    env = mamt_v0.parallel_env(render_mode="rgb_array")  # task 1 swaps: agent 0 -> target 1
    renderer = CaptureRenderer("rgb_array")
    checked = 0
    for seed in range(10):
        env.reset(seed=seed, options={"task": 1})
        frame = renderer.draw(env)
        core = env.core
        occupied = {tuple(p) for p in core.pos[: core.n]}
        tcells = [tuple(p) for p in core.tpos[: core.nt]]
        for j, cell in enumerate(tcells):
            if cell in occupied or tcells.count(cell) > 1:
                continue
            x, y = renderer.cell_centre(env, *cell)
            owner = core.assignment.index(j)
            assert owner == 1 - j
            off = renderer.layout_for(env).cell // 4  # a point on the cross's diagonal arm
            assert _patch_mode(frame, x + off, y + off, half=1) == agent_colour(owner)
            checked += 1
    assert checked >= 5

    mast = mast_v0.parallel_env(render_mode="rgb_array")
    mast.reset(seed=3)
    core = mast.core
    frame = renderer.draw(mast)
    assert tuple(core.tpos[0]) not in {tuple(p) for p in core.pos[: core.n]}
    x, y = renderer.cell_centre(mast, *core.tpos[0])
    off = renderer.layout_for(mast).cell // 4
    assert _patch_mode(frame, x + off, y + off, half=1) == NEUTRAL_TARGET


def test_capture_frame_is_tinted() -> None:
    env = mamt_v0.parallel_env(render_mode="rgb_array")
    frames = _play_to_capture(env, seed=0, task=2)
    capture, before = frames[-1], frames[-2]

    def count(frame: np.ndarray, colour: tuple[int, int, int]) -> int:
        return int(np.all(frame == np.array(colour, dtype=np.uint8), axis=-1).sum())

    board = 5 * 5 * Layout.for_grid(6).cell ** 2
    assert count(capture, CAPTURE_CELL) > 0.4 * board
    assert count(capture, CELL) == 0
    assert count(before, CAPTURE_CELL) == 0
    assert count(before, CELL) > 0.4 * board
    # The status bar turns green as well.
    assert capture[5, 5, 1] > capture[5, 5, 0] + 30
    assert abs(int(before[5, 5, 1]) - int(before[5, 5, 0])) < 15


def test_blind_agent_looks_different() -> None:
    env = mamt_v0.parallel_env(tasks="mamt-3a", render_mode="rgb_array")
    renderer = CaptureRenderer("rgb_array")
    env.reset(seed=0, options={"task": 0})
    env.core.pos[: env.core.n] = [[0, 0], [1, 1], [2, 2]]
    env._last_visible = [True, False, True]
    frame = renderer.draw(env)
    env._last_visible = [True, True, True]
    seen = renderer.draw(env)
    x, y = renderer.cell_centre(env, 1, 1)
    assert _patch_mode(seen, x, y) == agent_colour(1)
    assert _patch_mode(frame, x, y) != agent_colour(1)
    for r, c in ((0, 0), (2, 2)):  # other agents are unchanged
        x, y = renderer.cell_centre(env, r, c)
        assert _patch_mode(frame, x, y) == _patch_mode(seen, x, y)


def test_rendering_does_not_change_the_trajectory() -> None:
    plain = mamt_v0.parallel_env()
    drawn = mamt_v0.parallel_env(render_mode="rgb_array")
    for env in (plain, drawn):
        env.reset(seed=11)
    for _ in range(10):
        if not plain.agents:
            break
        acts = dict.fromkeys(plain.agents, 0)
        a = plain.step(acts)
        drawn.render()
        b = drawn.step(acts)
        assert all(np.array_equal(a[0][k], b[0][k]) for k in a[0])
        assert a[1] == b[1]


def test_renderer_rejects_other_modes() -> None:
    with pytest.raises(ValueError, match="rgb_array"):
        CaptureRenderer("ansi")


# -- human -------------------------------------------------------------------------------------
def test_human_mode_opens_and_closes_a_window() -> None:
    env = mamt_v0.parallel_env(render_mode="human")
    env.reset(seed=0)
    assert env.render() is None
    assert pygame.display.get_init()
    surface = pygame.display.get_surface()
    layout = Layout.for_grid(env.table.grid_max)
    assert surface.get_size() == (layout.width, layout.height)
    env.step(dict.fromkeys(env.agents, 4))  # draws itself
    env.close()
    assert not pygame.display.get_init()


# -- ansi ----------------------------------------------------------------------------------------
def _grid(text: str, m: int) -> list[list[str]]:
    lines = text.splitlines()[2 : 2 + m]
    return [line.split()[1:] for line in lines]


@pytest.mark.parametrize("seed", range(5))
def test_ansi_places_agents_and_targets(seed: int) -> None:
    env = mamt_v0.parallel_env(render_mode="ansi")
    env.reset(seed=seed, options={"task": seed % 4})
    text = env.render()
    assert isinstance(text, str)
    assert text == render_ansi(env)
    core = env.core
    assert text.splitlines()[0].startswith(f"{env.task.name} | task {env.task_id} | step 0/")
    grid = _grid(text, core.m)
    assert len(grid) == core.m
    assert all(len(row) == core.m for row in grid)
    agents = [tuple(p) for p in core.pos[: core.n]]
    targets = [tuple(p) for p in core.tpos[: core.nt]]
    for i, (r, c) in enumerate(agents):
        if agents.count((r, c)) == 1 and (r, c) not in targets:
            assert grid[r][c] == str(i)
    for j, (r, c) in enumerate(targets):
        if targets.count((r, c)) == 1 and (r, c) not in agents:
            assert grid[r][c] == "AB"[j]
    empty = {(r, c) for r in range(core.m) for c in range(core.m)} - set(agents) - set(targets)
    assert all(grid[r][c] == "." for r, c in empty)
    blind = [str(i) for i, v in enumerate(env._last_visible) if not v]
    line = next(x for x in text.splitlines() if x.startswith("blind this step:"))
    assert line.endswith(", ".join(f"agent {i}" for i in blind) if blind else "none")


def test_ansi_capture() -> None:
    env = mast_v0.parallel_env(render_mode="ansi")
    policy = GreedyPolicy.for_env(env)
    obs, infos = env.reset(seed=0, options={"task": 0})
    policy.reset()
    while env.agents:
        obs, _, term, _, infos = env.step(policy(obs, infos))
    assert any(term.values())
    text = env.render()
    assert text.splitlines()[-1] == "CAPTURED"
    r, c = env.core.tpos[0]
    assert _grid(text, env.core.m)[r][c] == "*"


# -- recording -----------------------------------------------------------------------------------
def test_save_gif_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (20, 30, 3), dtype=np.uint8) for _ in range(7)]
    path = save_gif(frames, tmp_path / "sub" / "out.gif", fps=10)
    assert path == tmp_path / "sub" / "out.gif"
    back = iio.imread(path, index=None)
    assert back.shape[:3] == (7, 20, 30)
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.gif"]  # no temp files left


def test_save_gif_refuses_bad_input(tmp_path) -> None:
    with pytest.raises(ValueError, match="no frames"):
        save_gif([], tmp_path / "a.gif")
    with pytest.raises(ValueError, match="one size"):
        save_gif([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], tmp_path / "a.gif")
    with pytest.raises(ValueError, match="fps"):
        save_gif([np.zeros((4, 4, 3), np.uint8)], tmp_path / "a.gif", fps=0)
    assert not list(tmp_path.iterdir())


def test_save_gif_names_the_extra_when_imageio_is_missing(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "imageio.v3", None)
    with pytest.raises(ImportError, match=r"mt-envs\[render\]"):
        save_gif([np.zeros((4, 4, 3), np.uint8)], tmp_path / "a.gif")


def test_record_episodes_matches_a_run_and_holds_the_end(tmp_path) -> None:
    env = mamt_v0.parallel_env(render_mode="rgb_array")
    policy = GreedyPolicy.for_env(env)
    frames, stats = record_episodes(env, policy, episodes=2, seed=5, task=3)
    rows = run_episodes(mamt_v0.parallel_env(), GreedyPolicy.for_env(env), 2, seed=5, task=3)
    assert [s["length"] for s in stats] == [r["length"] for r in rows]
    assert [s["captured"] for s in stats] == [r["captured"] for r in rows]
    assert len(frames) == sum(s["length"] + 1 + HOLD_FRAMES for s in stats)
    end = stats[0]["length"]
    assert all(np.array_equal(frames[end], frames[end + k]) for k in range(1, HOLD_FRAMES + 1))
    path = save_gif(frames, tmp_path / "ep.gif")
    back = iio.imread(path, index=None)
    # The encoder merges identical consecutive frames (the held ones) into longer frames.
    distinct = 1 + sum(not np.array_equal(a, b) for a, b in itertools.pairwise(frames))
    assert back.shape == (distinct, *frames[0].shape)


def test_record_episodes_works_without_rgb_array_mode() -> None:
    env = mamt_v0.parallel_env()
    frames, stats = record_episodes(env, GreedyPolicy.for_env(env), episodes=1, seed=0, task=0)
    assert len(frames) == stats[0]["length"] + 1 + HOLD_FRAMES
    layout = Layout.for_grid(6)
    assert frames[0].shape == (layout.height, layout.width, 3)


def test_package_import_does_not_import_pygame() -> None:
    import subprocess
    import sys

    code = "import sys, mt_envs, mt_envs.play, mt_envs.cli; print('pygame' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert mt_envs.__version__
