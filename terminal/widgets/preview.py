"""A small live picture of what the camera sees, drawn with half-block characters.

Each terminal cell shows two pixels stacked: the upper one as the foreground of "▀", the lower
one as the background. The camera child sends small grey frames; nothing else crosses over.
"""

from __future__ import annotations

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

UPPER_HALF = "▀"


def _grey(level: int) -> Color:
    return Color.from_rgb(level, level, level)


def frame_strips(width: int, height: int, pixels: bytes, cols: int, rows: int) -> list[Strip]:
    """Scale a grey frame to ``cols`` x ``rows * 2`` pixels and draw it as half blocks."""
    if width <= 0 or height <= 0 or len(pixels) < width * height or cols <= 0 or rows <= 0:
        return []
    strips: list[Strip] = []
    for row in range(rows):
        segments: list[Segment] = []
        top_y = min(height - 1, (row * 2) * height // (rows * 2))
        bottom_y = min(height - 1, (row * 2 + 1) * height // (rows * 2))
        for col in range(cols):
            x = min(width - 1, col * width // cols)
            top = pixels[top_y * width + x]
            bottom = pixels[bottom_y * width + x]
            segments.append(Segment(UPPER_HALF, Style(color=_grey(top), bgcolor=_grey(bottom))))
        strips.append(Strip(segments, cols))
    return strips


class CameraPreview(Widget):
    """The aiming picture; hidden until the shopkeeper asks for it."""

    DEFAULT_CSS = """
    CameraPreview { height: 12; width: 48; border: round $primary; display: none; }
    CameraPreview.-on { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._frame: tuple[int, int, bytes] | None = None
        self._strips: list[Strip] = []

    def show_frame(self, width: int, height: int, pixels: bytes) -> None:
        """Keep the newest frame and redraw."""
        self._frame = (width, height, pixels)
        self._strips = []
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """One row of half blocks (blank until a frame came)."""
        cols, rows = self.content_size.width, self.content_size.height
        if self._frame is not None and not self._strips:
            self._strips = frame_strips(*self._frame, cols, rows)
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(cols, self.rich_style)

    def on_resize(self) -> None:
        """Rescale on the next paint."""
        self._strips = []
