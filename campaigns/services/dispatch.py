"""The dispatcher: claim a batch of due deliveries, screen them through the delivery controls,
render and send them per channel, and record what became of each.

Most messages never wait for it: the runner claims the deliveries its batch queues as it
writes them and sends them itself once its batch has committed (Outbox, below), with the
same screen, the same lease and the same recording. The dispatcher sends the rest: messages
deferred by quiet hours, retries, those taken back after a lease ran out, those whose
customer another transaction held, and test sends.

    1. One transaction: claim up to BATCH queued, due deliveries (SELECT ... FOR UPDATE SKIP
       LOCKED on PostgreSQL, in due order; not those of paused or archived campaigns), take an
       advisory lock per customer (sorted) so two dispatchers never both pass a customer's
       cap, screen them (campaigns/services/controls.py), and mark them: 'sending' with a
       lease and one more attempt, 'skipped' with the reason, or deferred (still queued, due
       at the end of the quiet hours). Commit.
    2. Render and send, per channel as one batch through one connection.
    3. Record: 'sent' with what was sent (address, subject, body as rendered), 'failed' with
       the reason and error, or queued again for a later attempt (exponential backoff).

Exactly once: a delivery is sent only by the dispatcher whose claim marked it 'sending'; a
task run twice finds nothing left to claim. A dispatcher killed mid-batch leaves its
deliveries 'sending' until their lease runs out; the sweep then queues them again
(deliveries_reclaim) and they are sent carrying the same delivery id, which every provider
call passes as its idempotency key. A batch stops trying new messages at half its lease, so
a slow provider can never make a lease run out under a live dispatcher.

All writes are set-based: one UPDATE for the claim and one for the results, whatever the
batch size; a batch reads customers, coupons, templates and the controls' inputs with one
query each.
"""

import dataclasses
import datetime
import json
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation

from campaigns.channels import CHANNELS, Outgoing, Result
from campaigns.models import Campaign, Delivery, MessageTemplate, WebhookEndpoint
from campaigns.services import controls, rendering
from campaigns.services.bulk import as_json, rows_update
from campaigns.services.controls import DEFER, SEND, Candidate, Decision, Reason
from campaigns.services.erasure import FORGOTTEN
from campaigns.services.unsubscribe import PREVIEW_LINK, unsubscribe_prefix, unsubscribe_url
from customers.models import Erasure

BATCH = 1000  # deliveries per claim, i.e. per Celery task
LEASE = datetime.timedelta(minutes=5)  # how long a claim holds its deliveries
SEND_WINDOW = LEASE.total_seconds() / 2  # stop trying new messages after this
LOCK_NAMESPACE = 0x5245  # first key of the per-customer advisory locks ("RE")
FAIL = "fail"  # a decision of the dispatcher's own, before the controls
Status = Delivery.Status


@dataclasses.dataclass(frozen=True)
class Dispatched:
    claimed: int
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    retried: int = 0  # queued again for a later attempt
    limit: int = dataclasses.field(default=BATCH, repr=False)

    @property
    def full(self) -> bool:
        return self.claimed >= self.limit


@dataclasses.dataclass(slots=True)
class Claimed:
    """A claimed delivery, as the dispatcher works on it."""

    id: int
    customer_id: int | None
    channel: str
    campaign_id: int | None
    template_id: int | None
    webhook_id: int | None
    coupon_id: int | None
    attempts: int  # before this claim
    test: bool
    address: str
    node: str
    priority: int
    campaign_name: str

    COLUMNS = ("id", "customer_id", "channel", "campaign_id", "template_id", "webhook_id",
               "coupon_id", "attempts", "test", "address", "node", "campaign__priority",
               "campaign__name")


