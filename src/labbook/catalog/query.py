"""The run search language: parsing ``filter`` and ``order_by`` into SQL.

Grammar (case-insensitive keywords)::

    expr      := or_expr
    or_expr   := and_expr ("or" and_expr)*
    and_expr  := not_expr ("and" not_expr)*
    not_expr  := "not" not_expr | atom
    atom      := "(" expr ")" | field op value | field "in" "(" values ")" | field "not" "in" ...
               | field "is" ["not"] "null" | value "in" "tags" | "tags" ("contains"|"=") value
    field     := params.<key>[.<key>...] | inputs.<key>... | outputs.<key>...
                 (a dotted name, quoted or not, is the param of that name, or else a value
                 inside a nested param: params.optimizer.name reads {"optimizer": {"name": ...}})
               | metrics.<name>[.last|.min|.max|.count|.last_step]
               | meta.<key>[.<key>...]   (a value inside the run's meta, e.g. meta.imported_from.run_id)
               | status | name | uuid | project | user | host | description | git_commit
               | created_at | started_at | finished_at | duration
    op        := = | == | != | <> | < | <= | > | >= | like | contains
    value     := number | 'text' | "text" | true | false | null

A name with spaces or other symbols is quoted with backticks: ``metrics.`val acc`.max > 0.9``.
``order_by`` takes the same fields, with ``-`` (or `` desc``) for descending order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from labbook.catalog import schema
from labbook.errors import QueryError

RUN_FIELDS = {
    "status", "name", "uuid", "project", "user", "host", "description", "git_commit",
    "created_at", "started_at", "finished_at", "duration", "heartbeat_at",
}
TIME_FIELDS = {"created_at", "started_at", "finished_at", "heartbeat_at"}
METRIC_FIELDS = {"last", "min", "max", "count", "last_step"}
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![\w.])
      | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<quoted>`[^`]*`)
      | (?P<op><=|>=|==|!=|<>|<|>|=|\(|\)|,)
      | (?P<word>[A-Za-z_][\w/\-]*(?:\.(?:[A-Za-z_0-9][\w/\-]*|`[^`]*`))*(?:\.`[^`]*`)?)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Field:
    table: str  # "runs", "params", "metrics", "tags", "meta"
    key: str = ""  # param key or metric name
    attr: str = ""  # runs column, params section, metric summary column
    path: tuple[str, ...] = ()  # keys inside the run's meta JSON


@dataclass(frozen=True)
class Conjunct:
    """One of the conditions a filter ANDs together at its top level (under no ``or`` or
    ``not``); ``field``, ``op`` and ``value`` when it is a plain ``field op value``."""

    condition: Any
    field: Field | None = None
    op: str = ""
    value: Any = None


def parse_field(text: str) -> Field:
    parts = _split_dotted(text)
    head = parts[0].lower()
    if len(parts) == 1:
        if head in RUN_FIELDS:
            return Field("runs", attr=head)
        if head == "tags":
            return Field("tags")
        raise QueryError(
            f"Unknown field {text!r}. Use params.<key>, outputs.<key>, metrics.<name>, tags, "
            f"or one of: {', '.join(sorted(RUN_FIELDS))}."
        )
    rest = parts[1:]
    if head in ("params", "inputs", "outputs"):
        return Field("params", key=".".join(rest), attr="outputs" if head == "outputs" else "inputs")
    if head == "meta":
        return Field("meta", path=tuple(rest))
    if head == "metrics":
        attr = "last"
        if len(rest) > 1 and rest[-1] in METRIC_FIELDS:
            attr = rest[-1]
            rest = rest[:-1]
        return Field("metrics", key=".".join(rest), attr=attr)
    raise QueryError(f"Unknown field {text!r}: it must start with params., outputs., metrics. or meta.")


def _split_dotted(text: str) -> list[str]:
    parts, buf, quoted = [], "", False
    for char in text:
        if char == "`":
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append(buf)
            buf = ""
        else:
            buf += char
    parts.append(buf)
    return parts


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f"Cannot read the filter at position {pos}: {text[pos:pos + 20]!r}.")
        kind = match.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


class _Parser:
    def __init__(self, text: str, crashed_before: datetime | None = None) -> None:
        self.text = text
        self.crashed_before = crashed_before
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].lower() in words

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise QueryError(f"The filter {self.text!r} ends too early.")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        token = self.take()
        if token[1].lower() != value:
            raise QueryError(f"Expected {value!r} in the filter, found {token[1]!r}.")

    def parse(self) -> tuple[sa.ColumnElement[bool], list[Conjunct]]:
        expr, conjuncts = self.or_expr()
        extra = self.peek()
        if extra is not None:
            raise QueryError(f"Unexpected {extra[1]!r} in the filter {self.text!r}.")
        return expr, conjuncts

    # Each level returns (condition, conjuncts): conditions whose AND is the condition.

    def or_expr(self) -> tuple[Any, list[Conjunct]]:
        parts = [self.and_expr()]
        while self.keyword("or"):
            self.take()
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        expr = sa.or_(*(expr for expr, _ in parts))
        return expr, [Conjunct(expr)]

    def and_expr(self) -> tuple[Any, list[Conjunct]]:
        parts = [self.not_expr()]
        while self.keyword("and"):
            self.take()
            parts.append(self.not_expr())
        if len(parts) == 1:
            return parts[0]
        return sa.and_(*(expr for expr, _ in parts)), [c for _, conjuncts in parts for c in conjuncts]

    def not_expr(self) -> tuple[Any, list[Conjunct]]:
        if self.keyword("not"):
            self.take()
            expr = sa.not_(self.not_expr()[0])
            return expr, [Conjunct(expr)]
        return self.atom()

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            number = float(text)
            return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
        if kind == "str":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape") if "\\" in text else text[1:-1]
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "word" and text.lower() == "null":
            return None
        raise QueryError(f"Expected a value in the filter, found {text!r}. Quote text values.")

    def atom(self) -> tuple[Any, list[Conjunct]]:
        token = self.peek()
        if token and token[1] == "(":
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        if token and token[0] in ("num", "str"):  # 'x' in tags
            value = self.value()
            self.expect("in")
            self.expect("tags")
            return _whole(_tag_condition(value))
        kind, text = self.take()
        if kind not in ("word", "quoted"):
            raise QueryError(f"Expected a field name in the filter, found {text!r}.")
        field = parse_field(text)
        if self.keyword("is"):
            self.take()
            negate = self.keyword("not")
            if negate:
                self.take()
            self.expect("null")
            condition = self.condition(field, "is_null", None)
            return _whole(sa.not_(condition) if negate else condition)
        if self.keyword("not"):
            self.take()
            self.expect("in")
            return _whole(sa.not_(self.condition(field, "in", self.value_list())))
        if self.keyword("in"):
            self.take()
            return _whole(self.condition(field, "in", self.value_list()))
        op_kind, op = self.take()
        op = op.lower()
        if op_kind == "word" and op not in ("like", "contains"):
            raise QueryError(f"Unknown operator {op!r}. Use =, !=, <, <=, >, >=, in, like or contains.")
        value = self.value()
        condition = self.condition(field, op, value)
        return condition, [Conjunct(condition, field, op, value)]

    def condition(self, field: Field, op: str, value: Any) -> sa.ColumnElement[bool]:
        """``crashed`` is not stored: it is a running run whose heartbeat is older than the
        crash timeout (the rule is labbook.store.liveness), so status tests that name it or
        ``running`` compare the heartbeat too."""
        if (field.table == "runs" and field.attr == "status" and self.crashed_before is not None
                and op in ("=", "==", "!=", "<>", "in")):
            values = value if op == "in" else [value]
            if {"crashed", "running"} & set(values):
                parts = [_status_is(v, self.crashed_before) for v in values]
                condition = sa.or_(*parts) if len(parts) > 1 else parts[0]
                return sa.not_(condition) if op in ("!=", "<>") else condition
        return _condition(field, op, value)

    def value_list(self) -> list[Any]:
        self.expect("(")
        values = [self.value()]
        while (self.peek() or ("", ""))[1] == ",":
            self.take()
            values.append(self.value())
        self.expect(")")
        return values


def _whole(condition: Any) -> tuple[Any, list[Conjunct]]:
    return condition, [Conjunct(condition)]


def _status_is(status: Any, crashed_before: datetime) -> sa.ColumnElement[bool]:
    runs = schema.runs
    cutoff = _coerce_time(crashed_before.isoformat())
    # labbook.store.liveness: a running run with no heartbeat at all has nothing to judge by
    stale = sa.and_(runs.c.heartbeat_at.is_not(None), runs.c.heartbeat_at < cutoff)
    if status == "crashed":
        return sa.and_(runs.c.status == "running", stale)
    if status == "running":
        return sa.and_(runs.c.status == "running", sa.not_(stale))
    return runs.c.status == status


def _tag_condition(value: Any) -> sa.ColumnElement[bool]:
    t = schema.tags
    return schema.runs.c.uuid.in_(sa.select(t.c.run_uuid).where(t.c.tag == str(value)))


def _compare(column, op: str, value: Any):
    if op in ("=", "=="):
        return column.is_(None) if value is None else column == value
    if op in ("!=", "<>"):
        return column.is_not(None) if value is None else column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "like":
        return column.like(str(value))
    if op == "contains":
        return column.contains(str(value), autoescape=True)
    if op == "in":
        return column.in_(value)
    if op == "is_null":
        return column.is_(None)
    raise QueryError(f"Unknown operator {op!r}.")


def _coerce_time(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise QueryError(f"{value!r} is not an ISO date or time (e.g. '2026-11-23T10:00').") from None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        return parsed
    return value


def _condition(field: Field, op: str, value: Any) -> sa.ColumnElement[bool]:
    runs = schema.runs
    if field.table == "runs":
        column = runs.c[field.attr]
        if field.attr in TIME_FIELDS:
            value = [_coerce_time(v) for v in value] if isinstance(value, list) else _coerce_time(value)
        return _compare(column, op, value)
    if field.table == "tags":
        if op in ("=", "==", "contains"):
            return _tag_condition(value)
        if op in ("!=", "<>"):
            return sa.not_(_tag_condition(value))
        if op == "in":
            return sa.or_(*(_tag_condition(v) for v in value))
        raise QueryError(f"tags supports =, !=, contains and in; got {op!r}.")
    if field.table == "meta":
        element = runs.c.meta[field.path]
        sample = value[0] if isinstance(value, list) and value else value
        if op != "is_null" and isinstance(sample, (bool, int, float)):
            value = [float(v) for v in value] if isinstance(value, list) else float(value)
            return _compare(element.as_float(), op, value)
        return _compare(element.as_string(), op, value)
    if field.table == "metrics":
        m = schema.metrics
        if op == "is_null":
            return runs.c.uuid.not_in(sa.select(m.c.run_uuid).where(m.c.name == field.key))
        inner = _compare(m.c[field.attr], op, value)
        return runs.c.uuid.in_(sa.select(m.c.run_uuid).where(m.c.name == field.key, inner))
    p = schema.params
    sample = value[0] if isinstance(value, list) and value else value
    numeric = isinstance(sample, (bool, int, float))
    if isinstance(sample, bool):
        value = [float(v) for v in value] if isinstance(value, list) else float(value)
    # the param of that name; for a dotted name also a value inside a nested param (one row per
    # top-level param: the leaf is read from its JSON)
    matches = [sa.and_(p.c.key == field.key, p.c.value_num.is_not(None) if op == "is_null"
                       else _compare(p.c.value_num if numeric else p.c.value_text, op, value))]
    for key, inside in _nested_splits(field):
        leaf = p.c.value_json[list(inside)].as_string()
        matches.append(sa.and_(p.c.key == key, leaf.is_not(None) if op == "is_null"
                               else _compare(_json_number(p.c.value_json, inside) if numeric else leaf, op, value)))
    if op == "is_null":
        matches[0] = p.c.key == field.key  # a param of that name, whatever its value, is not null
        return runs.c.uuid.not_in(sa.select(p.c.run_uuid).where(p.c.section == field.attr, sa.or_(*matches)))
    return runs.c.uuid.in_(sa.select(p.c.run_uuid).where(p.c.section == field.attr, sa.or_(*matches)))


class _JsonNumber(FunctionElement):
    """The number at ``path`` inside a JSON column, or NULL where the value there is not a number
    (text, a dict, nothing): a nested param may hold "sgd" in one run and 0.9 in another, and
    PostgreSQL's cast of the text would fail the whole query."""

    type = sa.Float()
    inherit_cache = True
    name = "json_number"


