"""Text for the pygame renderers: the default font, cached per size, and no text when pygame was
built without SDL_ttf (frames are still drawn)."""

from __future__ import annotations

from typing import Any


class PygameText:
    """Render and blit text with pygame's default font.

    Args:
        pg: The imported ``pygame`` module (pygame-ce).
    """

    def __init__(self, pg: Any) -> None:
        self._pg = pg
        self._fonts: dict[int, Any] = {}
        self._ok: bool | None = None

    def font(self, px: int) -> Any:
        """The default font at ``px`` pixels, or ``None`` when pygame has no fonts."""
        if self._ok is None:
            try:
                self._pg.font.init()
                self._ok = True
            except Exception:  # pygame built without SDL_ttf: draw without text
                self._ok = False
        if not self._ok:
            return None
        if px not in self._fonts:
            try:
                self._fonts[px] = self._pg.font.Font(None, px)
            except Exception:
                self._ok = False
                return None
        return self._fonts[px]

    def blit(
        self,
        surf: Any,
        text: str,
        px: int,
        colour: tuple[int, int, int],
        pos: tuple[int, int],
        anchor: str,
    ) -> int:
        """Blit ``text`` at ``pos``; ``anchor`` is a pygame Rect attribute (``"center"``,
        ``"midleft"``...). Returns the width drawn (0 without fonts)."""
        font = self.font(px)
        if font is None:
            return 0
        img = font.render(text, True, colour)
        surf.blit(img, img.get_rect(**{anchor: pos}))
        return int(img.get_width())
