"""``{{ name }}`` templates in the run command.

A template is a bare name or, as Polyaxon rendered commands with Jinja, an expression
(``{{ reward + 0.01 }}``, ``{{ 128 }}``, ``{{ lr | round(3) }}``) evaluated by jinja2's
sandboxed environment: only the params, declarations and builtins are in scope, attribute access
that leaves the sandbox (``{{ lr.__class__ }}``) is an error naming the template, and a result
longer than :data:`MAX_RENDERED` characters is refused. A value is rendered as text
(ints as ints, floats with ``repr``, booleans as ``true``/``false``, None as the empty string,
lists and mappings as JSON) and then shell-quoted so that it reaches the trial as one inert word,
whatever it holds. The quoting follows the shell context the template sits in: inside a
double-quoted (``"--lr={{ lr }}"``) or single-quoted region the quote is closed, the
``shlex.quote``-d value inserted and the quote reopened, so ``$(...)`` or backticks in a value
are never expanded. Inside ``$(...)`` the value is a plain word again; where no quoting helps
(backticks, ``${...}``, a here-document, a comment) the template is refused
(:mod:`hpo.spec.shellctx`).
"""

from __future__ import annotations

import json
import operator
import re
import shlex
from functools import lru_cache
from typing import Any, Callable

from hpo.spec.shellctx import TEMPLATE_RE, UNSAFE, contexts

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_RENDERED = 4096  # characters one template may render to


class TemplateError(ValueError):
    """A template expression is invalid, leaves the sandbox, fails or renders too much."""


@lru_cache(maxsize=1)
def _env() -> Any:
    """jinja2's sandbox (imported on first use: specs of bare names never load jinja2), with
    ``*`` and ``**`` bounded so that ``{{ 'a' * 10**9 }}`` is refused before it is built."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment, SecurityError

    class Sandbox(SandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
            if op == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_RENDERED:
                        raise SecurityError(f"the result would be longer than {MAX_RENDERED} characters")
                return operator.mul(left, right)
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 256:
                raise SecurityError("the power is too large")
            return operator.pow(left, right)

    return Sandbox(undefined=StrictUndefined, autoescape=False)


def expression_names(expression: str) -> set[str]:
    """The names an expression reads; raises :class:`TemplateError` when it does not parse."""
    from jinja2 import TemplateSyntaxError, meta

    try:
        return set(meta.find_undeclared_variables(_env().parse("{{ " + expression + " }}")))
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template {{{{ {expression} }}}} is not a valid expression: {exc.message}") from None


@lru_cache(maxsize=256)
def _compiled(expression: str) -> Callable[..., Any]:
    expression_names(expression)  # a clear error for bad syntax
    return _env().compile_expression(expression, undefined_to_none=False)


def check_expression(expression: str, allowed: list[str], sample: dict[str, Any]) -> None:
    """Raise :class:`TemplateError` unless ``expression`` parses, reads only ``allowed`` names
    and stays in the sandbox when evaluated with ``sample`` values (what ``hpo validate`` can
    know before any trial runs; a failure that depends on the values shows at launch)."""
    unknown = sorted(expression_names(expression) - set(allowed))
    if unknown:
        raise TemplateError(
            f"template {{{{ {expression} }}}} reads {', '.join(unknown)}, which is no matrix param, "
            f"declaration, hyperband resource or builtin; allowed: {', '.join(allowed)}")
    try:
        evaluate(expression, sample)
    except TemplateError as exc:
        if "is not allowed" in str(exc):
            raise


def sample_values(matrix: dict[str, Any], declarations: dict[str, Any], names: Any) -> dict[str, Any]:
    """A value for every template name (a param's first value or a sample, a declaration's
    value, 1 for the rest), to try expressions in the sandbox before any trial runs."""
    import numpy as np

    sample: dict[str, Any] = {n: 1 for n in names}
    rng = np.random.default_rng(0)
    sample.update({n: p.values()[0] if p.discrete else p.sample(rng) for n, p in matrix.items()})
    sample.update(declarations)
    return sample


def evaluate(expression: str, values: dict[str, Any]) -> Any:
    """The value of a template: a bare name's value (KeyError when missing), or the expression
    evaluated in the sandbox with ``values`` in scope."""
    if is_name(expression):
        return values[expression]
    from jinja2 import Undefined
    from jinja2.sandbox import SecurityError

    try:
        result = _compiled(expression)(**values)
        if isinstance(result, Undefined):  # e.g. an unsafe attribute: raises when it is used
            str(result)
        return result
    except SecurityError as exc:
        raise TemplateError(f"template {{{{ {expression} }}}} is not allowed: {exc}") from None
    except TemplateError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of a user's expression is named
        raise TemplateError(f"template {{{{ {expression} }}}} failed: {type(exc).__name__}: {exc}") from None


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


def render(cmd: str, values: dict[str, Any]) -> str:
    """Replace every ``{{ name }}`` (or expression) with its shell-quoted value.

    Raises KeyError for a name that has no value (parse_spec has already checked the names) and
    :class:`TemplateError` for an expression that fails or renders more than MAX_RENDERED.
    """
    out: list[str] = []
    last = 0
    for match, state in zip(TEMPLATE_RE.finditer(cmd), check_contexts(cmd)):
        out.append(cmd[last : match.start()])
        text = format_value(evaluate(match.group(1).strip(), values))
        if len(text) > MAX_RENDERED:
            raise TemplateError(f"template {{{{ {match.group(1).strip()} }}}} renders {len(text)} "
                                f"characters, more than {MAX_RENDERED}")
        word = shlex.quote(text)
        out.append(f"{state}{word}{state}" if state else word)
        last = match.end()
    out.append(cmd[last:])
    return "".join(out)


def check_contexts(cmd: str) -> list[str]:
    """The shell context of each template (see :mod:`hpo.spec.shellctx`); raises
    :class:`TemplateError` for one that no quoting can make inert."""
    found = contexts(cmd)
    for match, state in zip(TEMPLATE_RE.finditer(cmd), found):
        if state in UNSAFE:
            raise TemplateError(
                f"template {{{{ {match.group(1).strip()} }}}} is {UNSAFE[state]}, where no quoting "
                "keeps a value from being run as shell code")
    return found