def deliveries_dispatch(*, now: datetime.datetime | None = None, limit: int = BATCH,
                        ids: Sequence[int] | None = None) -> Dispatched:
    """Claim up to `limit` due deliveries (only `ids`, when given), screen, send and record
    them. Returns what became of them."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed, customers, coupons = _claim(now, limit, ids)
        if not claimed:
            return Dispatched(0, limit=limit)
        _lock_customers([c.customer_id for c in claimed if not c.test])
        webhooks = _webhooks(claimed)
        decisions = _screen(claimed, customers, webhooks, now, [c.id for c in claimed])
        rows_update(Delivery, [_claim_row(c, decisions[c.id], now) for c in claimed])
    sending = [c for c in claimed if decisions[c.id].action == SEND]
    for item in sending:
        item.address = decisions[item.id].address
    finished = _record(_send(sending, customers, coupons, webhooks, now), now)
    actions = [decision.action for decision in decisions.values()]
    return Dispatched(len(claimed), sent=finished["sent"], skipped=actions.count(controls.SKIP),
                      deferred=actions.count(DEFER),
                      failed=finished["failed"] + actions.count(FAIL),
                      retried=finished["retried"], limit=limit)


# --- claimed as they are queued: the runner sends its own ------------------------------------

class Outbox:
    """The messages a runner's batch queues, claimed for that runner in its own transaction,
    so that it sends them itself once the batch has committed: no second claim, and one
    write of each row less.

        rows = outbox.claim(rows, now)    # in the runner's transaction, before the insert
        outbox.inserted(returned)         # (id, journey_id, status) of the rows inserted
        ... the runner's transaction commits ...
        outbox.send(now)                  # render, send and record, as the dispatcher does

    Each row is screened and written as the dispatcher's claim would write it: 'sending'
    with a lease and its first attempt, skipped with the reason, or deferred (queued, due
    later). A customer whose lock another transaction holds stays queued for the dispatcher.
    Exactly once as with the dispatcher: only this runner sends what it claimed; if it dies
    after the commit, the lease runs out and the sweep queues those messages again, to be
    sent under the same delivery id."""

    def __init__(self) -> None:
        self.sending: list[Claimed] = []
        self.customers: dict[int, dict] = {}
        self.webhooks: dict[int, WebhookEndpoint] = {}
        self.started = time.monotonic()  # with the batch, as its `now`: when leases begin
        self._waiting: dict[int, Claimed] = {}  # journey id -> claimed, until inserted

    def __bool__(self) -> bool:
        return bool(self.sending)

    def claim(self, rows: list[dict[str, Any]], now: datetime.datetime) -> list[dict[str, Any]]:
        """The rows (one per journey, as deliveries_queue builds them), claimed where the
        customer's lock could be taken."""
        locked = _try_lock_customers({row["customer_id"] for row in rows})
        mine = [row for row in rows if row["customer_id"] in locked]
        if not mine:
            return rows
        customers = rendering.customer_rows(locked)
        campaigns = {pk: (priority, name) for pk, priority, name in Campaign.objects.filter(
            pk__in={row["campaign_id"] for row in mine}).values_list("pk", "priority", "name")}
        items = [Claimed(id=row["journey_id"],  # by journey until the rows have their ids
                         customer_id=row["customer_id"], channel=row["channel"],
                         campaign_id=row["campaign_id"], template_id=row["template_id"],
                         webhook_id=row["webhook_id"], coupon_id=row["coupon_id"], attempts=0,
                         test=False, address="", node=row["node"],
                         priority=campaigns[row["campaign_id"]][0],
                         campaign_name=campaigns[row["campaign_id"]][1])
                 for row in mine]
        webhooks = _webhooks(items)
        decisions = _screen(items, customers, webhooks, now, exclude=())
        for row, item in zip(mine, items, strict=True):
            decision = decisions[item.id]
            row.update({name: value for name, value in _claim_row(item, decision, now).items()
                        if name != "id"})
            if decision.action == SEND:
                item.address = decision.address
                self._waiting[item.id] = item
        self.customers.update(customers)
        self.webhooks.update(webhooks)
        return rows

    def discard(self, since: int) -> None:
        """Forget what was claimed after the first `since` (a node that failed: its
        deliveries were rolled back with it, so there is nothing of it to send)."""
        del self.sending[since:]
        self._waiting.clear()

    def inserted(self, returned: Sequence[tuple]) -> None:
        """(id, journey id, ...) of the rows the insert wrote: those claimed for sending get
        their ids. A row the insert skipped (stored by a batch run before) is not this
        claim's to send."""
        for delivery_id, journey_id, *_rest in returned:
            item = self._waiting.get(journey_id)
            if item is not None:
                item.id = delivery_id
                self.sending.append(item)
        self._waiting.clear()

    def send(self, now: datetime.datetime) -> Dispatched:
        """Render, send and record (after the claiming transaction committed), at the
        batch's `now`. The send window counts from the batch's start, as the leases do."""
        if not self.sending:
            return Dispatched(0)
        coupons = rendering.coupon_rows(c.coupon_id for c in self.sending)
        window = SEND_WINDOW - (time.monotonic() - self.started)
        finished = _record(_send(self.sending, self.customers, coupons, self.webhooks, now,
                                 window), now)
        return Dispatched(len(self.sending), sent=finished["sent"], failed=finished["failed"],
                          retried=finished["retried"])


