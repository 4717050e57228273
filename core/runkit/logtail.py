"""Follow a trial's stdout file and turn protocol lines into reports.

Trials write their stdout to a file (never to a pipe held by the engine), so a trial survives the
engine and a resumed engine can pick up exactly where the log says it stopped reading: each
report carries the byte offset just after its line.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from hpo.trial.protocol import ProtocolError, Report, parse_line

TAIL_BYTES = 4000


@dataclass
class LogTail:
    path: Path
    offset: int = 0  # bytes consumed (only whole lines are consumed)
    protocol_errors: list[str] = field(default_factory=list)

    def read_reports(self) -> list[tuple[Report, int]]:
        """New reports since the last call, each with the offset just after its line."""
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return []
        if size <= self.offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read(size - self.offset)
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        out: list[tuple[Report, int]] = []
        pos = self.offset
        for raw in chunk[: end + 1].splitlines(keepends=True):
            pos += len(raw)
            if b"@hpo" not in raw:
                continue
            line = raw.decode("utf-8", errors="replace")
            try:
                report = parse_line(line)
            except ProtocolError as exc:
                self.protocol_errors.append(f"{exc}: {line.strip()[:200]}")
                continue
            if report is not None:
                out.append((report, pos))
        self.offset += end + 1
        return out

    def flush_reports(self) -> list[tuple[Report, int]]:
        """At exit: also parse a last line without a trailing newline."""
        out = self.read_reports()
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                rest = fh.read()
        except OSError:
            return out
        if rest.strip():
            line = rest.decode("utf-8", errors="replace")
            try:
                report = parse_line(line)
            except ProtocolError as exc:
                self.protocol_errors.append(f"{exc}: {line.strip()[:200]}")
                report = None
            self.offset += len(rest)
            if report is not None:
                out.append((report, self.offset))
        return out


def output_tail(*paths: Path, limit: int = TAIL_BYTES) -> str:
    """The last ``limit`` bytes of each file, labelled, for the TrialFinished record."""
    parts = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - limit))
                text = fh.read().decode("utf-8", errors="replace")
        except OSError:
            continue
        if text.strip():
            lines = deque(text.splitlines(), maxlen=40)
            parts.append(f"--- {path.name} ---\n" + "\n".join(lines))
    return "\n".join(parts)
