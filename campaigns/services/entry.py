"""Customers entering a campaign: one INSERT ... SELECT for however many there are.

The campaign's entry rule decides who may (again): once ever (the entry key is "once", so the
unique (campaign, customer, entry key) admits one journey), again after D days (and not while
a journey is under way), or every time the trigger fires (one journey per occurrence). The
holdout share is drawn by the same stable hash as A/B splits (campaigns.flows.logic.bucket):
a customer is always in the same group of a campaign. Erased customers never enter.
"""

import datetime
import functools
import json

from django.db import connection, transaction
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from campaigns.flows import Graph, parse_graph
from campaigns.flows.logic import bucket_sql, salt_of
from campaigns.models import Campaign, CampaignVersion, Journey
from customers.services.erasure import erased_ids_sql

JOURNEY = Journey._meta.db_table
ACTIVE, HOLDOUT = Journey.Status.ACTIVE.value, Journey.Status.HOLDOUT.value


def version_graph(version_id: int) -> Graph:
    """A published version's graph, validated when it was published. Parsed once per
    distinct graph: the cache is keyed by the graph's text, so it can never serve another
    version's graph (ids of a rolled-back publish are reused on SQLite, and in tests)."""
    text = CampaignVersion.objects.filter(pk=version_id).annotate(
        text=Cast("graph", TextField())).values_list("text", flat=True).get()
    return _parsed(text)


@functools.lru_cache(maxsize=256)
def _parsed(text: str) -> Graph:
    return parse_graph(json.loads(text))


def holdout_salt(campaign_id: int) -> int:
    return salt_of(f"holdout:{campaign_id}")


def in_holdout(campaign: Campaign, customer_id: int) -> bool:
    """The Python twin of the SQL in journeys_enter (tests hold them together)."""
    from campaigns.flows.logic import bucket

    return bucket(customer_id, holdout_salt(campaign.pk)) < int(campaign.holdout_percent * 100)


def journeys_enter(*, campaign: Campaign, source: QuerySet, now: datetime.datetime,
                   resample: bool = True) -> int:
    """Start journeys for the rows of `source` (values `customer_id` and `entry_key`) on the
    campaign's current version, as its entry rule allows. Returns how many started,
    holdouts included. Safe to repeat: a repeated entry key starts nothing. `resample`
    False: a later chunk of one entry (the first one refreshed the statistics)."""
    version_id = campaign.current_version_id
    if version_id is None:
        return 0
    first_node = version_graph(version_id).first_node
    sql, params = source.query.sql_with_params()
    if campaign.entry != Campaign.Entry.EVERY_TIME:
        # One entry per customer per pass: the earliest occurrence stands for the rest.
        sql = (f"SELECT customer_id, MIN(entry_key) AS entry_key FROM ({sql}) src "
               f"GROUP BY customer_id")
    key = "'once'" if campaign.entry == Campaign.Entry.ONCE else "s.entry_key"
    holdout = (f"{bucket_sql('s.customer_id', holdout_salt(campaign.pk))} "
               f"< {int(campaign.holdout_percent * 100)}")
    guard, guard_params = _reentry_guard(campaign, now)
    now = connection.ops.adapt_datetimefield_value(now)
    statement = f"""
        INSERT INTO {JOURNEY} (campaign_id, version_id, customer_id, entry_key, status, node,
                               step, due_at, arrived_at, entered_at, finished_at)
        SELECT %s, %s, s.customer_id, {key},
               CASE WHEN {holdout} THEN '{HOLDOUT}' ELSE '{ACTIVE}' END, %s, 1,
               CASE WHEN {holdout} THEN NULL ELSE %s END, %s, %s,
               CASE WHEN {holdout} THEN %s ELSE NULL END
        FROM ({sql}) s
        WHERE {guard} AND {erased_ids_sql('s.customer_id')}
        ON CONFLICT (customer_id, campaign_id, entry_key) DO NOTHING"""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [campaign.pk, version_id, first_node, now, now, now, now,
                                   *params, *guard_params])
        started = cursor.rowcount
        if started:
            from campaigns.tasks import advance_on_commit

            advance_on_commit()
        if resample and started >= RESAMPLE_AFTER and connection.vendor == "postgresql":
            transaction.on_commit(_resample)
    return started


# After a broadcast enters this many journeys, the planner's statistics are refreshed at
# once: with the old ones (an empty table), the runner's claim sorted every due journey
# instead of walking the due_at index (bench/dispatch.py: 280 ms a claim instead of 2 ms).
RESAMPLE_AFTER = 10_000


def _resample() -> None:
    # SKIP_LOCKED: a vacuum at work on the table analyzes it too, and waiting for it would
    # hold up whatever follows this commit.
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE (SKIP_LOCKED) {JOURNEY}")


def _reentry_guard(campaign: Campaign, now: datetime.datetime) -> tuple[str, list]:
    if campaign.entry != Campaign.Entry.AGAIN_AFTER:
        return "1 = 1", []  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
    since = now - datetime.timedelta(days=campaign.reentry_days or 0)
    return (f"NOT EXISTS (SELECT 1 FROM {JOURNEY} j WHERE j.campaign_id = %s "
            f"AND j.customer_id = s.customer_id AND (j.status = '{ACTIVE}' "
            f"OR j.entered_at > %s))",
            [campaign.pk, connection.ops.adapt_datetimefield_value(since)])