# --- 1. claim and screen ---------------------------------------------------------------------

# The customer's fields and metrics and the coupon come with the claim (one query): the
# controls and the renderer read them from here.
CUSTOMER_COLUMNS = [f"customer__{name}" for name in rendering.CUSTOMER_FIELDS] + \
    [f"customer__metrics__{name}" for name in rendering.METRICS_FIELDS]
COUPON_COLUMNS = [f"coupon__{name}" for name in rendering.COUPON_FIELDS]


def _claim(now: datetime.datetime, limit: int, ids: Sequence[int] | None
           ) -> tuple[list[Claimed], dict[int, dict], dict[int, dict]]:
    query = (Delivery.objects.select_for_update(skip_locked=True, of=("self",))
             .filter(status=Status.QUEUED, due_at__lte=now)
             .filter(Q(campaign__isnull=True) | Q(campaign__status=Campaign.Status.ACTIVE)))
    if ids is not None:
        query = query.filter(pk__in=list(ids))
    rows = query.order_by("due_at").values_list(*Claimed.COLUMNS, *CUSTOMER_COLUMNS,
                                                *COUPON_COLUMNS)[:limit]
    width, claimed, customers, coupons = len(Claimed.COLUMNS), [], {}, {}
    customer_end = width + len(CUSTOMER_COLUMNS)
    names = [name.removeprefix("customer__") for name in CUSTOMER_COLUMNS]
    for row in rows:
        item = Claimed(*row[:width - 2], row[width - 2] or 0, row[width - 1] or "")
        claimed.append(item)
        if item.customer_id is not None and item.customer_id not in customers:
            customers[item.customer_id] = dict(zip(names, row[width:customer_end], strict=True))
        if item.coupon_id is not None:
            coupons[item.coupon_id] = dict(zip(rendering.COUPON_FIELDS, row[customer_end:],
                                               strict=True))
    return claimed, customers, coupons


def _lock_customers(customer_ids: list[int | None]) -> None:
    """Serialise dispatchers per customer until this transaction commits, so the second
    one's cap check sees the first one's messages (always in the same order: no deadlock)."""
    if connection.vendor != "postgresql":
        return  # SQLite's write transaction serialises dispatchers already
    keys = sorted({_lock_key(pk) for pk in customer_ids if pk is not None})
    if keys:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, k) FROM unnest(%s::int[]) AS k",
                           [LOCK_NAMESPACE, keys])


def _try_lock_customers(customer_ids: set[int]) -> set[int]:
    """The customers whose lock this transaction holds now (taken here or before), without
    waiting for any: a runner never waits for a customer's lock, so it cannot deadlock with a
    dispatcher or another runner."""
    if connection.vendor != "postgresql":
        return customer_ids
    with connection.cursor() as cursor:
        cursor.execute("SELECT k FROM unnest(%s::int[]) AS k "
                       "WHERE pg_try_advisory_xact_lock(%s, k)",
                       [sorted({_lock_key(pk) for pk in customer_ids}), LOCK_NAMESPACE])
        locked = {key for (key,) in cursor.fetchall()}
    return {pk for pk in customer_ids if _lock_key(pk) in locked}


def _lock_key(customer_id: int) -> int:
    """The second key of a customer's advisory lock (an int; ids beyond 2^31 share one)."""
    return customer_id % 2**31


def _webhooks(claimed: list[Claimed]) -> dict[int, WebhookEndpoint]:
    ids = {c.webhook_id for c in claimed if c.webhook_id}
    return WebhookEndpoint.objects.in_bulk(ids) if ids else {}


