"""Syntax tree → Python source → one render function, built once per template.

Safety: the generated source is assembled only from our own identifiers and ``repr()`` of literal values
(text, keys, condition constants); no template text is ever placed in the code any other way.

Speed: every lookup is an inline ``try: v = s0['a']['b']`` (free when the key exists), output goes through
a bound ``list.append``, and loops bind the item to a local, so a render makes few function calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

from clarion.templating import runtime
from clarion.templating.errors import TemplateSyntaxError
from clarion.templating.nodes import (
    ROOT_SCOPE,
    Body,
    BoolOp,
    Const,
    Each,
    Expr,
    If,
    Node,
    Not,
    Output,
    Reference,
    Text,
    Var,
    With,
)
from clarion.templating.parser import parse

RenderFunction = Callable[[Mapping[str, Any]], str]
Escape = Literal["html", "json"]
"""What ``autoescape`` escapes for: HTML text, or the inside of a JSON string (custom action bodies)."""
_ESCAPE_FUNCTIONS: dict[Escape, str] = {"html": "_e", "json": "_j"}

_COMPARE_NAMES = {"=": "_eq", "!=": "_ne", "<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge"}
_NAMESPACE: dict[str, Any] = {
    "_e": runtime.escape,
    "_j": runtime.json_escape,
    "_t": runtime.to_text,
    "_get": runtime.lookup,
    "_first": runtime.lookup_first,
    "_vals": runtime.loop_values,
    "_pairs": runtime.loop_pairs,
    "_MISS": runtime.MISSING_ERRORS,
    **{name: runtime.COMPARISONS[op] for op, name in _COMPARE_NAMES.items()},
}


class Template:
    """A compiled template: render it as often as needed, from any thread; it keeps no per-render state.

    ``references``: every path the template reads with its first position (see the package docstring);
    ``python_source``: the generated render function, for debugging.
    """

    __slots__ = ("_render", "autoescape", "python_source", "references")

    def __init__(
        self,
        render: RenderFunction,
        references: tuple[Reference, ...],
        *,
        autoescape: bool,
        python_source: str,
    ) -> None:
        self._render = render
        self.references = references
        self.autoescape = autoescape
        self.python_source = python_source

    def render(self, variables: Mapping[str, Any]) -> str:
        """Render with ``variables`` as the root (e.g. ``{"context": ..., "profile": ...}``)."""
        return self._render(variables)


def compile_template(source: str, *, autoescape: bool, escape: Escape = "html") -> Template:
    """Parse and compile ``source``; raise TemplateSyntaxError if it does not parse.

    With ``autoescape``, ``{{…}}`` output is escaped for ``escape`` (``{{{…}}}`` never is).
    """
    parsed = parse(source)
    python_source = _Generator(autoescape=autoescape, escape=escape).function(parsed.body)
    try:
        code = compile(python_source, "<clarion-template>", "exec")
    except (SyntaxError, RecursionError, MemoryError) as exc:  # limits of Python's own compiler
        raise TemplateSyntaxError("template too complex to compile", 1, 1) from exc
    namespace = dict(_NAMESPACE)
    exec(code, namespace)  # noqa: S102 - code generated from our syntax tree only, see module docstring
    render: RenderFunction = namespace["render"]
    return Template(render, parsed.references, autoescape=autoescape, python_source=python_source)


def profile_references(template: Template) -> list[Reference]:
    """References that read profile data (``profile``, ``profile.*``, or the whole root)."""
    return [
        ref
        for ref in template.references
        if ref.path == "profile" or ref.path.startswith("profile.") or ref.path == "@root"
    ]


def _literal(value: object) -> str:
    """Python source for a literal value; refuses anything but plain scalars."""
    if value is None or isinstance(value, bool | str | int):
        return repr(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    raise TypeError(f"not a template literal: {type(value).__name__}")


def _keys(keys: tuple[str, ...]) -> str:
    return "(" + "".join(f"{_literal(k)}, " for k in keys) + ")"


class _Generator:
    """Emits the body of ``def render(_s0)`` line by line."""

    def __init__(self, *, autoescape: bool, escape: Escape) -> None:
        self.text_fn = _ESCAPE_FUNCTIONS[escape] if autoescape else "_t"
        self.lines: list[str] = []
        self.depth = 1
        self.temps = 0

    def function(self, body: Body) -> str:
        self.lines.append("def render(_s0):")
        self.emit("_o = []")
        self.emit("_a = _o.append")
        self.body(body)
        self.emit("return ''.join(_o)")
        return "\n".join(self.lines) + "\n"

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    @contextmanager
    def indented(self) -> Iterator[None]:
        self.depth += 1
        yield
        self.depth -= 1

    def temp(self) -> str:
        self.temps += 1
        return f"_v{self.temps}"

    # ------------------------------------------------------------------ nodes

    def body(self, nodes: Body) -> None:
        if not nodes:
            self.emit("pass")
        for node in nodes:
            self.node(node)

    def node(self, node: Node) -> None:
        if isinstance(node, Text):
            self.emit(f"_a({_literal(node.value)})")
        elif isinstance(node, Output):
            fn = "_t" if node.raw else self.text_fn
            self.emit(f"_a({fn}({self.value(node.var)}))")
        elif isinstance(node, If):
            self.if_chain(node)
        elif isinstance(node, Each):
            self.each(node)
        else:
            self.with_block(node)

    def if_chain(self, node: If) -> None:
        # Conditions are side-effect free, so all are evaluated up front; that lets lookups be
        # statements (fast try blocks) and the chain a flat if/elif.
        conditions = [self.expr(branch.condition) for branch in node.branches]
        for index, (branch, condition) in enumerate(zip(node.branches, conditions, strict=True)):
            self.emit(f"{'el' if index else ''}if {condition}:")
            with self.indented():
                self.body(branch.body)
        if node.otherwise:
            self.emit("else:")
            with self.indented():
                self.body(node.otherwise)

    def each(self, node: Each) -> None:
        n, used = node.scope, node.data_used
        items = f"_p{n}"
        keyed = "key" in used
        self.emit(f"{items} = {'_pairs' if keyed else '_vals'}({self.value(node.var)})")
        self.emit(f"if {items}:")
        with self.indented():
            if "last" in used:
                self.emit(f"_n{n} = len({items}) - 1")
            target = f"(_k{n}, _s{n})" if keyed else f"_s{n}"
            if used & {"index", "first", "last"}:
                self.emit(f"for _i{n}, {target} in enumerate({items}):")
            else:
                self.emit(f"for {target} in {items}:")
            with self.indented():
                self.body(node.body)
        self.otherwise(node.otherwise)

    def with_block(self, node: With) -> None:
        self.emit(f"_s{node.scope} = {self.value(node.var)}")
        self.emit(f"if _s{node.scope}:")
        with self.indented():
            self.body(node.body)
        self.otherwise(node.otherwise)

    def otherwise(self, body: Body) -> None:
        if body:
            self.emit("else:")
            with self.indented():
                self.body(body)

    # ------------------------------------------------------------------ values

    def value(self, var: Var) -> str:
        """A Python expression for the variable; may first emit statements that compute it."""
        scope = var.scopes[0]
        if var.data is not None:
            return {
                "index": f"_i{scope}",
                "key": f"_k{scope}",
                "first": f"(_i{scope} == 0)",
                "last": f"(_i{scope} == _n{scope})",
            }[var.data]
        if len(var.scopes) > 1:
            return f"_first({_keys(var.keys)}, ({''.join(f'_s{s}, ' for s in var.scopes)}))"
        if not var.keys:
            return f"_s{scope}"
        if any(key.isascii() and key.isdigit() for key in var.keys):
            return f"_get(_s{scope}, {_keys(var.keys)})"
        temp = self.temp()
        subscripts = "".join(f"[{_literal(key)}]" for key in var.keys)
        self.emit("try:")
        self.emit(f"    {temp} = _s{scope}{subscripts}")
        self.emit("except _MISS:")
        self.emit(f"    {temp} = None")
        return temp

    def expr(self, expr: Expr) -> str:
        """A Python expression for a condition; truthiness is Python's, which matches Handlebars'."""
        if isinstance(expr, Var):
            return self.value(expr)
        if isinstance(expr, Const):
            return _literal(expr.value)
        if isinstance(expr, Not):
            return f"(not {self.expr(expr.operand)})"
        if isinstance(expr, BoolOp):
            operands = [self.expr(operand) for operand in _flatten(expr)]
            return "(" + f" {expr.op} ".join(operands) + ")"
        return f"{_COMPARE_NAMES[expr.op]}({self.expr(expr.left)}, {self.expr(expr.right)})"


def _flatten(expr: BoolOp) -> list[Expr]:
    """``a and b and c`` as one flat list, so long chains do not nest parentheses."""
    operands: list[Expr] = []
    stack: list[Expr] = [expr]
    while stack:
        item = stack.pop()
        if isinstance(item, BoolOp) and item.op == expr.op:
            stack.extend((item.right, item.left))
        else:
            operands.append(item)
    return operands


assert ROOT_SCOPE == 0  # the generated function names its argument _s0
