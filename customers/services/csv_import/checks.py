"""SQL twins of the input models (customers.schemas), for checking CSV cells set-based.

Every model field becomes one SQL expression that turns a cell's text into the value to store,
or into NULL when the cell is empty or not in a shape the SQL can vouch for. The expressions
are built from the fields' declarations (type, max_length, pattern, Literal choices, Decimal
digits, required or not); the few custom validators of the models have a twin here, found by
name, and a model that gains a validator without one cannot be imported (NoSqlTwin).

JSON cells (attributes, properties, items) are the exception: PostgreSQL 15 cannot read JSON
without raising on bad input, and taking JSON apart in SQL is slow, so pydantic itself checks
them, once per distinct cell (json_fields).

A row whose every non-empty cell converted, and that passes the twins of the validators, is
accepted in SQL. Every other row goes to the pydantic model, which stays the authority: it
rejects the row with its message, or accepts it. So the SQL may be stricter than pydantic (a
row it cannot vouch for only costs a Python validation) but never looser, and where both
accept a cell they store the same value: tests/customers/test_csv_checks.py compares them on
random and odd cells. No expression here raises on any text: a cast runs only after a
pattern has guaranteed that it succeeds.
"""

import datetime as dt
import functools
import inspect
import re
import typing
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_core import to_json

from customers.models import _time_zones
from customers.schemas import _PHONE, MAX_FUTURE, read_json

# The bytes vouch.py gives a cell it vouches for (defined here: vouch.py reads WHITE_SPACE).
NAIVE, AWARE = 1, 2  # a date and time, without or with Z / an offset
VOUCHED = 1  # a date, an email address, a phone number, a list of tags; the row's text
# cells free of white space at their ends
EMAIL, PHONE = "email", "phone"  # the shapes of Twin.shape
TAGS = "tags"  # the shape of a list of tags' cell (`a|b|c`)

# Characters that Python's str.isspace() (the CSV reader's "blank cell") or pydantic's strip
# (Unicode White_Space) treat as white space: a cell starting or ending with one goes to
# pydantic, which knows what stripping does to it.
WHITE_SPACE = tuple(code for code in range(0x3001) if chr(code).isspace())

# What pydantic reads as a boolean (lax mode, any case), pinned by a test.
TRUE_WORDS = ("1", "on", "t", "true", "y", "yes")
FALSE_WORDS = ("0", "off", "f", "false", "n", "no")