def _screen(claimed: list[Claimed], customers: dict[int, dict], webhooks: dict,
            now: datetime.datetime, exclude: Sequence[int]) -> dict[int, Decision]:
    """A decision per claimed delivery (by id). `exclude`: deliveries stored already that are
    among them (not counted against their own caps)."""
    decided: dict[int, Decision] = {}
    candidates = []
    for item in claimed:
        webhook = webhooks.get(item.webhook_id) if item.webhook_id else None
        if item.attempts >= settings.CAMPAIGNS_MAX_ATTEMPTS:
            decided[item.id] = Decision(item.id, FAIL, Reason.TOO_MANY_ATTEMPTS)
        elif item.channel == "webhook" and (webhook is None or not webhook.is_active):
            decided[item.id] = Decision(item.id, controls.SKIP, Reason.WEBHOOK_INACTIVE)
        else:
            address = webhook.url if webhook else item.address
            candidates.append(Candidate(item.id, item.customer_id, item.channel,
                                        item.campaign_id, item.priority, item.test, address))
    if candidates:
        recipients = {pk: controls.Recipient.of(row) for pk, row in customers.items()}
        inputs = controls.screen_inputs(candidates, now=now, recipients=recipients,
                                        exclude=exclude)
        decided.update((d.key, d) for d in controls.screen(candidates, inputs=inputs, now=now))
    return decided


def _claim_row(item: Claimed, decision: Decision, now: datetime.datetime) -> dict[str, Any]:
    row = {"id": item.id, "status": Status.QUEUED, "reason": decision.reason,
           "address": decision.address or item.address, "due_at": now, "lease_until": None,
           "attempts": item.attempts}
    if decision.action == SEND:
        row.update(status=Status.SENDING, lease_until=now + LEASE, attempts=item.attempts + 1)
    elif decision.action == DEFER:
        row["due_at"] = decision.due_at
    elif decision.action == FAIL:
        row["status"] = Status.FAILED
    else:
        row["status"] = Status.SKIPPED
    return row


# --- 2. render and send ----------------------------------------------------------------------

@dataclasses.dataclass(slots=True)
class _Batch:
    """What rendering a batch needs, read once; contexts made once per customer and
    campaign."""

    now: datetime.datetime
    customers: dict[int, dict]
    webhooks: dict[int, WebhookEndpoint]
    templates: dict[int, MessageTemplate]
    coupons: dict[int, dict]
    unsubscribe_prefix: str
    contexts: dict[int | None, tuple] = dataclasses.field(default_factory=dict)
    campaigns: dict[int | None, rendering.Values] = dataclasses.field(default_factory=dict)

    def customer(self, customer_id: int | None) -> tuple:
        """(customer, metrics, time zone, language) of a customer, read-only, made once."""
        if customer_id not in self.contexts:
            row = self.customers.get(customer_id) or rendering.sample_customer()
            self.contexts[customer_id] = (
                rendering.readonly(rendering.customer_values(row)),
                rendering.readonly(rendering.metrics_values(row, self.now)),
                controls.zone(row["time_zone"]), row["language"])
        return self.contexts[customer_id]

    def campaign(self, item: Claimed) -> rendering.Values:
        if item.campaign_id not in self.campaigns:
            self.campaigns[item.campaign_id] = rendering.readonly(
                {"id": item.campaign_id, "name": item.campaign_name} if item.campaign_id
                else {})
        return self.campaigns[item.campaign_id]


NOTHING_RENDERED = rendering.Rendered("", "")


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    item: Claimed
    result: Result
    rendered: rendering.Rendered = NOTHING_RENDERED
    reason: str = Reason.SEND_ERROR  # when it failed
    unsubscribe_url: str = ""


