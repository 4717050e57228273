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

from hpo.trial.protocol import MAX_LINE, ProtocolError, Report, parse_line

TAIL_BYTES = 4000
MAX_EXAMPLES = 5  # protocol errors kept word for word per attempt; the rest are only counted
READ_CHUNK = 1 << 20  # bytes read at a time
MAX_LINE_BYTES = 4 * MAX_LINE  # a line longer than any report can be is skipped, never held whole


@dataclass
class LogTail:
    """Reads a growing output file in bounded chunks: memory stays within :data:`READ_CHUNK` plus
    :data:`MAX_LINE_BYTES`, however long a line or however large the file a trial writes. A line
    longer than :data:`MAX_LINE_BYTES` is skipped (a protocol error if it is a report).

    Report lines that do not parse are counted (``error_count``); the first
    :data:`MAX_EXAMPLES` are kept as ``protocol_errors``, so a trial printing millions of bad
    lines costs a counter, not a list."""

    path: Path
    offset: int = 0  # bytes consumed (only whole lines are consumed, and skipped overlong ones)
    protocol_errors: list[str] = field(default_factory=list)  # the first MAX_EXAMPLES
    error_count: int = 0
    _discarding: bool = field(default=False, repr=False)  # inside an overlong line, up to its newline

    def read_reports(self) -> list[tuple[Report, int]]:
        """New reports since the last call, each with the offset just after its line."""
        out: list[tuple[Report, int]] = []
        try:
            fh = open(self.path, "rb")
        except OSError:
            return out
        with fh:
            fh.seek(self.offset)
            pending = b""  # the start of a line whose newline has not come yet
            while chunk := fh.read(READ_CHUNK):
                if self._discarding:
                    newline = chunk.find(b"\n")
                    if newline < 0:
                        self.offset += len(chunk)
                        continue
                    self.offset += newline + 1
                    chunk, self._discarding = chunk[newline + 1:], False
                pending += chunk
                end = pending.rfind(b"\n")
                if end >= 0:
                    self._parse(pending[: end + 1], out)
                    pending = pending[end + 1:]
                if len(pending) > MAX_LINE_BYTES:
                    self._skip_overlong(pending)
                    pending = b""
        return out

    def flush_reports(self) -> list[tuple[Report, int]]:
        """At exit: also parse a last line without a trailing newline."""
        out = self.read_reports()
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                rest = fh.read(MAX_LINE_BYTES + 1)
                size = fh.seek(0, os.SEEK_END)
        except OSError:
            return out
        if self._discarding or len(rest) > MAX_LINE_BYTES:
            if not self._discarding:
                self._skip_overlong(rest)
            self.offset, self._discarding = size, False
        elif rest.strip():
            self._parse(rest, out)
        return out

    def _parse(self, block: bytes, out: list[tuple[Report, int]]) -> None:
        """Parse whole lines, advancing the offset past each."""
        for raw in block.splitlines(keepends=True):
            self.offset += len(raw)
            if b"@hpo" not in raw:
                continue
            line = raw.decode("utf-8", errors="replace")
            try:
                report = parse_line(line)
            except ProtocolError as exc:
                self._error(f"{exc}: {line.strip()[:200]}")
                continue
            if report is not None:
                out.append((report, self.offset))

    def _error(self, text: str) -> None:
        self.error_count += 1
        if len(self.protocol_errors) < MAX_EXAMPLES:
            self.protocol_errors.append(text)

    def _skip_overlong(self, start: bytes) -> None:
        if start.lstrip().startswith(b"@hpo"):
            self._error(f"a report line longer than {MAX_LINE_BYTES:,} bytes was skipped: "
                        + start[:80].decode("utf-8", errors="replace") + "...")
        self.offset += len(start)
        self._discarding = True


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
