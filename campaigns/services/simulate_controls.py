"""Delivery checks for the dry run: which customers a message would be skipped for, and why.

A STAND-IN. The shared delivery controls (campaigns/services/controls.py: consent, address,
suppression, frequency caps, priority, quiet hours) are being written at the same time; the
lead will switch the dry run to them (see would_skip's docstring for what it needs from them).
"""

import collections
import datetime

from campaigns.models import Channel, Delivery, DeliverySettings, Suppression
from campaigns.services import reportsql as q
from customers.models import Customer

CUSTOMER = Customer._meta.db_table
DELIVERY = Delivery._meta.db_table
SUPPRESSION = Suppression._meta.db_table
# (address column, consent column) per channel; a channel not here needs neither.
ADDRESSED = {Channel.EMAIL: ("email", "email_consent"), Channel.SMS: ("phone", "sms_consent")}
# Messages to the customer, counted by and subject to the frequency caps.
CAPPED = frozenset({Channel.EMAIL, Channel.SMS, Channel.INBOX})


def would_skip(channel: str, customer_ids: set[int], *, now: datetime.datetime,
               simulated: dict[str, collections.Counter]) -> dict[int, str]:
    """Customer id -> why a message on `channel` would be skipped now, for those it would be:
    no_address, no_consent, suppressed, frequency_cap (the first that applies, in that
    order). `simulated` holds the messages the dry run already counted as sent, per channel
    and customer: they count towards the caps like sent ones.

    Stand-in for the shared controls: the lead switches this to campaigns/services/controls.py
    once it is merged. What the dry run needs from it is one set-based call of this shape,
    writing nothing: (channel, customer ids, now, extra sends per channel and customer) ->
    {customer id: reason}, for a whole set of customers in a few queries. Quiet hours only
    delay a message, and priority between campaigns depends on the day's other sends, so
    neither is a reason here.
    """
    if not customer_ids:
        return {}
    reasons = _profile_blocks(channel, customer_ids)
    if channel in CAPPED:
        reasons |= _capped(channel, customer_ids - set(reasons), now, simulated)
    return reasons


def _profile_blocks(channel: str, customer_ids: set[int]) -> dict[int, str]:
    """No address, no consent, or the address suppressed: one query."""
    if channel not in ADDRESSED:
        return {}
    address, consent = ADDRESSED[channel]
    stored = f"lower(c.{address})" if channel == Channel.EMAIL else f"c.{address}"
    sql = f"""
        SELECT id, reason FROM (
            SELECT c.id,
                   CASE WHEN c.{address} = '' THEN 'no_address'
                        WHEN NOT c.{consent} THEN 'no_consent'
                        WHEN EXISTS (SELECT 1 FROM {SUPPRESSION} s WHERE s.channel = %(channel)s
                                     AND s.address = {stored}) THEN 'suppressed'
                   END AS reason
            FROM {CUSTOMER} c WHERE {q.in_ids('c.id', 'ids')}
        ) checked WHERE reason IS NOT NULL"""
    return dict(q.rows(sql, {"channel": str(channel), "ids": q.ids_param(customer_ids)}))


def _settings() -> DeliverySettings:
    # Not DeliverySettings.load(): it creates the row, and a dry run writes nothing.
    return DeliverySettings.objects.filter(pk=1).first() or DeliverySettings()


def _capped(channel: str, customer_ids: set[int], now: datetime.datetime,
            simulated: dict[str, collections.Counter]) -> dict[int, str]:
    """Over the overall cap (messages in cap_days) or the channel's own ([count, days])."""
    settings = _settings()
    limits = []  # (limit, since, channels counted)
    if settings.cap_messages:
        limits.append((settings.cap_messages, now - datetime.timedelta(days=settings.cap_days),
                       {str(name) for name in CAPPED}))
    own = (settings.channel_caps or {}).get(channel)
    if own:
        limits.append((int(own[0]), now - datetime.timedelta(days=int(own[1])), {channel}))
    if not limits or not customer_ids:
        return {}
    counts = _recent_sends(customer_ids, limits, now)
    # Only a customer with a message already (sent, or counted earlier in this dry run) can
    # be over a cap; everyone else is left out of the Python loop.
    counters = [[simulated[name] for name in channels if name in simulated]
                for _limit, _since, channels in limits]
    candidates = {customer_id for customer_id, _index in counts}
    for channel_counters in counters:
        for counter in channel_counters:
            candidates.update(counter.keys() & customer_ids)
    capped: dict[int, str] = {}
    for customer_id in candidates:
        for index, (limit, _since, _channels) in enumerate(limits):
            already = counts.get((customer_id, index), 0) + sum(
                counter[customer_id] for counter in counters[index])
            if already >= limit:
                capped[customer_id] = "frequency_cap"
                break
    return capped


def _recent_sends(customer_ids: set[int], limits: list, now: datetime.datetime
                  ) -> dict[tuple[int, int], int]:
    """(customer id, limit index) -> messages sent within that limit's window: one query."""
    columns, params = [], {"ids": q.ids_param(customer_ids), "sent": Delivery.Status.SENT,
                           "test": False, "now": q.time_param(now)}
    for index, (_limit, since, channels) in enumerate(limits):
        params[f"since{index}"] = q.time_param(since)
        params[f"channels{index}"] = q.ids_param(str(name) for name in channels)
        columns.append(f"SUM(CASE WHEN {q.moment('d.sent_at')} >= %(since{index})s AND "
                       f"{q.in_ids('d.channel', f'channels{index}')} THEN 1 ELSE 0 END)")
    params["earliest"] = q.time_param(min(since for _limit, since, _channels in limits))
    sql = f"""
        SELECT d.customer_id, {', '.join(columns)}
        FROM {DELIVERY} d
        WHERE {q.in_ids('d.customer_id', 'ids')} AND d.status = %(sent)s AND d.test = %(test)s
          AND d.sent_at IS NOT NULL AND {q.moment('d.sent_at')} >= %(earliest)s
          AND {q.moment('d.sent_at')} <= %(now)s
        GROUP BY d.customer_id"""
    counts: dict[tuple[int, int], int] = {}
    for customer_id, *numbers in q.rows(sql, params):
        for index, number in enumerate(numbers):
            if number:
                counts[(customer_id, index)] = int(number)
    return counts
