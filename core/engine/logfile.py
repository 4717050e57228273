"""The engine's watch on its database file: deleted, moved or replaced while the group runs.

SQLite keeps writing to a file that was unlinked under it, so without this check an engine
whose ``.hpo/hpo.db`` was removed would run the group to the end, report success and exit 0 with
the log gone. The engine holds its own descriptor on the file it opened: a path that no longer
names that file means it was moved or replaced; a file with no link left means it was deleted.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

from hpo.errors import LogFileGone


class LogFileWatch:
    """One ``stat`` per check: cheap enough for every tick."""

    def __init__(self, path: Path):
        self.path = Path(path).resolve()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:  # not a plain file (e.g. an in-memory store): nothing to watch
            self._fd, self._id = None, None
            return
        st = os.fstat(fd)
        self._fd, self._id = fd, (st.st_dev, st.st_ino)
        weakref.finalize(self, os.close, fd)

    def check(self) -> None:
        """Raise :class:`LogFileGone` if the path no longer names the file the engine writes."""
        if self._fd is None:
            return
        try:
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) == self._id:
                return
            here = True
        except FileNotFoundError:
            here = False
        if here:
            raise LogFileGone(f"the event log {self.path} was replaced by another file while the "
                              "group ran; the engine stops without writing to either", deleted=False)
        if os.fstat(self._fd).st_nlink == 0:
            raise LogFileGone(f"the event log {self.path} was deleted while the group ran: nothing "
                              "more can be recorded, so its running trials are stopped", deleted=True)
        raise LogFileGone(f"the event log {self.path} was moved while the group ran; its trials go "
                          "on, and `hpo resume GROUP --db NEW_PATH` continues the group from "
                          "where the file is now", deleted=False)
