"""What a rule is compiled against: the moment, the shop's time zone, and per-compile caches."""

import dataclasses
import datetime
import zoneinfo

from django.conf import settings
from django.utils import timezone


@dataclasses.dataclass
class Context:
    now: datetime.datetime
    # Customers with no (or an unknown) time zone live in this one.
    default_zone: zoneinfo.ZoneInfo
    # Values computed once per compile (percentile thresholds, ...), keyed by the asker.
    cache: dict = dataclasses.field(default_factory=dict)
    # Set for a customer-scoped evaluation: subqueries over orders and events are limited to
    # these customers, so one customer's update does not aggregate the whole table.
    scope: tuple[int, ...] | None = None

    @classmethod
    def at(cls, now: datetime.datetime | None = None, *,
           scope: tuple[int, ...] | None = None) -> "Context":
        now = now or timezone.now()
        if timezone.is_naive(now):
            raise ValueError("Context.at needs an aware datetime")
        return cls(now=now, default_zone=zoneinfo.ZoneInfo(settings.TIME_ZONE), scope=scope)

    def scoped(self, queryset, column: str = "customer_id"):
        """`queryset` limited to the scope's customers (all of them when unscoped)."""
        if self.scope is None:
            return queryset
        return queryset.filter(**{f"{column}__in": self.scope})
