"""Where each ``{{ ... }}`` template of a run command sits, as the shell will read it.

:func:`hpo.spec.template.render` shell-quotes every value; how depends on the context: a plain
word (also inside ``$(...)``, even within double quotes, where the shell parses afresh), or
inside a single- or double-quoted region (the quote is closed around the value). In some places
no quoting makes a value inert, and a template there is refused when the spec is checked:
inside backticks (the shell strips backslashes before it parses them), inside ``${...}``, in a
here-document's body (quotes are literal there, ``$(...)`` still runs) and in a ``#`` comment (a
newline in the value ends the comment).
"""

from __future__ import annotations

import re

TEMPLATE_RE = re.compile(r"\{\{(.*?)\}\}", re.S)
HEREDOC_RE = re.compile(r"<<(-?)[ \t]*(\\?)(['\"]?)([^\s'\"<>|;&()]+)\3")
UNSAFE = {
    "`": "inside backticks (write $(...) instead)",
    "${": "inside ${...}",
    "<<": "in a here-document (pass it as an argument or an environment variable instead)",
    "#": "in a shell comment",
}
WORD_CONTEXTS = ("", "$(", "(")  # a template here is a plain shell word


def contexts(cmd: str) -> list[str]:
    """The context of each template of ``cmd`` in order: ``''`` (a word), ``"'"`` or ``'"'``
    (inside that quote), or a key of :data:`UNSAFE`."""
    found: list[str] = []
    stack = [""]
    heredocs: list[str] = []  # delimiters whose bodies start at the next newline
    i = 0
    while i < len(cmd):
        top = stack[-1]
        match = TEMPLATE_RE.match(cmd, i)
        if match:
            unsafe = [c for c in stack if c in UNSAFE]
            found.append(unsafe[-1] if unsafe else ("" if top in WORD_CONTEXTS else top))
            i = match.end()
            continue
        ch, two = cmd[i], cmd[i : i + 2]
        if top == "'":
            if ch == "'":
                stack.pop()
        elif top == "#":
            if ch == "\n":
                stack.pop()
                continue
        elif ch == "\\":
            i += 1
        elif two in ("$(", "${"):
            stack.append(two)
            i += 1
        elif ch == "`":
            stack.pop() if top == "`" else stack.append("`")
        elif top == '"':
            if ch == '"':
                stack.pop()
        elif ch in "'\"":
            stack.append(ch)
        elif ch == "(":
            stack.append("(")
        elif ch == ")" and top in ("$(", "("):
            stack.pop()
        elif ch == "}" and top == "${":
            stack.pop()
        elif ch == "#" and (i == 0 or cmd[i - 1] in " \t\n;&|("):
            stack.append("#")
        elif two == "<<" and cmd[i : i + 3] != "<<<" and top in ("", "$("):
            heredoc = HEREDOC_RE.match(cmd, i)
            if heredoc:
                heredocs.append(heredoc.group(4))
                i = heredoc.end()
                continue
        elif ch == "\n" and heredocs:
            i = _skip_bodies(cmd, i + 1, heredocs, found)
            heredocs = []
            continue
        i += 1
    return found


def _skip_bodies(cmd: str, i: int, delimiters: list[str], found: list[str]) -> int:
    """Skip the here-document bodies starting at ``i``; their templates are found unsafe."""
    for delimiter in delimiters:
        while i < len(cmd):
            end = cmd.find("\n", i)
            end = len(cmd) if end < 0 else end
            line = cmd[i:end]
            i = end + 1
            if line.lstrip("\t") == delimiter:
                break
            found.extend("<<" for _ in TEMPLATE_RE.finditer(line))
    return i
