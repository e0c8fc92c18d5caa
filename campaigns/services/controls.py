"""Delivery controls: the one place every send passes through.

`screen()` is a pure function: given a batch of candidate messages and what it needs to know
about their customers (consent, addresses, time zones), their recent messages, the suppressed
addresses and the rules, it decides for each candidate: send, skip (with a reason) or defer
(quiet hours: to the end of the window, never dropped). It reads nothing and writes nothing,
so the dispatcher and a dry run decide alike:

    inputs = screen_inputs(candidates, now=now)          # a few queries, whatever the size
    decisions = screen(candidates, inputs=inputs, now=now)

The checks, in order (a test send passes them all):
    no_consent     the channel needs consent (email, SMS) and the customer has not given it
    no_address     no email address / phone number (or webhook URL)
    suppressed     the address is suppressed on the channel (unsubscribed, bounced)
    quiet hours    in the channel's quiet hours in the customer's time zone: deferred
    priority       a campaign of higher priority has a message for the customer due or sent
                   the same day (in the customer's time zone)
    frequency_cap  the customer already had cap_messages messages in cap_days (sent or being
                   sent, across campaigns and channels; a per-channel cap on top); messages
                   of the same batch count against each other
Webhooks carry no message to the customer: they need no consent and neither count against
caps nor take part in priority.
"""

import dataclasses
import datetime
import zoneinfo
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from django.db import connection

from campaigns.channels import CHANNELS
from campaigns.flows.lookups import local_moment, zone
from campaigns.models import Campaign, Delivery, DeliverySettings, Suppression
from campaigns.services.bulk import filter_one_of, one_of
from customers.models import Customer

SEND, SKIP, DEFER = "send", "skip", "defer"


class Reason:
    """Why a delivery was not sent (Delivery.reason)."""

    NO_CONSENT = "no_consent"
    NO_ADDRESS = "no_address"
    SUPPRESSED = "suppressed"
    FREQUENCY_CAP = "frequency_cap"
    PRIORITY = "priority"
    QUIET_HOURS = "quiet_hours"  # on a deferred delivery, until it is sent
    RENDER_ERROR = "render_error"
    SEND_ERROR = "send_error"
    WEBHOOK_INACTIVE = "webhook_inactive"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    ERASED = "erased"  # the customer's personal data was erased before it went out


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    """A message that wants to go out. `key` is the caller's (the dispatcher's delivery id).
    `address`: a test send's or a webhook's address; otherwise the customer's is used."""

    key: Any
    customer_id: int | None
    channel: str
    campaign_id: int | None = None
    priority: int = 0
    test: bool = False
    address: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Recipient:
    id: int
    email: str
    phone: str
    email_consent: bool
    sms_consent: bool
    time_zone: str

    RECIPIENT_FIELDS = ("id", "email", "phone", "email_consent", "sms_consent", "time_zone")

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> "Recipient":
        return cls(*(row[name] for name in cls.RECIPIENT_FIELDS))

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zone(self.time_zone)


@dataclasses.dataclass(frozen=True, slots=True)
class Touch:
    """A message of a customer that counts: sent or being sent (caps), or also queued
    (priority). `at`: when it was sent, or when it is due."""

    customer_id: int
    channel: str
    campaign_id: int | None
    priority: int
    at: datetime.datetime
    status: str