@compiles(_JsonNumber, "sqlite")
def _json_number_sqlite(element: _JsonNumber, compiler: Any, **kw: Any) -> str:
    clauses = list(element.clauses)
    column, path = compiler.process(clauses[0], **kw), compiler.process(clauses[1], **kw)
    return f"(CASE WHEN json_type({column}, {path}) IN ('integer', 'real') THEN json_extract({column}, {path}) END)"


@compiles(_JsonNumber, "postgresql")
def _json_number_postgresql(element: _JsonNumber, compiler: Any, **kw: Any) -> str:
    clauses = list(element.clauses)
    column, keys = compiler.process(clauses[0], **kw), compiler.process(clauses[2], **kw)
    return f"(CASE WHEN json_typeof({column} #> {keys}) = 'number' THEN CAST({column} #>> {keys} AS DOUBLE PRECISION) END)"


def _json_number(column: Any, path: tuple[str, ...]) -> _JsonNumber:
    """``_JsonNumber`` of ``column`` at ``path``; both forms of the path are bound parameters (part
    of no cached statement): SQLite's ``$."a"."b"`` and PostgreSQL's text array."""
    sqlite_path = "$" + "".join('."' + key.replace('"', '""') + '"' for key in path)
    return _JsonNumber(column, sa.literal(sqlite_path), sa.literal(list(path), type_=sa.ARRAY(sa.Text)))


