"""Read spec text with YAML 1.1 minus the two surprises that break matrix specs.

PyYAML's safe loader follows YAML 1.1, in which an unquoted ``1:10:2`` is the base-60 integer
4202 and ``1e-4`` (no dot, unsigned exponent) is a string. Users who wrote those meant a range
string and a number, so :class:`SpecLoader` drops the sexagesimal int/float forms and reads
exponent numbers as floats. Everything else is plain PyYAML safe loading; duplicate mapping keys
are an error instead of "last one wins".

A spec is also bounded before anything is built from it: at most :data:`MAX_SPEC_CHARS`
characters (a file is never read further), at most :data:`MAX_DEPTH` levels of nesting (PyYAML
composes recursively), and at most :data:`MAX_NODES` values once every alias is expanded (the
size the spec takes in the log, which stores it as JSON). Ten lines of nested anchors ("billion
laughs") would otherwise expand to gigabytes.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from hpo.errors import SpecError

INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
MAX_SPEC_CHARS = 1_000_000  # the largest real-world spec we know of is under 10 kB
MAX_NODES = 100_000  # values (scalars, lists, mappings) with every alias expanded
MAX_DEPTH = 100  # nested lists and mappings; real specs nest fewer than 10
MERGE_TAG = "tag:yaml.org,2002:merge"

# PyYAML's YAML 1.1 int pattern without the last (sexagesimal) alternative.
_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
# PyYAML's float pattern without sexagesimal floats, with an optional exponent sign, and with
# exponent-only numbers (1e-4, 1E5) that have no dot.
_FLOAT = re.compile(
    r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class SpecLoader(yaml.SafeLoader):
    """SafeLoader with the number resolution above, duplicate-key detection and a depth limit."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise SpecError(f"the spec nests deeper than {MAX_DEPTH} levels at line {line}; "
                                "a group spec needs a few")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:  # `<<: *anchor`: its keys may be overridden here
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable key: let PyYAML report it
                break
            if duplicate:
                line = key_node.start_mark.line + 1
                raise SpecError(f"duplicate key {key!r} (line {line}); keep only one")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (INT_TAG, FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(FLOAT_TAG, _FLOAT, list("-+0123456789."))
SpecLoader.add_implicit_resolver(INT_TAG, _INT, list("-+0123456789"))


def read_spec_text(path: Any) -> str:
    """The text of the spec file at ``path``, read no further than :data:`MAX_SPEC_CHARS` + 1
    characters (``/dev/zero`` or a pipe that never ends is refused, not read into memory)."""
    source = str(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(MAX_SPEC_CHARS + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read the spec file: {exc}", "", source) from None
    if len(text) > MAX_SPEC_CHARS:
        raise SpecError(f"the spec is more than {MAX_SPEC_CHARS:,} characters long; at most "
                        f"{MAX_SPEC_CHARS:,} are accepted (a group spec is a few kilobytes)", "", source)
    return text


def load_yaml(text: str, source: str = "<spec>") -> Any:
    """Parse ``text``; a syntax error becomes a SpecError naming ``source`` and the line.

    Too long a text, or one whose aliases expand past :data:`MAX_NODES` values, is refused
    before any Python object is built from it.
    """
    if len(text) > MAX_SPEC_CHARS:
        raise SpecError(f"the spec is {len(text):,} characters long; at most {MAX_SPEC_CHARS:,} are "
                        "accepted (a group spec is a few kilobytes)", "", source)
    loader = SpecLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node)
        return loader.construct_document(node)
    except SpecError as exc:
        raise exc.with_file(source) from None
    except yaml.YAMLError as exc:
        problem_mark = getattr(exc, "problem_mark", None)
        context_mark = getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None) or ""
        # A stray line ("while scanning a simple key") is reported where it starts; other
        # errors where the parser noticed them.
        stray = context.startswith("while scanning a simple key")
        mark, other = (context_mark, problem_mark) if stray else (problem_mark, context_mark)
        mark = mark or other
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        detail = f"{context}, {problem}" if context else problem
        if mark and other and other.line != mark.line:
            detail += f" ({'noticed' if stray else 'started'} at line {other.line + 1})"
        raise SpecError(f"not valid YAML{where}: {detail}", "", source) from None
    finally:
        loader.dispose()


def _check_expanded_size(root: yaml.Node) -> None:
    """Refuse a document that has more than MAX_NODES values once its aliases are expanded.

    An alias is the same node object as its anchor, so sizes are memoised by node: the count is
    exact and costs one visit per distinct node, whatever the expansion would be.
    """
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # nodes whose children are being counted
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        kids = _children(node)
        if not children_done and kids:
            if id(node) in open_:  # an alias inside its own anchor
                raise SpecError(f"the alias at line {node.start_mark.line + 1} refers to a value "
                                "that contains it; a spec cannot be recursive")
            open_.add(id(node))
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in sizes)
            continue
        open_.discard(id(node))
        size = 1 + sum(sizes.get(id(k), 0) for k in kids)
        sizes[id(node)] = size
        if size > MAX_NODES:
            line = node.start_mark.line + 1
            raise SpecError(f"the spec expands to more than {MAX_NODES:,} values (the anchors and "
                            f"aliases starting at line {line} repeat one another); write the "
                            "values out, or use fewer nested aliases")


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def parse_scalar(text: str) -> Any:
    """Resolve one plain scalar the way :class:`SpecLoader` would (``'0.2'`` -> 0.2)."""
    try:
        return yaml.load(text, Loader=SpecLoader)  # noqa: S506
    except (yaml.YAMLError, SpecError):
        return text
