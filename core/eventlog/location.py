"""Where the event log is when nobody says: ``$HPO_DB``, else the nearest ``.hpo/hpo.db`` in
this folder or a parent (as git finds ``.git``), else ``./.hpo/hpo.db`` (created on first write).

So ``hpo status`` run from a project's subfolder finds the project's log instead of answering
"no group" about an empty one. The path is absolute, so every message naming it says exactly
which file was looked at.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB = Path(".hpo") / "hpo.db"
ENV = "HPO_DB"


def find_db(start: Path | None = None) -> Path:
    """The log to use (see the module's docstring), as an absolute path."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser().absolute()
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        candidate = folder / DEFAULT_DB
        if candidate.is_file():
            return candidate
    return here / DEFAULT_DB
