"""Tables that fit the width they are drawn at: a terminal of 60, 80 or 160 columns, or a pipe.

rich squeezes every column of a table that is too wide, so at 80 columns ``hpo trials`` showed the
metric as ``val_…`` and the status as ``succ…``. A :class:`FitTable` decides instead, when it is
rendered (so it adapts to the console it is printed on, and to a live view being resized):
a column gives way at the levels it names, lowest first: at its ``shrink_at`` level it is cut
with an ellipsis (the widest first) down to its ``shrink`` width, at its ``drop_at`` level it is
left out (the rightmost first), until the table fits; a column naming neither is never cut. A dim
marker line counts what was dropped (``+3 params``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

GAP = 3  # what SIMPLE_HEAD puts between two columns: padding, the divider, padding


@dataclass
class Column:
    header: Text
    cells: list[Text] = field(default_factory=list)
    justify: str = "right"
    style: str = ""
    shrink: int | None = None  # may be cut with an ellipsis down to this many cells...
    shrink_at: int = 0  # ...at this level
    drop_at: int | None = None  # may be left out at this level (None: never)
    counted: str = ""  # what the marker calls it once dropped ("param", "metric")

    def natural(self) -> int:
        return max([self.header.cell_len, *(c.cell_len for c in self.cells)] or [0])


@dataclass
class FitTable:
    columns: list[Column]
    caption: Text | None = None
    header_style: str = "bold"
    marker_hint: str = ""  # said after the marker, e.g. where the dropped columns can be seen

    def fit(self, width: int) -> tuple[list[Column], dict[int, int], dict[str, int]]:
        """The columns kept, each one's width (by ``id``), and how many of each kind were dropped."""
        cols = list(self.columns)
        widths = {id(c): c.natural() for c in cols}
        dropped: dict[str, int] = {}

        def excess() -> int:
            return sum(widths[id(c)] for c in cols) + GAP * max(len(cols) - 1, 0) - width

        levels = {c.shrink_at for c in cols if c.shrink is not None}
        levels |= {c.drop_at for c in cols if c.drop_at is not None}
        for level in sorted(levels):
            while excess() > 0:
                shrinkable = [c for c in cols if c.shrink_at == level and c.shrink is not None
                              and widths[id(c)] > c.shrink]
                if not shrinkable:
                    break
                widest = max(shrinkable, key=lambda c: widths[id(c)])
                widths[id(widest)] = max(widest.shrink or 0, widths[id(widest)] - excess())
            while excess() > 0:
                droppable = [c for c in cols if c.drop_at == level]
                if not droppable:
                    break
                gone = droppable[-1]
                cols.remove(gone)
                if gone.counted:
                    dropped[gone.counted] = dropped.get(gone.counted, 0) + 1
            if excess() <= 0:
                break
        for c in cols:  # what a drop freed goes back to the columns cut before it
            if excess() < 0 and widths[id(c)] < c.natural():
                widths[id(c)] = min(c.natural(), widths[id(c)] - excess())
        return cols, {id(c): widths[id(c)] for c in cols}, dropped

    def table(self, width: int) -> tuple[Table, Text | None]:
        cols, widths, dropped = self.fit(width)
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                      header_style=self.header_style, caption=self.caption)
        for c in cols:
            table.add_column(c.header, justify=c.justify, style=c.style, width=widths[id(c)],  # type: ignore[arg-type]
                             no_wrap=True, overflow="ellipsis")
        for row in range(max((len(c.cells) for c in cols), default=0)):
            table.add_row(*(c.cells[row] if row < len(c.cells) else Text("") for c in cols))
        marker = None
        if dropped:
            said = ", ".join(f"+{n} {what}{'s' if n != 1 else ''}" for what, n in dropped.items())
            marker = Text(said + (f" ({self.marker_hint})" if self.marker_hint else ""), style="dim")
        return table, marker

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table, marker = self.table(options.max_width)
        yield table
        if marker is not None:
            yield marker