def _nested_splits(field: Field) -> list[tuple[str, tuple[str, ...]]]:
    """(top-level param key, keys inside its value) for each way a dotted param name can point
    into a nested param: ``a.b.c`` -> ("a", ("b", "c")), ("a.b", ("c",)). Quoted or not, as the
    server's columns and ``group_by`` read a dotted name (``views.param_value``)."""
    parts = tuple(field.key.split("."))
    return [(".".join(parts[:i]), parts[i:]) for i in range(1, len(parts))]


def parse_filter(text: str | None, crashed_before: datetime | None = None) -> sa.ColumnElement[bool] | None:
    """The SQL condition for ``text``; ``crashed_before`` (an aware time) lets ``status`` tests
    tell crashed runs (running, heartbeat older than that) from live ones."""
    return parse_filter_parts(text, crashed_before)[0]


def parse_filter_parts(text: str | None, crashed_before: datetime | None = None
                       ) -> tuple[sa.ColumnElement[bool] | None, list[Conjunct]]:
    """``parse_filter``, plus its top-level conjuncts: conditions whose AND is the filter (every
    run it matches satisfies each of them), each plain comparison with its field, op and value."""
    if text is None or not text.strip():
        return None, []
    return _Parser(text, crashed_before).parse()


def order_clauses(select: sa.Select, order_by: list[str] | str | None) -> sa.Select:
    """Add ORDER BY for each field (``-field`` or ``field desc`` for descending); NULLs last."""
    return ordering(select, order_by)[0]


