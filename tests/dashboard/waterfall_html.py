"""Read the Timeline's waterfall HTML back (ui.charts.waterfall_html) with the standard library's parser."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class DrawnWaterfall:
    """What a browser would make of the markup: its tags, lane labels, span hover texts and widths."""

    tags: set[str] = field(default_factory=set)
    lanes: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    widths: list[float] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.drawn = DrawnWaterfall()
        self._in_lane = False
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.drawn.tags.add(tag)
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        self._in_style = tag == "style"
        self._in_lane = "wf-lane" in classes
        if "wf-span" in classes:
            self.drawn.titles.append(found.get("title") or "")
            width = re.search(r"width:([0-9.]+)%", found.get("style") or "")
            self.drawn.widths.append(float(width.group(1)) if width else 0.0)

    def handle_endtag(self, tag: str) -> None:
        self._in_lane = False
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            return
        self.drawn.text.append(data)
        if self._in_lane:
            self.drawn.lanes.append(data)


def parse_waterfall(markup: str) -> DrawnWaterfall:
    reader = _Reader()
    reader.feed(markup)
    reader.close()
    return reader.drawn