def _send(sending: list[Claimed], customers: dict[int, dict], coupons: dict[int, dict],
          webhooks: dict, now: datetime.datetime, window: float = SEND_WINDOW
          ) -> list[Outcome]:
    """Render and send; no new message is tried once `window` seconds have passed."""
    if not sending:
        return []
    deadline = time.monotonic() + window
    batch = _Batch(
        now, customers, webhooks,
        MessageTemplate.objects.in_bulk({c.template_id for c in sending if c.template_id}),
        coupons, unsubscribe_prefix())
    by_channel: dict[str, list[Claimed]] = defaultdict(list)
    for item in sending:
        by_channel[item.channel].append(item)
    outcomes: list[Outcome] = []
    for channel, items in by_channel.items():
        ready = []
        for outcome in _render_all(items, batch):
            (ready if outcome.result.ok else outcomes).append(outcome)
        if ready:
            sent = CHANNELS[channel].send([_outgoing(o, batch) for o in ready], deadline)
            outcomes.extend(Outcome(item=o.item, result=result, rendered=o.rendered,
                                    reason=o.reason, unsubscribe_url=o.unsubscribe_url)
                            for o, result in zip(ready, sent, strict=True))
    return outcomes


def _render_all(items: list[Claimed], batch: _Batch) -> list[Outcome]:
    """Render each message, a language at a time (one translation switch per language, not
    per message: dates and numbers follow the customer's language)."""
    by_language: dict[str, list[Claimed]] = defaultdict(list)
    for item in items:
        by_language[rendering.ui_language(batch.customer(item.customer_id)[3])].append(item)
    outcomes = []
    for language, group in by_language.items():
        with translation.override(language):
            outcomes.extend(_render_one(item, batch) for item in group)
    return outcomes


def _outgoing(outcome: Outcome, batch: _Batch) -> Outgoing:
    item, rendered = outcome.item, outcome.rendered
    webhook = batch.webhooks.get(item.webhook_id) if item.webhook_id else None
    return Outgoing(item.id, item.address, rendered.subject, rendered.body, rendered.text,
                    outcome.unsubscribe_url, webhook.secret if webhook else "")


def _unsubscribe_url(item: Claimed, batch: _Batch) -> str:
    if not CHANNELS[item.channel].unsubscribe:
        return ""
    if item.test:  # the operator's inbox: a link that would unsubscribe the customer is not
        return f"{batch.unsubscribe_prefix}{PREVIEW_LINK}/"  # what a test is for
    return unsubscribe_url(item.customer_id, item.channel, prefix=batch.unsubscribe_prefix)


def _render_one(item: Claimed, batch: _Batch) -> Outcome:
    """Rendered, ready to send (an ok result for now), or failed with render_error."""
    url = _unsubscribe_url(item, batch)
    try:
        rendered = _rendered(item, batch, url)
    except Exception as exc:  # a template that fails on this customer's values
        return Outcome(item, Result.failed(item.id, f"{type(exc).__name__}: {exc}"),
                       reason=Reason.RENDER_ERROR)
    return Outcome(item, Result.sent(item.id), rendered, unsubscribe_url=url)


def _rendered(item: Claimed, batch: _Batch, url: str) -> rendering.Rendered:
    customer, metrics, tz, language = batch.customer(item.customer_id)
    coupon = batch.coupons.get(item.coupon_id) if item.coupon_id else None
    if coupon is None and item.test:  # a test send shows what a coupon would look like
        coupon = rendering.sample_coupon(batch.now)
    context = rendering.message_context(
        customer=customer, metrics=metrics, campaign=batch.campaign(item),
        coupon=rendering.coupon_values(coupon, tz) if coupon else None, unsubscribe_url=url)
    template = batch.templates.get(item.template_id) if item.template_id else None
    if template is None:  # a "call webhook" node: the standard payload
        return rendering.Rendered("", _webhook_payload(item, context, batch.now))
    return rendering.template_for(template, language).render(context)


def _webhook_payload(item: Claimed, context: dict, now: datetime.datetime) -> str:
    payload = {"event": "campaign.webhook", "delivery_id": item.id, "node": item.node,
               "sent_at": now, **{name: context[name] or None
                                  for name in ("campaign", "customer", "metrics", "coupon")}}
    return json.dumps(rendering.plain_json(payload), ensure_ascii=False)


# --- 3. record -------------------------------------------------------------------------------

def _backoff(attempts: int) -> datetime.timedelta:
    """60 s, 2 min, 4 min, ... (CAMPAIGNS_RETRY_SECONDS doubling), at most a day."""
    seconds = settings.CAMPAIGNS_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return datetime.timedelta(seconds=min(seconds, 86400))