@dataclasses.dataclass(frozen=True, slots=True)
class Rules:
    cap_messages: int = 0  # 0: no cap
    cap_days: int = 7
    channel_caps: Mapping[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    quiet_start: datetime.time | None = None
    quiet_end: datetime.time | None = None
    quiet_channels: frozenset[str] = frozenset()

    @classmethod
    def of(cls, settings: DeliverySettings) -> "Rules":
        caps = {channel: (int(cap[0]), int(cap[1]))
                for channel, cap in (settings.channel_caps or {}).items()
                if isinstance(cap, list | tuple) and len(cap) == 2}
        return cls(settings.cap_messages, settings.cap_days, caps, settings.quiet_start,
                   settings.quiet_end, frozenset(settings.quiet_channels or ()))

    def lookback(self) -> datetime.timedelta:
        """How far back the history must reach (caps, and a day for priority)."""
        days = [1, self.cap_days if self.cap_messages else 0,
                *(d for n, d in self.channel_caps.values() if n)]
        return datetime.timedelta(days=max(days))


@dataclasses.dataclass(frozen=True, slots=True)
class ScreenInputs:
    recipients: Mapping[int, Recipient]
    touches: Sequence[Touch]
    suppressed: Collection[tuple[str, str]]  # (channel, address)
    rules: Rules


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    key: Any
    action: str  # SEND, SKIP or DEFER
    reason: str = ""
    address: str = ""
    due_at: datetime.datetime | None = None  # DEFER: when to look again


# --- the screen (pure) -----------------------------------------------------------------------

def quiet_until(rules: Rules, channel: str, tz: zoneinfo.ZoneInfo,
                now: datetime.datetime) -> datetime.datetime | None:
    """The end of the quiet window `now` falls in (local time in `tz`), or None when it is
    not quiet. A window may wrap midnight (21:00-09:00)."""
    start, end = rules.quiet_start, rules.quiet_end
    if channel not in rules.quiet_channels or start is None or end is None or start == end:
        return None
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        quiet = start <= clock < end
        day = local.date()
    else:  # wraps midnight: the evening part ends tomorrow
        quiet = clock >= start or clock < end
        day = local.date() + datetime.timedelta(days=1) if clock >= start else local.date()
    return local_moment(day, end, tz) if quiet else None


def address_of(candidate: Candidate, recipient: Recipient | None) -> str:
    field = CHANNELS[candidate.channel].address
    if candidate.address or not field or recipient is None:
        return candidate.address
    address = getattr(recipient, field) or ""
    return address.lower() if field == "email" else address


class _Ledger:
    """The touches counted so far, growing as the batch's own messages are let through."""

    def __init__(self, touches: Iterable[Touch]):
        self.by_customer: dict[int, list[Touch]] = defaultdict(list)
        for touch in touches:
            self.by_customer[touch.customer_id].append(touch)

    def outranked(self, candidate: Candidate, tz: zoneinfo.ZoneInfo,
                  now: datetime.datetime) -> bool:
        touches = self.by_customer.get(candidate.customer_id)
        if not touches:  # most customers: no local date to work out
            return False
        today = now.astimezone(tz).date()
        return any(t.campaign_id is not None and t.campaign_id != candidate.campaign_id
                   and t.priority > candidate.priority and t.at.astimezone(tz).date() == today
                   for t in touches)

    def capped(self, candidate: Candidate, rules: Rules, now: datetime.datetime) -> bool:
        touches = self.by_customer.get(candidate.customer_id)
        if not touches:
            return False
        caps = [(rules.cap_messages, rules.cap_days, None)]
        if candidate.channel in rules.channel_caps:
            caps.append((*rules.channel_caps[candidate.channel], candidate.channel))
        for limit, days, channel in caps:
            if not limit:
                continue
            since = now - datetime.timedelta(days=days)
            count = sum(1 for t in touches if t.status != Delivery.Status.QUEUED
                        and t.at >= since and (channel is None or t.channel == channel))
            if count >= limit:
                return True
        return False

    def add(self, candidate: Candidate, at: datetime.datetime, status: str) -> None:
        self.by_customer[candidate.customer_id].append(Touch(
            candidate.customer_id, candidate.channel, candidate.campaign_id,
            candidate.priority, at, status))


def _decide(candidate: Candidate, inputs: ScreenInputs, ledger: _Ledger,
            now: datetime.datetime) -> Decision:
    channel = CHANNELS[candidate.channel]
    recipient = inputs.recipients.get(candidate.customer_id)
    address = address_of(candidate, recipient)
    if candidate.test:
        return Decision(candidate.key, SEND, address=address)
    if recipient is None or (channel.consent and not getattr(recipient, channel.consent)):
        return Decision(candidate.key, SKIP, Reason.NO_CONSENT, address)
    if (channel.address or channel.json) and not address:
        return Decision(candidate.key, SKIP, Reason.NO_ADDRESS)
    if channel.address and (channel.key, address) in inputs.suppressed:
        return Decision(candidate.key, SKIP, Reason.SUPPRESSED, address)
    tz = recipient.zone
    until = quiet_until(inputs.rules, channel.key, tz, now)
    if channel.capped and candidate.campaign_id is not None and ledger.outranked(
            candidate, tz, until or now):
        return Decision(candidate.key, SKIP, Reason.PRIORITY, address)
    if until is not None:
        if channel.capped:
            ledger.add(candidate, until, Delivery.Status.QUEUED)
        return Decision(candidate.key, DEFER, Reason.QUIET_HOURS, address, until)
    if channel.capped and ledger.capped(candidate, inputs.rules, now):
        return Decision(candidate.key, SKIP, Reason.FREQUENCY_CAP, address)
    if channel.capped:
        ledger.add(candidate, now, Delivery.Status.SENDING)
    return Decision(candidate.key, SEND, address=address)


def screen(candidates: Sequence[Candidate], *, inputs: ScreenInputs,
           now: datetime.datetime) -> list[Decision]:
    """A decision per candidate, in the candidates' order. A customer's candidates are
    weighed highest priority first, then in the order given (the dispatcher's: due first)."""
    ledger = _Ledger(inputs.touches)
    order = sorted(range(len(candidates)),
                   key=lambda i: (candidates[i].customer_id or 0, -candidates[i].priority, i))
    decisions: list[Decision | None] = [None] * len(candidates)
    for index in order:
        decisions[index] = _decide(candidates[index], inputs, ledger, now)
    return decisions  # type: ignore[return-value]


# --- what the screen needs, read from the database -------------------------------------------

def rules_load() -> Rules:
    return Rules.of(DeliverySettings.load())


def recipients_load(customer_ids: Iterable[int]) -> dict[int, Recipient]:
    rows = filter_one_of(Customer.objects, "id", set(customer_ids)).values(
        *Recipient.RECIPIENT_FIELDS)
    return {row["id"]: Recipient.of(row) for row in rows}


DELIVERIES = Delivery._meta.db_table
CAMPAIGNS = Campaign._meta.db_table


def touches_load(customer_ids: Iterable[int], *, rules: Rules, now: datetime.datetime,
                 exclude: Iterable[int] = ()) -> list[Touch]:
    """The customers' messages that count for caps and priority: sent or being sent within
    the look-back, or queued for the next day; never test sends or webhooks. `exclude`: the
    deliveries being screened themselves (left out by the query: a dispatcher's batch would
    otherwise read back all of its own rows)."""
    customer_ids = set(customer_ids)
    if not customer_ids:
        return []
    capped = [key for key, channel in CHANNELS.items() if channel.capped]
    customers, ids = one_of("d.customer_id", customer_ids)
    channels, names = one_of("d.channel", capped)
    excluded, skip = one_of("d.id", set(exclude))
    at = "COALESCE(d.sent_at, d.due_at)"
    field = Delivery._meta.get_field("due_at")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT d.customer_id, d.channel, d.campaign_id, c.priority, {at}, d.status "
            f"FROM {DELIVERIES} d LEFT JOIN {CAMPAIGNS} c ON c.id = d.campaign_id "
            f"WHERE {customers} AND NOT d.test AND {channels} AND NOT ({excluded}) "
            f"AND d.status IN ('sent', 'sending', 'queued') AND {at} >= %s AND {at} < %s",
            [ids, names, skip, *(field.get_db_prep_value(moment, connection) for moment in
                                 (now - rules.lookback(), now + datetime.timedelta(days=2)))])
        rows = cursor.fetchall()
    return [Touch(customer, channel, campaign, priority or 0, _aware(moment), status)
            for customer, channel, campaign, priority, moment, status in rows]


