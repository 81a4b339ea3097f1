"""Drawing the chain: one row of five states per group (``rgb_array`` with numpy, ``ansi``).

Each row is one task copy (team mode: agent ``i``'s task ``i``; sampled mode: the episode's task).
``S1`` and ``S5`` are tinted by the reward of entering them in that task (green +1, red -1); a
state whose actions are swapped (task 2's ``S2`` and ``S4``) carries an orange bar, a random state
(the stochastic variant) a purple one. The agent is a disc in its colour, drawn pale once its
episode has ended; a thin bar under the rows shows the time used.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mt_envs.capture.rendering import agent_colour
from mt_envs.chain.task import N_STATES, STATE_NAMES
from mt_envs.tabular.rendering import blank, fill_disc, fill_rect, frame_rect

CELL = 48
GAP = 8
MARGIN = 12
BACKGROUND = (34, 38, 46)
CELL_COLOUR = (240, 240, 234)
GOOD = (120, 200, 120)
BAD = (225, 110, 110)
SWAPPED = (255, 160, 40)
RANDOM = (150, 110, 200)
TIME = (200, 200, 194)
DONE_FRAME = (46, 160, 67)


def _blend(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _entry_reward(task: Any, c: int) -> int:
    """Reward of entering terminal state ``c`` (0 = S1 or 4 = S5) in ``task``."""
    return (1 if task.variant == 1 else -1) * (1 if c == 0 else -1)


def render_rgb(env: Any) -> np.ndarray:
    """``uint8 [H, W, 3]`` frame of a chain env (size fixed by the number of groups)."""
    groups = env.group_tasks
    states = env.model_states
    active = env.agent_active
    rows = len(groups)
    width = 2 * MARGIN + N_STATES * CELL + (N_STATES - 1) * GAP
    height = 2 * MARGIN + rows * CELL + (rows - 1) * GAP + 10
    frame = blank(height, width, BACKGROUND)
    for g, (k, s) in enumerate(zip(groups, states, strict=True)):
        model = env.models[k]
        task = env.task_set[k]
        y = MARGIN + g * (CELL + GAP)
        for c in range(N_STATES):
            x = MARGIN + c * (CELL + GAP)
            colour = CELL_COLOUR
            if model.terminal[c]:
                colour = GOOD if _entry_reward(task, c) > 0 else BAD
            fill_rect(frame, y, x, CELL, CELL, colour)
            if c in (1, 3):
                if task.p is not None:
                    fill_rect(frame, y + CELL - 8, x, 8, CELL, RANDOM)
                elif task.variant == 2:
                    fill_rect(frame, y + CELL - 8, x, 8, CELL, SWAPPED)
        x = MARGIN + s * (CELL + GAP)
        colour = agent_colour(g)
        playing = any(active[g * env.n_group : (g + 1) * env.n_group])
        if not playing:
            colour = _blend(colour, CELL_COLOUR, 0.6)
            frame_rect(frame, y, x, CELL, CELL, DONE_FRAME if model.terminal[s] else TIME, 3)
        fill_disc(frame, y + CELL / 2, x + CELL / 2, CELL * 0.32, colour)
    horizon = max(int(env.compiled.horizon[k]) for k in groups)
    used = min(env.num_steps / horizon, 1.0)
    fill_rect(frame, height - MARGIN - 4, MARGIN, 4, round((width - 2 * MARGIN) * used), TIME)
    return frame


def render_ansi(env: Any) -> str:
    """One line per group: the five states (``+1`` / ``-1`` rewards, ``@`` the agent, ``~`` a
    random state, ``x`` a swapped one), the task name and whether its agent still plays."""
    lines = [f"t = {env.num_steps}"]
    active = env.agent_active
    for g, (k, s) in enumerate(zip(env.group_tasks, env.model_states, strict=True)):
        model = env.models[k]
        task = env.task_set[k]
        cells = []
        for c in range(N_STATES):
            if c == s:
                mark = "@"
            elif model.terminal[c]:
                mark = "+" if _entry_reward(task, c) > 0 else "-"
            elif c in (1, 3) and task.p is not None:
                mark = "~"
            elif c in (1, 3) and task.variant == 2:
                mark = "x"
            else:
                mark = "."
            cells.append(mark)
        state = "playing" if any(active[g * env.n_group : (g + 1) * env.n_group]) else "done"
        lines.append(
            f"agent_{g} {' '.join(cells)}  {task.name} at {STATE_NAMES[s]} ({state})"
            if env.team
            else f"{' '.join(cells)}  {task.name} at {STATE_NAMES[s]} ({state})"
        )
    return "\n".join(lines)