# ISO 8601 as storefronts write it: a date, or a date and time (seconds and up to 6 decimals
# optional) with an optional Z or +hh:mm. Hours, minutes and seconds are range-checked here;
# the day of the month in SQL. Years from 1000 (earlier ones go to pydantic), offsets up to
# 14:59 (PostgreSQL reads at most 15:59; pydantic accepts more and writes them in UTC).
_DATE = r"[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME = r"[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
DATE_PATTERN = f"^{_DATE}$"
DATETIME_PATTERN = f"^{_DATE}({_TIME}(Z|[+-](0[0-9]|1[0-4]):[0-5][0-9])?)?$"

# A subset of Django's validate_email: dot-atom local part, ASCII host labels, a letters-only
# top-level domain. At most 64 characters, so that no label can pass Django's 63.
EMAIL_PATTERN = (
    r"^[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+(\.[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,}$"
)
EMAIL_MAX = 64

JSON_VALUE = "{json}"  # stands for pydantic's verdict on a JSON cell (json_fields)


class NoSqlTwin(Exception):
    """A model validator without an SQL twin: add one to VALIDATORS."""


def text(value: str) -> str:
    """An SQL string literal. % is doubled: the statements run with parameters."""
    return "'" + value.replace("'", "''").replace("%", "%%") + "'"


# ^x?[class]{m,n}$, the shape of the models' simple patterns (phone, currency, event name):
# PostgreSQL takes ~3 us for a bounded repetition, ~0.3 us for a length and a class.
_SIMPLE_PATTERN = re.compile(r"\^(?:(\\?[^\\\[])\?)?\[([^\]]+)\]\{(\d+)(?:,(\d+))?\}\$")


@dataclass(frozen=True)
class SimplePattern:
    """^x?[class]{m,n}$ taken apart: the optional first character, the class's body, the
    least and most characters of the class."""

    prefix: str | None
    chars: str
    least: int
    most: int


def simple_pattern(pattern: str) -> SimplePattern | None:
    simple = _SIMPLE_PATTERN.fullmatch(pattern)
    if simple is None:
        return None
    prefix, chars, least, most = simple.groups()
    return SimplePattern(prefix and prefix.removeprefix("\\"), chars, int(least),
                         int(most or least))


def matches(cell: str, pattern: str) -> str:
    """SQL: `cell` matches the Python regular expression `pattern` (of the shapes the
    models use; pinned by tests/customers/test_csv_checks.py)."""
    simple = simple_pattern(pattern)
    if simple is None:
        return f"{cell} ~ {text(pattern)}"
    literal, chars, least, most = simple.prefix, simple.chars, simple.least, simple.most
    body = f"{cell} !~ {text(f'[^{chars}]')} AND char_length({cell}) BETWEEN {least} AND {most}"
    if literal is None:
        return f"({body})"
    rest = f"substr({cell}, 2)"
    with_prefix = (f"left({cell}, 1) = {text(literal)} AND {rest} !~ {text(f'[^{chars}]')} "
                   f"AND char_length({rest}) BETWEEN {least} AND {most}")
    return f"({body} OR {with_prefix})"


def _white_space_class() -> str:
    return "".join(chr(code) for code in WHITE_SPACE)


def _white_space_free_ends(cells: list[str]) -> str:
    """No cell starts or ends with white space (so stripping changes nothing): one regular
    expression over the cells joined, ~1 us a row instead of ~0.25 us a cell."""
    if not cells:
        return "true"
    ws = _white_space_class()
    joined = f"concat_ws(E'\\x01', {', '.join(cells)})"
    pattern = "(^|\x01)[" + ws + "]|[" + ws + "](\x01|$)"
    return f"{joined} !~ {text(pattern)}"


def _days_in_month(cell: str) -> str:
    year, month = f"substr({cell}, 1, 4)::int", f"substr({cell}, 6, 2)::int"
    leap = f"(mod({year}, 4) = 0 AND (mod({year}, 100) <> 0 OR mod({year}, 400) = 0))"
    return (f"CASE {month} WHEN 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END "
            f"WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30 ELSE 31 END")


def _day_exists(cell: str) -> str:
    day = f"substr({cell}, 9, 2)"
    return f"({day} <= '28' OR {day}::int <= {_days_in_month(cell)})"


@dataclass(frozen=True)
class Zone:
    """How naive times become UTC: the storefront's UTC offset on each local day, from
    Python's zoneinfo (as pydantic reads them); None on days next to a transition, where a
    time may be ambiguous or skipped and pydantic decides."""

    name: str
    bounds: tuple[dt.datetime, ...]  # local midnights where the offset changes
    offsets: tuple[dt.timedelta | None, ...]  # before bounds[0], then from each bound

    @property
    def fixed(self) -> dt.timedelta | None:
        return self.offsets[0] if not self.bounds else None

    def params(self) -> dict[str, Any]:
        return {"tz_bounds": list(self.bounds), "tz_offsets": list(self.offsets)}


UTC = Zone("UTC", (), (dt.timedelta(0),))
FIRST_ZONE_DAY = dt.date(1850, 1, 1)  # naive times before it go to pydantic


# Names of UTC in the tz database (its links to Etc/UTC and Etc/GMT): zero offset ever, so
# that the storefronts' default zone costs no walk through the days (~0.1 s an import).
ALWAYS_UTC = frozenset({
    "UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu",
    "GMT", "Etc/GMT", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "GMT0", "GMT+0", "GMT-0",
    "Etc/Greenwich", "Greenwich",
})


@functools.cache
def zone(name: str, until: dt.date) -> Zone:
    """The offsets of time zone `name` per local day up to `until`; ~0.1 s per zone but UTC."""
    if name in ALWAYS_UTC:
        return Zone(name, (), (dt.timedelta(0),))
    return zone_by_days(name, until)


def zone_by_days(name: str, until: dt.date) -> Zone:
    """zone(), read off every local midnight from FIRST_ZONE_DAY to `until`."""
    tz = zoneinfo.ZoneInfo(name)
    days = (until - FIRST_ZONE_DAY).days + 3
    midnights = [dt.datetime.combine(FIRST_ZONE_DAY + dt.timedelta(days=n), dt.time())
                 for n in range(days)]
    at_midnight = [m.replace(tzinfo=tz).utcoffset() for m in midnights]
    bounds: list[dt.datetime] = []
    offsets: list[dt.timedelta | None] = [None]  # before FIRST_ZONE_DAY
    for n in range(1, days - 1):
        # A day is safe when its own midnight and the next one have the same offset as
        # the days around it: no transition within a day either way.
        near = at_midnight[n - 1:n + 2]
        offset = at_midnight[n] if near.count(near[0]) == len(near) else None
        if offset != offsets[-1]:
            bounds.append(midnights[n])
            offsets.append(offset)
    bounds.append(midnights[days - 1])
    offsets.append(None)  # after `until`: in the future anyway
    if len(set(offsets[1:-1])) == 1 and offsets[1] is not None:
        return Zone(name, (), (offsets[1],))  # one offset ever (UTC and fixed zones)
    return Zone(name, tuple(bounds), tuple(offsets))


def _naive_to_utc(cell: str, tz: Zone) -> str:
    local = f"{cell}::timestamp"
    if tz.fixed == dt.timedelta(0):
        return f"{local} AT TIME ZONE 'UTC'"
    if tz.fixed is not None:
        return f"({local} - interval {text(str(tz.fixed.total_seconds()) + ' seconds')}) " \
               "AT TIME ZONE 'UTC'"
    offset = (f"(%(tz_offsets)s::interval[])"
              f"[width_bucket({local}, %(tz_bounds)s::timestamp[]) + 1]")
    return f"({local} - {offset}) AT TIME ZONE 'UTC'"


# --- one field -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Twin:
    """What a custom validator demands in SQL: a condition on the cell text `{c}` before the
    value is taken, a change of the value, a condition on the typed value `{v}` after.
    `shape`: the name of the check vouch.py runs instead of `before` (EMAIL, PHONE)."""

    before: str | None = None
    value: str | None = None
    after: str | None = None
    shape: str | None = None


_NOT_IN_FUTURE = Twin(after="{v} <= %(latest)s")
# By the name of the validator in customers/schemas.py.
VALIDATORS: dict[str, Twin] = {
    "_email": Twin(before=f"char_length({{c}}) <= {EMAIL_MAX} AND {{c}} ~ {text(EMAIL_PATTERN)}",
                   value='lower({c} COLLATE "C")', shape=EMAIL),
    "_phone": Twin(before=matches("{c}", _PHONE.pattern), shape=PHONE),
    "_birthday": Twin(after="{v} BETWEEN DATE '1900-01-01' AND %(today)s"),
    "_time_zone": Twin(before="{c} = ANY(%(time_zones)s)"),
    "_timestamps": _NOT_IN_FUTURE,
    "_placed_at": _NOT_IN_FUTURE,
    "_occurred_at": _NOT_IN_FUTURE,
}
MODEL_VALIDATORS: dict[str, str] = {
    # Fields as {name}; a field left out takes its default.
    "_refund_within_amount": "coalesce({refunded_amount}, 0) <= {amount}",
}


def _unwrapped(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """(type, constraints) of an annotation, without Optional and Annotated layers."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, type(int | None)) and type(None) in args:
        [annotation] = [arg for arg in args if arg is not type(None)]
        return _unwrapped(annotation, metadata)
    if typing.get_origin(annotation) is typing.Annotated:
        return _unwrapped(args[0], [*metadata, *args[1:]])
    return annotation, metadata


def _constraint(metadata: list[Any], name: str) -> Any:
    for item in metadata:
        value = getattr(item, name, None)
        if value is not None:
            return value
    return None


def _str_value(cell: str, metadata: list[Any]) -> str:
    conditions = ["true"]
    max_length, min_length = (_constraint(metadata, "max_length"),
                              _constraint(metadata, "min_length"))
    if max_length is not None:
        conditions.append(f"char_length({cell}) <= {max_length}")
    if min_length and min_length > 1:
        conditions.append(f"char_length({cell}) >= {min_length}")
    pattern = _constraint(metadata, "pattern")
    if pattern is not None:
        conditions.append(matches(cell, pattern))
    value = cell
    for case in ("upper", "lower"):
        if _constraint(metadata, f"to_{case}"):
            conditions.append(f"octet_length({cell}) = char_length({cell})")  # ASCII only
            value = f'{case}({cell} COLLATE "C")'
    return f"CASE WHEN {' AND '.join(conditions)} THEN {value} END"


def _decimal_value(cell: str, metadata: list[Any]) -> str:
    digits = _constraint(metadata, "max_digits")
    places = _constraint(metadata, "decimal_places")
    lower = _constraint(metadata, "ge")
    if digits is None or places is None or lower is None or lower < 0 \
            or _constraint(metadata, "allow_inf_nan") is not False:
        raise NoSqlTwin("a Decimal needs max_digits, decimal_places, ge >= 0 and "
                        "allow_inf_nan=False for its SQL twin")
    # Unbounded repetitions and lengths: PostgreSQL takes ~3x as long for {1,12}.
    point = f"strpos({cell}, '.')"
    shape = (f"{cell} ~ '^[0-9]+(\\.[0-9]+)?$' AND CASE WHEN {point} = 0 THEN "
             f"char_length({cell}) <= {digits - places} ELSE {point} <= {digits - places + 1} "
             f"AND char_length({cell}) - {point} <= {places} END")
    value = f"CASE WHEN {cell}::numeric >= {lower} THEN {cell}::numeric END" if lower \
        else f"{cell}::numeric"
    return f"CASE WHEN {shape} THEN {value} END"


def _datetime_value(cell: str, tz: Zone) -> str:
    # Once the pattern holds, a cell is aware when it ends in Z or an offset (a date alone,
    # 'YYYY-MM-DD', is naive: its dashes are no offset).
    aware = " OR ".join(f"{cell} LIKE {text(end)}" for end in ("%Z", "%+__:__", "%-__:__"))
    return (f"CASE WHEN {cell} ~ {text(DATETIME_PATTERN)} THEN CASE WHEN {_day_exists(cell)} "
            f"THEN CASE WHEN {aware} THEN {cell}::timestamptz "
            f"ELSE {_naive_to_utc(cell, tz)} END END END")


def _tags_value(cell: str, item_metadata: list[Any], max_items: int,
                flag: str | None = None) -> str:
    """`a|b|c`, each part already stripped and non-empty (else pydantic decides); `flag`:
    SQL for vouch.py's byte that says so, in place of the pattern (~1.4 us a cell)."""
    ends = "".join(chr(code) for code in WHITE_SPACE)
    part_max = _constraint(item_metadata, "max_length") or 10**6
    parts = f"{cell} !~ {text(f'(^|[|])[{ends}|]|[{ends}]([|]|$)|[|]$')}"
    conditions = [
        f"({flag} = {VOUCHED} OR {parts})" if flag else parts,
        # (a bounded repetition costs ~3 us: only for cells long enough to need it)
        f"(char_length({cell}) <= {part_max} OR {cell} !~ {text(f'[^|]{{{part_max + 1}}}')})",
        f"char_length({cell}) - char_length(replace({cell}, '|', '')) < {max_items}",
    ]
    return f"CASE WHEN {' AND '.join(conditions)} THEN to_jsonb(string_to_array({cell}, '|')) END"


def _literal_value(cell: str, choices: tuple[str, ...]) -> str:
    return f"CASE WHEN {cell} IN ({', '.join(text(c) for c in choices if c)}) THEN {cell} END"


def _bool_value(cell: str) -> str:
    words = [f"WHEN {text(w)} THEN true" for w in TRUE_WORDS] + \
        [f"WHEN {text(w)} THEN false" for w in FALSE_WORDS]
    return f'CASE lower({cell} COLLATE "C") {" ".join(words)} END'


# --- JSON cells ----------------------------------------------------------------------------

@functools.cache
def json_fields(model: type[BaseModel]) -> dict[str, Callable[[str], str | None]]:
    """For each JSON field (dicts, lists of models): text of the cell -> the JSON to store,
    or None when pydantic rejects it (the row then goes to the model, which says why).

    JSON is checked by pydantic itself, cell by distinct cell: PostgreSQL 15 cannot read
    JSON without raising on bad input, and taking it apart in SQL cost ~30 us an order's
    items against ~5 us in pydantic-core."""
    out = {}
    validators = model.__pydantic_decorators__.field_validators
    for name, info in model.model_fields.items():
        kind, _metadata = _unwrapped(info.annotation, info.metadata)
        if typing.get_origin(kind) is dict or _is_model_list(kind):
            after = [AfterValidator(_plain(model, vname, v.func)) for vname, v in validators.items()
                     if name in v.info.fields]
            adapter = TypeAdapter(Annotated[info.annotation, *info.metadata, *after])
            out[name] = functools.partial(_json_cell, adapter)
    return out


def _plain(model: type[BaseModel], name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    if len(inspect.signature(func).parameters) != 1:
        raise NoSqlTwin(f"{model.__name__}.{name} on a JSON field must take the value only")
    return func


def _json_cell(adapter: TypeAdapter, text: str) -> str | None:
    try:
        # NUL (NulInJson): jsonb cannot hold it; the row's own check rejects it, by line
        value = adapter.validate_python(read_json(text))
    except ValueError:  # pydantic's ValidationError is one
        return None
    return to_json(value).decode()


def _is_model_list(kind: Any) -> bool:
    args = typing.get_args(kind)
    return (typing.get_origin(kind) is list and isinstance(args[0], type)
            and issubclass(args[0], BaseModel))


# --- a whole model -------------------------------------------------------------------------

def _fill(template: str, **names: str) -> str:
    """`template` with each {name} replaced (str.format would trip over regex braces)."""
    for name, value in names.items():
        template = template.replace("{" + name + "}", value)
    return template


def _is_tags(info: FieldInfo) -> bool:
    kind, _metadata = _unwrapped(info.annotation, info.metadata)
    args = typing.get_args(kind)
    return typing.get_origin(kind) is list and _unwrapped(args[0], [])[0] is str


def _field_value(cell: str, info: FieldInfo, tz: Zone,
                 flag: str | None = None) -> tuple[str, str]:
    """(staged SQL type, value expression) of one field; `flag`: vouch.py's byte for a list
    of tags."""
    kind, metadata = _unwrapped(info.annotation, info.metadata)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is str:
        return "text", _str_value(cell, metadata)
    if origin is typing.Literal:
        return "text", _literal_value(cell, args)
    if kind is bool:
        return "boolean", _bool_value(cell)
    if kind is Decimal:
        return "numeric", _decimal_value(cell, metadata)
    if kind is dt.datetime:
        return "timestamptz", _datetime_value(cell, tz)
    if kind is dt.date:
        return "date", (f"CASE WHEN {cell} ~ {text(DATE_PATTERN)} THEN CASE WHEN "
                        f"{_day_exists(cell)} THEN {cell}::date END END")
    if origin is dict or _is_model_list(kind):
        return "jsonb", JSON_VALUE  # pydantic's verdict, joined in by the caller
    max_items = _constraint(metadata, "max_length") or 10**6
    if _is_tags(info):
        return "jsonb", _tags_value(cell, _unwrapped(args[0], [])[1], max_items, flag)
    raise NoSqlTwin(f"no SQL twin for fields of type {kind}")


def _validator_twins(model: type[BaseModel]) -> dict[str, list[Twin]]:
    twins: dict[str, list[Twin]] = {}
    json = json_fields(model)
    for name, decorator in model.__pydantic_decorators__.field_validators.items():
        if set(decorator.info.fields) <= set(json):
            continue  # run by pydantic with the JSON cell
        if name not in VALIDATORS:
            raise NoSqlTwin(f"{model.__name__}.{name} has no SQL twin in "
                            "customers/services/csv_import/checks.py")
        for field in decorator.info.fields:
            twins.setdefault(field, []).append(VALIDATORS[name])
    for name in model.__pydantic_decorators__.model_validators:
        if name not in MODEL_VALIDATORS:
            raise NoSqlTwin(f"{model.__name__}.{name} has no SQL twin in "
                            "customers/services/csv_import/checks.py")
    return twins


@dataclass(frozen=True)
class Column:
    """One model field in SQL: its staged type and the value of its cell (NULL when the cell
    is empty or SQL cannot vouch for it); `after`: conditions on that value, as {v}; `text`:
    the value is the cell's text, which must not start or end with white space; `shape`:
    the check vouch.py runs in place of a pattern (its validator's twin's, or a list of
    tags')."""

    name: str
    sql_type: str
    value: str
    after: tuple[str, ...] = ()
    required: bool = False
    text: bool = False
    shape: str | None = None


def _vouched_value(sql_type: str, cell: str, value: str, flag: str, tz: Zone) -> str:
    """`value`, unless `flag` (SQL: the cell's byte from vouch.py) says the cell has the
    shape the pattern demands: then the same conversion without the pattern."""
    if sql_type == "date":
        return f"CASE WHEN {flag} = {VOUCHED} THEN {cell}::date ELSE {value} END"
    if sql_type == "timestamptz":
        return (f"CASE {flag} WHEN {AWARE} THEN {cell}::timestamptz "
                f"WHEN {NAIVE} THEN {_naive_to_utc(cell, tz)} ELSE {value} END")
    return value


def columns(model: type[BaseModel], tz: Zone, cell: str = "{name}",
            flags: dict[str, str] | None = None) -> list[Column]:
    """The model's fields in SQL, in declaration order; `cell` is a field's text, {name}
    standing for the field's name; `flags`: SQL for the byte vouch.py gives a column's cell
    (a date or time, or a shape of a validator's twin), by field name."""
    twins = _validator_twins(model)
    out = []
    for name, info in model.model_fields.items():
        c = _fill(cell, name=name)
        flag = (flags or {}).get(name)
        sql_type, value = _field_value(c, info, tz, flag)
        if flag:
            value = _vouched_value(sql_type, c, value, flag, tz)
        for twin in twins.get(name, []):
            if twin.before:
                before = _fill(twin.before, c=c)
                if twin.shape and flag:
                    before = f"({flag} = {VOUCHED} OR {before})"
                value = f"CASE WHEN {before} THEN {value} END"
            if twin.value:
                value = f"CASE WHEN ({value}) IS NOT NULL THEN {_fill(twin.value, c=c)} END"
        after = tuple(twin.after for twin in twins.get(name, []) if twin.after)
        is_text = _unwrapped(info.annotation, info.metadata)[0] is str
        shape = TAGS if _is_tags(info) else next(
            (twin.shape for twin in twins.get(name, []) if twin.shape), None)
        out.append(Column(name, sql_type, value, after, info.is_required(), is_text, shape))
    return out


def accepted(model: type[BaseModel], cols: list[Column], *, cell: str, value: str,
             required: frozenset[str] = frozenset(), ends_flag: str | None = None) -> str:
    """SQL, true when SQL vouches for the whole row: every non-empty cell has a value (as
    many NULL values as empty cells), the required ones (and `required`) are there, no text
    cell needs stripping, the validators' twins hold. `cell` and `value` refer to a field's
    text and value, {name} standing for its name; `ends_flag`: SQL for the row's byte from
    vouch.py that says no text cell needs stripping."""
    cells = [_fill(cell, name=c.name) for c in cols]
    values = {c.name: _fill(value, name=c.name) for c in cols}
    must = [values[c.name] for c in cols if c.required or c.name in required]
    ends = _white_space_free_ends([_fill(cell, name=c.name) for c in cols if c.text])
    conditions = [
        f"num_nulls({', '.join(values.values())}) = num_nulls({', '.join(cells)})",
        f"num_nonnulls({', '.join(must)}) = {len(must)}" if must else "true",
        f"({ends_flag} = {VOUCHED} OR {ends})" if ends_flag else ends,
    ]
    for column in cols:
        conditions.extend(f"coalesce({_fill(after, v=values[column.name])}, true)"
                          for after in column.after)
    for name in model.__pydantic_decorators__.model_validators:
        conditions.append(f"coalesce({_fill(MODEL_VALIDATORS[name], **values)}, true)")
    return "coalesce(" + " AND ".join(conditions) + ", false)"


def params(tz: Zone, now: dt.datetime) -> dict[str, Any]:
    """The values the expressions refer to, as of `now` (taken before pydantic validates, so
    that its "in the future" bound is never earlier than the SQL's)."""
    return {"latest": now + MAX_FUTURE, "today": now.date(),
            "time_zones": sorted(_time_zones()), **tz.params()}
