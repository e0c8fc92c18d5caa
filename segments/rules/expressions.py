"""SQL expressions the ORM lacks on one of our vendors (PostgreSQL and SQLite)."""

import json

from django.db.models import BooleanField, DecimalField, Expression, F, TextField


class _OverOneExpression(Expression):
    """An expression over one source expression, `self.column` (a column or any expression),
    compiled by hand per vendor."""

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, exprs):
        (self.column,) = exprs

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False,
                           for_save=False):
        clone = self.copy()
        clone.column = self.column.resolve_expression(query, allow_joins, reuse, summarize,
                                                      for_save)
        return clone

    def as_sql(self, compiler, connection):
        raise NotImplementedError(f"{type(self).__name__} on {connection.vendor}")


class JsonKeyOfType(_OverOneExpression):
    """One key of a JSON object column, as SQL text/number/boolean, or NULL when the key is
    missing or holds another JSON type ("level" > 3 must not match the string "gold")."""

    _types = {
        "string": (TextField(), "'string'", "('text')"),
        "number": (DecimalField(), "'number'", "('integer', 'real')"),
        "boolean": (BooleanField(), "'boolean'", "('true', 'false')"),
    }

    def __init__(self, column: str, key: str, json_type: str):
        output_field, _pg, _sqlite = self._types[json_type]
        super().__init__(output_field=output_field)
        self.column, self.key, self.json_type = F(column), key, json_type

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.column)
        _field, pg_type, _ = self._types[self.json_type]
        # COLLATE "C": text orders by code point, as on SQLite, whatever the database's
        # collation (under en_US "a" < "Gold").
        value = {"string": f'(({column} ->> %s) COLLATE "C")',
                 "number": f"({column} ->> %s)::numeric",
                 "boolean": f"({column} ->> %s)::boolean"}[self.json_type]
        sql = f"CASE WHEN jsonb_typeof({column} -> %s) = {pg_type} THEN {value} END"
        return sql, (*params, self.key, *params, self.key)

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.column)
        _field, _, sqlite_types = self._types[self.json_type]
        path = f"$.{self.key}"
        value = (f"(json_type({column}, %s) = 'true')" if self.json_type == "boolean"
                 else f"json_extract({column}, %s)")
        sql = f"CASE WHEN json_type({column}, %s) IN {sqlite_types} THEN {value} END"
        if self.json_type == "number":
            # The number parameter arrives as text (SQLite's Decimal adapter); NUMERIC affinity
            # makes SQLite compare it as a number rather than text against a number.
            sql = f"CAST({sql} AS NUMERIC)"
        return sql, (*params, path, *params, path)


class JsonArrayHas(_OverOneExpression):
    """True when a JSON array column holds `values` (all of them, or any with any_=True).
    Never NULL for a non-NULL column."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column: str, values: list[str], *, any_: bool = False):
        super().__init__()
        self.column, self.values, self.any_ = F(column), list(values), any_

    def as_postgresql(self, compiler, connection):
        column, params = compiler.compile(self.column)
        if self.any_:
            return f"({column} ?| %s)", (*params, self.values)
        return f"({column} @> %s::jsonb)", (*params, json.dumps(self.values))

    def as_sqlite(self, compiler, connection):
        column, params = compiler.compile(self.column)
        marks = ", ".join(["%s"] * len(self.values))
        contains = f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value = %s)"
        if self.any_:
            sql = f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value IN ({marks}))"
            return sql, (*params, *self.values)
        clauses = " AND ".join([contains] * len(self.values))
        flat = [p for value in self.values for p in (*params, value)]
        return f"({clauses})", tuple(flat)



ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def ascii_lower(text: str) -> str:
    """Lower-cases A-Z only: the one case folding both SQLite's LIKE and ours agree on."""
    return text.translate(str.maketrans(ASCII_UPPER, ASCII_UPPER.lower()))


def like_pattern(text: str, *, prefix: bool, suffix: bool) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{'%' if prefix else ''}{ascii_lower(escaped)}{'%' if suffix else ''}"


class AsciiLike(_OverOneExpression):
    """`expression LIKE pattern`, case-insensitive for A-Z only, FALSE (not NULL) on NULL.
    SQLite's LIKE already folds A-Z and nothing else; on PostgreSQL we fold the same way."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, expression, pattern: str):
        super().__init__()
        self.column = F(expression) if isinstance(expression, str) else expression
        self.pattern = pattern

    def as_postgresql(self, compiler, connection):
        sql, params = compiler.compile(self.column)
        folded = f"translate({sql}, '{ASCII_UPPER}', '{ASCII_UPPER.lower()}')"
        return f"COALESCE({folded} LIKE %s ESCAPE '\\', FALSE)", (*params, self.pattern)

    def as_sqlite(self, compiler, connection):
        sql, params = compiler.compile(self.column)
        return f"COALESCE({sql} LIKE %s ESCAPE '\\', 0)", (*params, self.pattern)