def _aware(moment: Any) -> datetime.datetime:
    """A timestamp as the database driver returns it (SQLite: naive UTC text)."""
    if isinstance(moment, str):
        moment = datetime.datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def suppressed_load(pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    by_channel: dict[str, set[str]] = defaultdict(set)
    for channel, address in pairs:
        if address:
            by_channel[channel].add(address)
    found: set[tuple[str, str]] = set()
    with connection.cursor() as cursor:
        for channel, addresses in by_channel.items():
            match, param = one_of("address", addresses)
            cursor.execute(f"SELECT channel, address FROM {Suppression._meta.db_table} "
                           f"WHERE channel = %s AND {match}", [channel, param])
            found.update(cursor.fetchall())
    return found


def screen_inputs(candidates: Sequence[Candidate], *, now: datetime.datetime,
                  recipients: Mapping[int, Recipient] | None = None,
                  rules: Rules | None = None, exclude: Iterable[int] = ()) -> ScreenInputs:
    """Everything screen() needs for these candidates, in four queries at most (recipients
    may be passed in when the caller has them). Reads only."""
    customer_ids = {c.customer_id for c in candidates if c.customer_id is not None}
    recipients = recipients if recipients is not None else recipients_load(customer_ids)
    rules = rules or rules_load()
    pairs = [(c.channel, address_of(c, recipients.get(c.customer_id)))
             for c in candidates if not c.test and CHANNELS[c.channel].address]
    return ScreenInputs(recipients, touches_load(customer_ids, rules=rules, now=now,
                                                 exclude=exclude),
                        suppressed_load(pairs), rules)


def candidates_screen(candidates: Sequence[Candidate], *,
                      now: datetime.datetime) -> list[Decision]:
    """Screen messages that are not (yet) deliveries, e.g. a dry run: reads, never writes."""
    return screen(candidates, inputs=screen_inputs(candidates, now=now), now=now)