def ordering(select: sa.Select, order_by: list[str] | str | None) -> tuple[sa.Select, list[tuple[Any, bool]]]:
    """``order_clauses``, plus the sort key: (column, descending) pairs, ending with the uuid."""
    keys: list[tuple[Any, bool]] = []
    for index, (field, descending, text) in enumerate(order_fields(order_by)):
        column: Any
        if field.table == "runs":
            column = schema.runs.c[field.attr]
        elif field.table == "metrics":
            alias = schema.metrics.alias(f"order_m{index}")
            select = select.outerjoin(
                alias, sa.and_(alias.c.run_uuid == schema.runs.c.uuid, alias.c.name == field.key)
            )
            column = alias.c[field.attr]
        elif field.table == "params":
            alias = schema.params.alias(f"order_p{index}")
            splits = _nested_splits(field)
            if splits:  # a dotted name: the param of that name, or else the value inside a nested one
                nested = schema.params.alias(f"order_n{index}")
                key, inside = splits[0]
                select = select.outerjoin(
                    nested, sa.and_(nested.c.run_uuid == schema.runs.c.uuid, nested.c.section == field.attr,
                                    nested.c.key == key))
            select = select.outerjoin(
                alias,
                sa.and_(alias.c.run_uuid == schema.runs.c.uuid, alias.c.section == field.attr,
                        alias.c.key == field.key),
            )
            if splits:
                keys.append((sa.func.coalesce(alias.c.value_num, _json_number(nested.c.value_json, inside)), descending))
                column = sa.func.coalesce(alias.c.value_text, nested.c.value_json[list(inside)].as_string())
            else:
                keys.append((alias.c.value_num, descending))
                column = alias.c.value_text
        else:
            raise QueryError(f"Runs cannot be ordered by {text!r}: use params., metrics. or a run field.")
        keys.append((column, descending))
    keys.append((schema.runs.c.uuid, False))
    for column, descending in keys:
        select = select.order_by(column.desc().nulls_last() if descending else column.asc().nulls_last())
    return select, keys


