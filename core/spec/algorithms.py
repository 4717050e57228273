"""Which search algorithm a spec selects, and the names its suggestions add to the matrix.

The spec knows no algorithm by name: the installed searchers say which keys of a settings block
select them (``Searcher.spec_keys``, such as the seed's ``random_search``; else their name) and
which params their suggestions carry besides the matrix's (``Searcher.extra_params``, such as a
resource), which the command template may then use. A name given without a class (a searcher the
caller will register later) selects itself and adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hpo.errors import SpecError


class Catalog:
    """The algorithms a spec may select: algorithm name -> searcher class (None: a bare name)."""

    def __init__(self, searchers: Iterable[Any] = ()):
        self.classes: dict[str, type | None] = {}
        self.add(searchers)

    @classmethod
    def installed(cls, also: Iterable[Any] = ()) -> "Catalog":
        """The searchers the installed plugins register, then ``also`` (names or classes)."""
        from hpo.contracts.registry import default_registry

        catalog = cls(r.cls for r in default_registry().all() if r.kind == "searcher")
        catalog.add(also)
        return catalog

    def add(self, searchers: Iterable[Any]) -> None:
        for item in searchers:
            if isinstance(item, str):
                self.classes.setdefault(item, None)
            else:
                self.classes[item.name] = item

    def keys_of(self, name: str) -> tuple[str, ...]:
        """The settings keys that select ``name``: its ``spec_keys``, else its name."""
        cls = self.classes.get(name)
        return tuple(getattr(cls, "spec_keys", ()) or ()) or (name,)

    def block_keys(self) -> dict[str, str]:
        """Settings block key -> the algorithm it selects."""
        return {key: name for name in self.classes for key in self.keys_of(name)}

    def algorithm(self, key: Any) -> str | None:
        """The algorithm a name or a settings key selects (``search: {algorithm: KEY}``)."""
        if not isinstance(key, str):
            return None
        if key in self.classes:
            return key
        return self.block_keys().get(key)

    def names(self) -> list[str]:
        return sorted(self.classes)

    def extra_params(self, algorithm: str, options: dict[str, Any], path: str) -> tuple[str, ...]:
        """The names the algorithm's suggestions add to the matrix params, given its options
        (validated here, so a bad option is named before the template is checked)."""
        cls = self.classes.get(algorithm)
        if cls is None:
            return ()
        config = cls.parse_config(options, path)
        names = cls.extra_params(config)
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise SpecError(f"the {algorithm} searcher's extra_params() returned {names!r}; "
                            "expected a tuple of param names", path)
        return tuple(names)
