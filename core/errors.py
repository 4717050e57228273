"""The project's exception types. Messages say what to fix: the file, the field, the value."""

from __future__ import annotations


class HpoError(Exception):
    """Base class of every error hpo raises on purpose."""

    exit_code = 1


class SpecError(HpoError):
    """A group spec is invalid.

    ``path`` is the dotted YAML path of the offending field (``settings.matrix.lr.logspace``),
    ``file`` the spec file when there is one.
    """

    exit_code = 2

    def __init__(self, message: str, path: str = "", file: str | None = None):
        self.message = message
        self.path = path
        self.file = file
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<spec>"
        if self.path:
            where = f"{where}: {self.path}"
        return f"{where}: {self.message}"

    def with_file(self, file: str) -> "SpecError":
        return SpecError(self.message, self.path, file)


class StoreError(HpoError):
    """The event store failed (wraps every sqlite3 error)."""


class ConcurrencyError(StoreError):
    """An append expected a group version that is no longer the latest: re-read and retry."""


class GroupNotFound(HpoError):
    """No group has that id or name."""


class LeaseHeld(HpoError):
    """Another live engine holds the group's lease."""


class PluginError(HpoError):
    """A plugin is missing, misconfigured, raised, or returned something invalid."""

    def __init__(self, message: str, plugin: str = "", distribution: str = ""):
        self.plugin = plugin
        self.distribution = distribution
        prefix = ""
        if plugin:
            prefix = f"plugin {plugin!r}"
            if distribution:
                prefix += f" (from {distribution})"
            prefix += ": "
        super().__init__(prefix + message)


class LogFileGone(StoreError):
    """The database file an engine writes to was deleted, moved or replaced while it ran."""

    exit_code = 4

    def __init__(self, message: str, deleted: bool):
        self.deleted = deleted
        super().__init__(message)


class LogTampered(HpoError):
    """The group's history was changed behind hpo's back: an event was edited, deleted, inserted
    or reordered, or another process appended what only the engine writes. ``found`` is the
    :class:`~hpo.eventlog.chain.Break` that says where."""

    exit_code = 5

    def __init__(self, message: str, found: object = None):
        super().__init__(message)
        self.found = found