def order_fields(order_by: list[str] | str | None) -> list[tuple[Field, bool, str]]:
    """(field, descending, text) of each ``order_by`` item; newest first when none is given."""
    if not order_by:
        order_by = ["-created_at"]
    if isinstance(order_by, str):
        order_by = [order_by]
    fields = []
    for item in order_by:
        text = item.strip()
        descending = text.startswith("-")
        text = text.lstrip("-+").strip()
        lowered = text.lower()
        if lowered.endswith(" desc") or lowered.endswith(" asc"):
            descending = lowered.endswith(" desc")
            text = text.rsplit(" ", 1)[0].strip()
        fields.append((parse_field(text), descending, text))
    return fields


def metric_order(order_by: list[str] | str | None) -> tuple[Field, bool] | None:
    """(the metric summary, descending) when ``order_by`` is that one metric field alone."""
    fields = order_fields(order_by)
    if len(fields) != 1 or fields[0][0].table != "metrics":
        return None
    return fields[0][0], fields[0][1]


def metric_bounds(conjuncts: list[Conjunct], field: Field, column: Any) -> tuple[list[Any], list[Any]]:
    """The filter's conjuncts (of ``parse_filter_parts``) split in two: its numeric comparisons of
    the metric summary ``field``, made on ``column`` (that summary's column of the run's own
    row: they bound a walk of the summary's index, and each excludes runs without a value), and
    the conditions of the other conjuncts."""
    bounds, others = [], []
    for c in conjuncts:
        if (c.field == field and c.op in ("<", "<=", ">", ">=", "=", "==")
                and isinstance(c.value, (int, float)) and not isinstance(c.value, bool)):
            bounds.append(_compare(column, c.op, c.value))
        else:
            others.append(c.condition)
    return bounds, others


def check_after(width: int, values: list[Any]) -> None:
    if len(values) != width:
        raise QueryError(f"The cursor holds {len(values)} sort values but the ordering has {width}; "
                         "use the cursor with the same order_by it was made with.")


def after_value(column: Any, descending: bool, uuid: Any, values: list[Any]) -> list[sa.ColumnElement[bool]]:
    """``after_key`` for rows ordered by ``column`` (never NULL among them), then ``uuid``, after
    the sort key ``values`` (its value not NULL): a range of the column that an index scan can
    start at, and the tie-break on the uuid."""
    value, last_uuid = values
    return [column <= value if descending else column >= value,
            sa.or_(column < value if descending else column > value, uuid > last_uuid)]


def after_key(keys: list[tuple[Any, bool]], values: list[Any]) -> sa.ColumnElement[bool]:
    """Rows strictly after the sort key ``values`` in the order ``keys`` gives (NULLs last):
    the condition of a keyset page, with every value bound as a parameter."""
    check_after(len(keys), values)
    (column, descending), value = keys[0], values[0]
    if len(keys) == 1:
        if value is None:
            return sa.false()
        return column < value if descending else column > value
    rest = after_key(keys[1:], values[1:])
    if value is None:
        return sa.and_(column.is_(None), rest)
    beyond = column < value if descending else column > value
    return sa.or_(beyond, column.is_(None), sa.and_(column == value, rest))
