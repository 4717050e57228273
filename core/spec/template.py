"""``{{ name }}`` templates in the run command.

Only bare names are allowed (no expressions, filters or literals). A value is rendered as text
(ints as ints, floats with ``repr``, booleans as ``true``/``false``, None as the empty string,
lists and mappings as JSON) and then shell-quoted so that it reaches the trial as one inert word,
whatever it holds. The quoting follows the shell context the template sits in: inside a
double-quoted (``"--lr={{ lr }}"``) or single-quoted region the quote is closed, the
``shlex.quote``-d value inserted and the quote reopened, so ``$(...)`` or backticks in a value
are never expanded.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

TEMPLATE_RE = re.compile(r"\{\{(.*?)\}\}", re.S)
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def template_expressions(cmd: str) -> list[str]:
    """Every ``{{ ... }}`` body, stripped, in order of appearance (duplicates kept)."""
    return [m.group(1).strip() for m in TEMPLATE_RE.finditer(cmd)]


def template_names(cmd: str) -> list[str]:
    """The distinct template bodies of ``cmd`` in order of first appearance.

    A body that is not a bare name (``reward + 0.01``) is returned as written, so the caller can
    report it; :func:`is_name` tells them apart.
    """
    return list(dict.fromkeys(template_expressions(cmd)))


def is_name(expression: str) -> bool:
    return bool(NAME_RE.match(expression))


def format_value(value: Any) -> str:
    """The text form of a param value, before quoting."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _quote_state(text: str, state: str) -> str:
    """The shell quote state ('', "'" or '"') after reading ``text`` from ``state``."""
    i = 0
    while i < len(text):
        ch = text[i]
        if state == "'":
            if ch == "'":
                state = ""
        elif ch == "\\":
            i += 1  # the next character is escaped (outside single quotes)
        elif state == '"':
            if ch == '"':
                state = ""
        elif ch in "'\"":
            state = ch
        i += 1
    return state


def render(cmd: str, values: dict[str, Any]) -> str:
    """Replace every ``{{ name }}`` with the shell-quoted value of ``values[name]``.

    Raises KeyError for a name that has no value (parse_spec has already checked the names).
    """
    out: list[str] = []
    state = ""
    last = 0
    for match in TEMPLATE_RE.finditer(cmd):
        literal = cmd[last : match.start()]
        out.append(literal)
        state = _quote_state(literal, state)
        name = match.group(1).strip()
        if name not in values:
            raise KeyError(name)
        word = shlex.quote(format_value(values[name]))
        out.append(f"{state}{word}{state}" if state else word)
        last = match.end()
    out.append(cmd[last:])
    return "".join(out)
