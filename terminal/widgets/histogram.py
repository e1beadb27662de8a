"""Events by hour of the day as vertical bars, one column per hour."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import Static

BLOCKS = " ▁▂▃▄▅▆▇█"


def histogram_content(
    counts: Sequence[int], height: int = 6, hour_label: str = "{hour}"
) -> Content:
    """Bars for each hour (3 cells wide), with the count above and hours below."""
    peak = max(counts, default=0)
    lines: list[str] = []
    levels = [(c * height * 8) // peak if peak else 0 for c in counts]
    lines.append("".join(f"{c:>3}" if c else "   " for c in counts))
    for row in range(height, 0, -1):
        line = ""
        for level in levels:
            fill = level - (row - 1) * 8
            block = BLOCKS[max(0, min(8, fill))]
            line += " " + block * 2
        lines.append(line)
    lines.append("".join(f"{hour:>3}" for hour in range(len(counts))))
    return Content("\n".join(lines)).stylize("$accent", 0, len(Content("\n".join(lines[:-1]))))


class HourHistogram(Static):
    """The day's events by hour."""

    DEFAULT_CSS = """
    HourHistogram { height: auto; width: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", markup=False, id=id)

    def show(self, counts: Sequence[int]) -> None:
        """Draw these 24 counts."""
        self.update(histogram_content(counts))
