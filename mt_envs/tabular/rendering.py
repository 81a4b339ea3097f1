"""Rendering helpers shared by the tabular families.

Families draw frames as ``uint8 [H, W, 3]`` arrays (:meth:`TabularEnv.render_rgb`); the engine
shows them in a window for ``render_mode="human"`` with :class:`HumanWindow`. The small numpy
drawing helpers here (:func:`fill_rect`, :func:`fill_disc`, :func:`blank`) need no pygame, so
``rgb_array`` frames can be drawn without the ``render`` extra; pygame-ce is imported lazily, only
when a window opens.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

RGB = tuple[int, int, int]


def _import_pygame() -> Any:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError as exc:
        raise ImportError(
            'render_mode="human" needs pygame-ce: pip install "mt-envs[render]"'
        ) from exc
    return pygame


class HumanWindow:
    """A pygame window showing ``uint8 [H, W, 3]`` frames at most ``fps`` times a second.

    Works headless with ``SDL_VIDEODRIVER=dummy``. Closing the window stops the display; the
    episode keeps running.

    Args:
        title: Window caption (the env name).
        fps: Frames per second.

    Raises:
        ImportError: When pygame-ce is not installed.
    """

    def __init__(self, title: str, fps: int = 4) -> None:
        self.title = title
        self.fps = int(fps)
        self._pg = _import_pygame()
        self._window: Any = None
        self._clock: Any = None
        self._closed = False

    def show(self, frame: np.ndarray) -> None:
        """Show one frame (``uint8 [H, W, 3]``)."""
        pg = self._pg
        if self._closed:
            return
        h, w = frame.shape[:2]
        if self._window is None or self._window.get_size() != (w, h):
            pg.display.init()
            self._window = pg.display.set_mode((w, h))
            pg.display.set_caption(f"mt-envs: {self.title}")
            self._clock = pg.time.Clock()
        if pg.event.get(pg.QUIT):
            self.close()
            self._closed = True
            return
        surface = pg.image.frombuffer(np.ascontiguousarray(frame).tobytes(), (w, h), "RGB")
        self._window.blit(surface, (0, 0))
        pg.display.flip()
        self._clock.tick(self.fps)

    def close(self) -> None:
        """Close the window (a later :meth:`show` opens a new one)."""
        self._closed = False
        if self._window is not None:
            self._pg.display.quit()
            self._window = None
            self._clock = None


def blank(height: int, width: int, colour: RGB) -> np.ndarray:
    """A ``uint8 [height, width, 3]`` frame filled with ``colour``."""
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:] = colour
    return frame


def fill_rect(frame: np.ndarray, y0: int, x0: int, h: int, w: int, colour: RGB) -> None:
    """Fill the rectangle of top-left pixel ``(y0, x0)`` and size ``h x w`` (clipped)."""
    frame[max(y0, 0) : max(y0 + h, 0), max(x0, 0) : max(x0 + w, 0)] = colour


def fill_disc(frame: np.ndarray, cy: float, cx: float, radius: float, colour: RGB) -> None:
    """Fill the disc of centre ``(cy, cx)`` and ``radius`` pixels."""
    h, w = frame.shape[:2]
    y0, y1 = max(int(cy - radius), 0), min(int(cy + radius) + 2, h)
    x0, x1 = max(int(cx - radius), 0), min(int(cx + radius) + 2, w)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    inside = (yy + 0.5 - cy) ** 2 + (xx + 0.5 - cx) ** 2 <= radius**2
    frame[y0:y1, x0:x1][inside] = colour


def frame_rect(
    frame: np.ndarray, y0: int, x0: int, h: int, w: int, colour: RGB, px: int = 2
) -> None:
    """Draw the ``px``-pixel outline of a rectangle."""
    fill_rect(frame, y0, x0, px, w, colour)
    fill_rect(frame, y0 + h - px, x0, px, w, colour)
    fill_rect(frame, y0, x0, h, px, colour)
    fill_rect(frame, y0, x0 + w - px, h, px, colour)
