"""What other apps add to the operator pages of the customers app: dashboard figures, sections
and timeline entries of a customer's page, and links into their own pages.

customers imports no app built on it (shared/ARCHITECTURE.md), so segments and campaigns
register here, in their AppConfig.ready(), what they contribute; the dashboard precompute, the
customer page and the dashboard's links read these registries and nothing else of theirs.

    register_figure(FigureSource("top_campaigns", compute=...))
    register_section(CustomerSection("journeys", title=_("Journeys"), template=..., context=...))
    register_timeline(TimelineSource("message", rank=2, rows=..., at="sent_at", entry=...))
    register_link("rfm_class", lambda values: {value: url, ...})
    register_data(CustomerData("messages", rows=...))
"""

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Model, Q, QuerySet
from django.utils.functional import Promise

from customers.models import Customer

# --- dashboard figures -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FigureRow:
    """One DashboardFigure to write: key, dimension, period, value (JSON-ready)."""

    key: str
    value: Any
    dimension: str = ""
    period: str = ""


@dataclasses.dataclass(frozen=True)
class FigureSource:
    key: str  # every row it returns carries this key; never renamed
    compute: Callable[[dt.datetime], list[FigureRow]]  # (now) -> rows, set-based


FIGURES: dict[str, FigureSource] = {}


def register_figure(source: FigureSource) -> None:
    FIGURES[source.key] = source  # by key: registering again replaces, never doubles


# --- the customer page -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CustomerSection:
    """A block of the customer page: `template` rendered with `context(customer)`, which
    must be a few indexed, limited queries."""

    key: str
    title: str | Promise
    template: str
    context: Callable[[Customer], dict]
    order: int = 100


SECTIONS: dict[str, CustomerSection] = {}


def register_section(section: CustomerSection) -> None:
    SECTIONS[section.key] = section


def sections() -> list[CustomerSection]:
    return sorted(SECTIONS.values(), key=lambda section: (section.order, section.key))


@dataclasses.dataclass(frozen=True)
class TimelineSource:
    """A kind of timeline entry: `rows(customer)` is a queryset of that customer's records,
    `at` the datetime field they sort by (indexed with the customer), `entry(row)` the dict the
    template shows: title, detail, and optionally amount and status."""

    kind: str  # "order", "event", "message", "redemption"
    rank: int  # at the same instant, a higher rank comes first
    rows: Callable[[Customer], QuerySet]
    at: str
    entry: Callable[[Model], dict]


TIMELINE: dict[str, TimelineSource] = {}


def register_timeline(source: TimelineSource) -> None:
    TIMELINE[source.kind] = source


# --- a customer's personal data, as exported on request ----------------------------------------


@dataclasses.dataclass(frozen=True)
class CustomerData:
    """One kind of record that an app keeps about a customer, for the export of everything
    held about them (customers.services.personal_data): `rows(customer)` lists every one of
    them, JSON-ready (datetimes and decimals are encoded by the export)."""

    key: str  # the export's key for the list; never renamed
    rows: Callable[[Customer], Iterable[dict]]


DATA: dict[str, CustomerData] = {}


def register_data(data: CustomerData) -> None:
    DATA[data.key] = data


@dataclasses.dataclass(frozen=True, order=True)
class Cursor:
    """Where a timeline page ends, in the timeline's order (newest first): the last entry's
    time, its kind's rank and its id. Entries after it are strictly older in that order."""

    at: dt.datetime
    rank: int
    pk: int

    def encode(self) -> str:
        return f"{self.at.isoformat()}~{self.rank}~{self.pk}"

    @classmethod
    def decode(cls, raw: str) -> "Cursor":
        """Raises ValueError for anything that is not a cursor this page wrote."""
        at, rank, pk = raw.split("~")
        moment = dt.datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("a cursor's time carries its offset")
        return cls(moment, int(rank), int(pk))


def _after(source: TimelineSource, cursor: Cursor) -> Q:
    """Rows of `source` that come after `cursor` in (at, rank, id) descending order."""
    older = Q(**{f"{source.at}__lt": cursor.at})
    if source.rank < cursor.rank:
        return older | Q(**{source.at: cursor.at})
    if source.rank == cursor.rank:
        return older | Q(**{source.at: cursor.at, "pk__lt": cursor.pk})
    return older


def timeline_page(*, customer: Customer, limit: int = 25, after: Cursor | None = None
                  ) -> tuple[list[dict], Cursor | None]:
    """The customer's entries of every registered kind, newest first, `limit` of them after
    `after`; and the cursor of the next page (None on the last). Each kind reads at most
    limit + 1 rows through its (customer, time) index, so a page costs the same on the first
    page and the thousandth."""
    merged = []
    for source in TIMELINE.values():
        rows = source.rows(customer)
        if after is not None:
            rows = rows.filter(_after(source, after))
        for row in rows.order_by(f"-{source.at}", "-pk")[: limit + 1]:
            at = getattr(row, source.at)
            merged.append((Cursor(at, source.rank, row.pk),
                           {"kind": source.kind, "at": at, "amount": None, "status": None,
                            **source.entry(row)}))
    merged.sort(key=lambda pair: pair[0], reverse=True)
    page = merged[:limit]
    more = len(merged) > limit
    return [entry for _cursor, entry in page], (page[-1][0] if more and page else None)


# --- links into other apps' pages ------------------------------------------------------------

# name -> (values) -> {value: url}; e.g. "rfm_class" -> the segment of each RFM class.
LINKS: dict[str, Callable[[Iterable[str]], dict[str, str]]] = {}


def register_link(name: str, resolve: Callable[[Iterable[str]], dict[str, str]]) -> None:
    LINKS[name] = resolve


def links(name: str, values: Iterable[str]) -> dict[str, str]:
    """URLs for `values` from the app that registered `name`; {} when none did."""
    resolve = LINKS.get(name)
    return resolve(list(values)) if resolve else {}


# --- the customers app's own timeline entries --------------------------------------------------


def register_own() -> None:
    """Orders and events: registered like anyone else's so one merge serves every kind."""
    from customers import selectors

    register_timeline(TimelineSource(
        "order", rank=4, rows=lambda customer: customer.orders.select_related("storefront"),
        at="placed_at", entry=selectors._order_entry))
    register_timeline(TimelineSource(
        "event", rank=3, rows=lambda customer: customer.events.select_related("storefront"),
        at="occurred_at", entry=selectors._event_entry))