def _result_row(outcome: Outcome, now: datetime.datetime) -> dict[str, Any]:
    item, result = outcome.item, outcome.result
    attempts = item.attempts + 1
    row = {"id": item.id, "claimed": attempts, "status": Status.SENT, "reason": "",
           "error": "", "sent_at": None, "due_at": now, "attempts": attempts,
           "subject": outcome.rendered.subject, "body": outcome.rendered.body}
    if result.ok:
        row["sent_at"] = now
    elif not result.attempted:
        row.update(status=Status.QUEUED, attempts=item.attempts)
    elif result.retry and attempts < settings.CAMPAIGNS_MAX_ATTEMPTS:
        row.update(status=Status.QUEUED, error=result.error, due_at=now + _backoff(attempts))
    else:
        row.update(status=Status.FAILED, reason=outcome.reason, error=result.error)
    return row


def _record(outcomes: list[Outcome], now: datetime.datetime) -> dict[str, int]:
    rows = [_result_row(outcome, now) for outcome in outcomes]
    _finish(rows)
    _forget_erased([row["id"] for row in rows])
    return {"sent": sum(1 for r in rows if r["status"] == Status.SENT),
            "failed": sum(1 for r in rows if r["status"] == Status.FAILED),
            "retried": sum(1 for r in rows if r["status"] == Status.QUEUED)}


FINISH_COLUMNS = {"status": "varchar", "reason": "varchar", "error": "text",
                  "sent_at": "timestamptz", "due_at": "timestamptz", "attempts": "smallint",
                  "subject": "varchar", "body": "text"}


def _finish(rows: list[dict[str, Any]]) -> None:
    """Write the results, only onto deliveries this claim still holds (status 'sending' with
    the attempt it made): a dispatcher that outlived its lease never overwrites the next."""
    if not rows:
        return
    table = Delivery._meta.db_table
    sets = ", ".join(f"{name} = r.{name}" for name in FINISH_COLUMNS)
    if connection.vendor == "postgresql":
        record = ", ".join(f"{name} {kind}" for name, kind in
                           {"id": "bigint", "claimed": "smallint", **FINISH_COLUMNS}.items())
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {sets}, lease_until = NULL "
                f"FROM json_to_recordset(%s::json) AS r({record}) "
                f"WHERE {table}.id = r.id AND {table}.status = 'sending' "
                f"AND {table}.attempts = r.claimed", [as_json(rows)])
        return
    assignments = ", ".join(f"{name} = %s" for name in FINISH_COLUMNS)
    fields = {name: Delivery._meta.get_field(name) for name in FINISH_COLUMNS}
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {assignments}, lease_until = NULL "
            f"WHERE id = %s AND status = 'sending' AND attempts = %s",
            [[*(field.get_db_prep_save(row[name], connection) for name, field in fields.items()),
              row["id"], row["claimed"]] for row in rows])


def _forget_erased(ids: list[int]) -> None:
    """A message on its way while its customer's personal data was erased: the erasure
    emptied the row, and the result just written carried the text again. (Whichever of the
    two commits last, one of them finds the other's work: the erasure's update waits for
    this row, or this statement sees the erasure.)"""
    if ids:
        erased = Erasure.objects.values("customer_id")
        Delivery.objects.filter(pk__in=ids, customer_id__in=erased).update(**FORGOTTEN)


# --- the sweep -------------------------------------------------------------------------------

def _due(now: datetime.datetime):
    return Delivery.objects.filter(status=Status.QUEUED, due_at__lte=now).filter(
        Q(campaign__isnull=True) | Q(campaign__status=Campaign.Status.ACTIVE))


def deliveries_due(now: datetime.datetime | None = None) -> bool:
    """Whether any delivery is due (of an active campaign, or a test send)."""
    return _due(now or timezone.now()).exists()


def deliveries_reclaim(now: datetime.datetime | None = None) -> int:
    """Queue again the deliveries left 'sending' past their lease (their dispatcher died):
    they are sent again with the same delivery id, the provider's idempotency key."""
    return Delivery.objects.filter(status=Status.SENDING, lease_until__lt=now or timezone.now()) \
        .update(status=Status.QUEUED, lease_until=None)
