"""Tokens → syntax tree, with every variable resolved to its scope and its references recorded."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, cast

from clarion.templating.errors import TemplateSyntaxError
from clarion.templating.expressions import parse_condition
from clarion.templating.lexer import Kind, Locator, Token, shown, tokenize
from clarion.templating.nodes import (
    ROOT_SCOPE,
    Body,
    Branch,
    DataName,
    Each,
    Expr,
    If,
    Node,
    Not,
    Output,
    Position,
    Reference,
    Text,
    Var,
    With,
)
from clarion.templating.paths import NAME, PathSpec, parse_path

MAX_NESTING = 24
MAX_LOOP_NESTING = 16
"""Bounds that keep the generated Python inside the interpreter's static nesting limits."""

_ARG = re.compile(r"(?:\[[^\]]*\]|[^\s\[|])+")
_BLOCK_PARAMS = re.compile(r"as\s*\|([^|]*)\|\s*$")
_AJO_TAG = re.compile(r"\s*(?:(?P<open>#if)|(?P<elseif>else\s+if)|(?P<else>else)|(?P<close>/if))(?=\s|$)")
_DATA_NAMES: dict[str, DataName] = {"index": "index", "key": "key", "first": "first", "last": "last"}

BlockKind = Literal["if", "unless", "each", "with", "ajo"]


@dataclass(slots=True)
class _Scope:
    """A value that ``this`` points at: the root, a loop item or a ``with`` value."""

    id: int
    is_loop: bool
    refs: tuple[str, ...]
    params: dict[str, tuple[Literal["value", "key"], int]] = field(default_factory=dict)
    data_used: set[DataName] = field(default_factory=set)


@dataclass(slots=True)
class _Frame:
    """An open block: its parts are (condition, body) pairs; a None condition is the else part."""

    kind: BlockKind
    tag: str
    position: Position
    parts: list[tuple[Expr | None, list[Node]]]
    var: Var | None = None
    scope: _Scope | None = None
    has_else: bool = False

    def describe(self) -> str:
        return f"{shown(self.tag)} from line {self.position.line}, column {self.position.column}"

    def closer(self) -> str:
        return "{%/if%}" if self.kind == "ajo" else f"{{{{/{self.kind}}}}}"


@dataclass(frozen=True, slots=True)
class Parsed:
    """The parser's result."""

    body: Body
    references: tuple[Reference, ...]


def parse(source: str) -> Parsed:
    """Parse a template; raise TemplateSyntaxError on the first problem."""
    return _Parser(source).run()


class _Parser:
    """Single pass over the tokens with a stack of open blocks and a stack of scopes."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.locator = Locator(source)
        self.root: list[Node] = []
        self.frames: list[_Frame] = []
        self.scopes: list[_Scope] = [_Scope(ROOT_SCOPE, False, ("",))]
        self.next_scope = ROOT_SCOPE + 1
        self.references: dict[str, Reference] = {}

    def run(self) -> Parsed:
        for token in tokenize(self.source, self.locator):
            self.feed(token)
        if self.frames:
            frame = self.frames[-1]
            raise self.error(f"unclosed {shown(frame.tag)} opened", frame.position)
        return Parsed(tuple(self.root), tuple(self.references.values()))

    def feed(self, token: Token) -> None:
        kind = token.kind
        if kind is Kind.TEXT:
            self.append(Text(token.body))
        elif kind is Kind.OUTPUT or kind is Kind.RAW:
            self.append(Output(self.single_path(token), raw=kind is Kind.RAW))
        elif kind is Kind.OPEN:
            self.open_block(token)
        elif kind is Kind.ELSE:
            self.else_branch(token, token.body, token.body_start, ajo=False)
        elif kind is Kind.CLOSE:
            self.close_block(token, token.body.strip(), ajo=False)
        elif kind is Kind.AJO:
            self.ajo_tag(token)

    # ------------------------------------------------------------------ helpers

    def error(self, message: str, position: Position) -> TemplateSyntaxError:
        return TemplateSyntaxError(message, position.line, position.column)

    def current(self) -> list[Node]:
        return self.frames[-1].parts[-1][1] if self.frames else self.root

    def append(self, node: Node) -> None:
        body = self.current()
        if isinstance(node, Text) and body and isinstance(body[-1], Text):
            body[-1] = Text(body[-1].value + node.value)
        else:
            body.append(node)

    def args(self, token: Token) -> tuple[list[tuple[str, int]], list[tuple[str, int]] | None]:
        """Split a tag body into (text, offset) arguments and optional ``as |a b|`` block params."""
        body, start = token.body, token.body_start
        params = None
        if (match := _BLOCK_PARAMS.search(body)) is not None and (
            match.start() == 0 or body[match.start() - 1].isspace()
        ):
            params = [(m.group(), start + match.start(1) + m.start()) for m in _ARG.finditer(match[1])]
            body = body[: match.start()]
        args, pos = [], 0
        while pos < len(body):
            if body[pos].isspace():
                pos += 1
                continue
            arg = _ARG.match(body, pos)
            if arg is None:
                raise self.locator.error(f"unexpected {body[pos]!r} in {shown(token.tag)}", start + pos)
            args.append((arg.group(), start + pos))
            pos = arg.end()
        return args, params

    def single_path(self, token: Token) -> Var:
        args, params = self.args(token)
        if not args:
            raise self.locator.error(f"empty expression {shown(token.tag)}", token.start)
        if len(args) > 1 or params is not None:
            raise self.locator.error(f"unknown helper {args[0][0]!r} in {shown(token.tag)}", args[0][1])
        return self.var(*args[0])

    # ------------------------------------------------------------------ variables

    def var(self, text: str, offset: int) -> Var:
        """Parse and resolve one path, and record what it reads."""
        spec = parse_path(text, offset, self.locator)
        var = self.resolve(spec, text, offset)
        for ref in var.refs:
            if ref not in self.references:
                self.references[ref] = Reference(ref, var.position.line, var.position.column)
        return var

    def resolve(self, spec: PathSpec, text: str, offset: int) -> Var:
        position = self.locator.position(offset)
        if spec.data is not None:
            return self.resolve_data(spec, text, position)
        if spec.up or spec.this:
            if spec.up >= len(self.scopes):
                raise self.error(f"{text!r} goes above the root", position)
            scope = self.scopes[-1 - spec.up]
            return Var(text, position, (scope.id,), spec.segments, refs=_join(scope.refs, spec.segments))
        head, rest = spec.segments[0], spec.segments[1:]
        for scope in reversed(self.scopes):
            if head in scope.params:
                return self.resolve_param(scope.params[head], rest, text, position)
        scopes = tuple(reversed(self.scopes)) if len(self.scopes) > 1 else self.scopes[:1]
        refs = tuple(ref for scope in scopes for ref in _join(scope.refs, spec.segments))
        return Var(text, position, tuple(s.id for s in scopes), spec.segments, refs=refs)

    def resolve_param(
        self, binding: tuple[Literal["value", "key"], int], rest: tuple[str, ...], text: str, pos: Position
    ) -> Var:
        role, scope_id = binding
        scope = next(s for s in self.scopes if s.id == scope_id)
        if role == "value":
            return Var(text, pos, (scope_id,), rest, refs=_join(scope.refs, rest))
        if rest:
            raise self.error(f"invalid path {text!r}: a loop key has no fields", pos)
        scope.data_used.add("key")
        return Var(text, pos, (scope_id,), data="key")

    def resolve_data(self, spec: PathSpec, text: str, position: Position) -> Var:
        if spec.data == "root":
            return Var(text, position, (ROOT_SCOPE,), spec.segments, refs=_join(("",), spec.segments))
        name = _DATA_NAMES.get(spec.data or "")
        if name is None:
            raise self.error(f"unknown data variable {text!r}", position)
        if spec.segments:
            raise self.error(f"invalid path {text!r}", position)
        loop = next((s for s in reversed(self.scopes) if s.is_loop), None)
        if loop is None:
            raise self.error(f"{text} used outside {{{{#each}}}}", position)
        loop.data_used.add(name)
        return Var(text, position, (loop.id,), data=name)

    # ------------------------------------------------------------------ blocks

    def open_block(self, token: Token) -> None:
        position = self.locator.position(token.start)
        args, params = self.args(token)
        name = args[0][0] if args else ""
        if name not in ("if", "unless", "each", "with"):
            raise self.error(f"unknown block helper {shown(token.tag)}", position)
        if len(args) != 2:
            where = args[2][1] if len(args) > 2 else token.start
            raise self.locator.error(f"{shown(token.tag)} needs exactly one path", where)
        self.check_depth(name == "each", position)
        var = self.var(*args[1])
        if name in ("if", "unless"):
            if params is not None:
                raise self.error(f"{{{{#{name}}}}} takes no block parameters", position)
            condition: Expr = var if name == "if" else Not(var)
            self.frames.append(_Frame(cast(BlockKind, name), token.tag, position, [(condition, [])]))
            return
        scope = self.open_scope(var, name == "each", params, token)
        self.frames.append(_Frame(cast(BlockKind, name), token.tag, position, [(None, [])], var, scope))

    def check_depth(self, is_loop: bool, position: Position) -> None:
        loops = sum(frame.kind == "each" for frame in self.frames) + is_loop
        if len(self.frames) >= MAX_NESTING or loops > MAX_LOOP_NESTING:
            raise self.error(
                f"blocks nested too deeply (at most {MAX_NESTING}, loops {MAX_LOOP_NESTING})", position
            )

    def open_scope(
        self, var: Var, is_loop: bool, params: list[tuple[str, int]] | None, token: Token
    ) -> _Scope:
        scope = _Scope(self.next_scope, is_loop, var.refs)
        self.next_scope += 1
        for index, (param, offset) in enumerate(params or ()):
            if index >= (2 if is_loop else 1) or NAME.fullmatch(param) is None or param == "this":
                raise self.locator.error(f"invalid block parameter {param!r} in {shown(token.tag)}", offset)
            scope.params[param] = ("value" if index == 0 else "key", scope.id)
        if params is not None and not params:
            raise self.locator.error(f"empty block parameters in {shown(token.tag)}", token.start)
        self.scopes.append(scope)
        return scope

    def else_branch(self, token: Token, rest: str, rest_start: int, *, ajo: bool) -> None:
        position = self.locator.position(token.start)
        frame = self.frames[-1] if self.frames else None
        if frame is None or (frame.kind == "ajo") != ajo:
            where = f" inside {frame.describe()}" if frame else ""
            raise self.error(f"unexpected {shown(token.tag)}{where}", position)
        if frame.has_else:
            raise self.error(
                f"unexpected {shown(token.tag)}: {frame.describe()} already has an else", position
            )
        if not rest.strip():
            frame.has_else = True
            self.close_scope(frame)
            frame.parts.append((None, []))
            return
        frame.parts.append((self.else_condition(frame, token, rest, rest_start, ajo=ajo), []))

    def else_condition(self, frame: _Frame, token: Token, rest: str, rest_start: int, *, ajo: bool) -> Expr:
        if ajo:
            return parse_condition(rest, rest_start, self.locator, self.var)
        if frame.kind not in ("if", "unless"):
            raise self.locator.error(
                f"{shown(token.tag)} is only allowed in {{{{#if}}}} and {{{{#unless}}}}", token.start
            )
        args, params = self.args(Token(Kind.ELSE, token.start, token.end, rest, rest_start, tag=token.tag))
        if not args or args[0][0] not in ("if", "unless") or len(args) != 2 or params is not None:
            raise self.locator.error(
                f"expected {{{{else if path}}}} or {{{{else}}}}, got {shown(token.tag)}", token.start
            )
        var = self.var(*args[1])
        return var if args[0][0] == "if" else Not(var)

    def close_scope(self, frame: _Frame) -> None:
        if frame.scope is not None and self.scopes[-1] is frame.scope:
            self.scopes.pop()

    def close_block(self, token: Token, name: str, *, ajo: bool) -> None:
        position = self.locator.position(token.start)
        if not self.frames:
            raise self.error(f"unexpected {shown(token.tag)}", position)
        frame = self.frames[-1]
        if (frame.kind == "ajo") != ajo or (not ajo and frame.kind != name):
            message = f"unexpected {shown(token.tag)}, expected {frame.closer()} to close {frame.describe()}"
            raise self.error(message, position)
        self.frames.pop()
        self.close_scope(frame)
        self.append(_build(frame))

    def ajo_tag(self, token: Token) -> None:
        match = _AJO_TAG.match(token.body)
        if match is None:
            raise self.locator.error(f"unknown tag {shown(token.tag)}", token.start)
        rest, rest_start = token.body[match.end() :], token.body_start + match.end()
        if match["open"]:
            position = self.locator.position(token.start)
            self.check_depth(False, position)
            condition = self.ajo_condition(token, rest, rest_start)
            self.frames.append(_Frame("ajo", token.tag, position, [(condition, [])]))
        elif match["elseif"]:
            if not rest.strip():
                raise self.locator.error(f"{shown(token.tag)} needs a condition", token.start)
            self.else_branch(token, rest, rest_start, ajo=True)
        elif match["else"] or match["close"]:
            if rest.strip():
                where = rest_start + len(rest) - len(rest.lstrip())
                raise self.locator.error(f"unexpected {rest.strip()!r} in {shown(token.tag)}", where)
            if match["else"]:
                self.else_branch(token, "", rest_start, ajo=True)
            else:
                self.close_block(token, "if", ajo=True)

    def ajo_condition(self, token: Token, rest: str, rest_start: int) -> Expr:
        if not rest.strip():
            raise self.locator.error(f"{shown(token.tag)} needs a condition", token.start)
        return parse_condition(rest, rest_start, self.locator, self.var)


def _join(prefixes: tuple[str, ...], segments: tuple[str, ...]) -> tuple[str, ...]:
    """Absolute reference paths: each prefix followed by the segments (the root reads as ``@root``)."""
    tail = ".".join(segments)
    return tuple((f"{p}.{tail}" if p and tail else p or tail or "@root") for p in prefixes)


def _build(frame: _Frame) -> Node:
    parts = [(cond, tuple(body)) for cond, body in frame.parts]
    otherwise: Body = parts[-1][1] if frame.has_else else ()
    if frame.var is None:
        branches = tuple(Branch(cond, body) for cond, body in parts if cond is not None)
        return If(branches, otherwise)
    assert frame.scope is not None
    if frame.kind == "each":
        data_used = frozenset(frame.scope.data_used)
        return Each(frame.var, frame.scope.id, parts[0][1], otherwise, data_used)
    return With(frame.var, frame.scope.id, parts[0][1], otherwise)
