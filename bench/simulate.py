"""Benchmark: the campaign dry run over the whole customer base, and the results of a campaign
with a journey per customer.

Creates (or, with --reuse, keeps) the PostgreSQL database `retentio_results_bench` and loads
N customers (bench/segments.py's rows: consents, phones, birthdays, time zones), 3 x N orders
and 2 x N events (the same SQL as bench/metrics.py and bench/segments.py), computes the value
metrics (AOVs for coupon budgets), and adds what the dry run reads and the other benches do
not: one segment with every customer as a member, sent deliveries in the last week for a
tenth of them (frequency caps), suppressed addresses for 1%.

Then it times:
  (a) dry run: campaign_simulate() of a draft with every kind of node that queries:
      segment_entered (N members) -> condition -> split -> A: issue_coupon (percentage, AOV
      budget) -> email -> wait_for_date (birthday) -> sms -> exit; B: wait_for_event (an
      order in 3 days) -> inbox -> exit; 10% holdout. Best of two.
  (b) results: campaign_results() after N journeys (10% holdout), ~3 steps per treated
      journey, deliveries, coupons and redemptions are written in SQL. Best of two.
Usage: .venv/bin/python bench/simulate.py [--customers 1000000] [--reuse]
"""

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench import metrics as metrics_bench  # noqa: E402 - its order SQL and bulk loader
from bench import segments as segments_bench  # noqa: E402 - its customer and event SQL

DB_NAME = "retentio_results_bench"
SERVER = metrics_bench.SERVER
BROKER = "redis://127.0.0.1:6379/7"
CACHE = "redis://127.0.0.1:6379/6"
ORDERS_PER_CUSTOMER = 3
EVENTS_PER_CUSTOMER = 2

EXTRA_SQL = [
    # Every customer in one segment.
    """INSERT INTO segments_segmentmembership (segment_id, customer_id, entered_at)
       SELECT %(segment)s, id, now() FROM customers_customer""",
    # Two sent messages in the last week for a tenth of the customers.
    """INSERT INTO campaigns_delivery (customer_id, node, channel, status, reason, error,
                                      due_at, attempts, address, subject, body, created_at,
                                      sent_at, test)
       SELECT c.id, '', (ARRAY['email', 'sms'])[1 + k %% 2], 'sent', '', '', now(), 1, '', '',
              '', now(), now() - random() * interval '6 days', false
       FROM customers_customer c, generate_series(1, 2) k WHERE c.id %% 10 = 0""",
    # 1% of the email addresses suppressed.
    """INSERT INTO campaigns_suppression (channel, address, reason, created_at)
       SELECT 'email', lower(email), 'unsubscribed', now() FROM customers_customer
       WHERE id %% 100 = 7""",
]

JOURNEYS_SQL = """
INSERT INTO campaigns_journey (campaign_id, version_id, customer_id, entry_key, status, node,
                               step, due_at, arrived_at, entered_at, finished_at, converted_at)
SELECT %(campaign)s, %(version)s, id, 'once',
       CASE WHEN id %% 10 = 3 THEN 'holdout' WHEN id %% 20 = 1 THEN 'active'
            WHEN id %% 20 = 2 THEN 'converted' ELSE 'completed' END,
       CASE WHEN id %% 10 = 3 THEN 'if' WHEN id %% 20 = 1 THEN 'bd' ELSE 'end' END,
       4, CASE WHEN id %% 20 = 1 THEN now() + interval '3 days' END, t, t,
       CASE WHEN id %% 20 = 1 THEN NULL ELSE t END, CASE WHEN id %% 20 = 2 THEN t END
FROM (SELECT id, now() - random() * interval '20 days' AS t FROM customers_customer) c
"""
STEPS_SQL = """
INSERT INTO campaigns_journeystep (journey_id, step, node, port, note, at)
SELECT j.id, s.step, s.node,
       CASE s.node WHEN 'if' THEN 'yes' WHEN 'ab' THEN
            CASE WHEN j.id %% 2 = 0 THEN 'A' ELSE 'B' END ELSE '' END, '', j.entered_at
FROM campaigns_journey j,
     (VALUES (1, 'if'), (2, 'ab'), (3, 'end')) AS s(step, node)
WHERE j.campaign_id = %(campaign)s AND j.status <> 'holdout'
"""
TOUCHES_SQL = [
    """INSERT INTO campaigns_coupon (definition_id, code, customer_id, campaign_id, journey_id,
                                    step, node, status, max_redemptions, redemptions,
                                    issued_at)
       SELECT %(definition)s, 'B' || j.id, j.customer_id, j.campaign_id, j.id, 3, 'gift',
              'active', 1, 0, j.entered_at
       FROM campaigns_journey j
       WHERE j.campaign_id = %(campaign)s AND j.status <> 'holdout' AND j.id %% 4 = 0""",
    """INSERT INTO campaigns_couponredemption (coupon_id, customer_id, order_external_id,
                                              order_amount, discount, redeemed_at)
       SELECT id, customer_id, 'r' || id, 80, 12, issued_at + interval '1 day'
       FROM campaigns_coupon WHERE campaign_id = %(campaign)s AND id %% 10 = 0""",
    """INSERT INTO campaigns_delivery (campaign_id, journey_id, step, node, customer_id,
                                      channel, status, reason, error, due_at, attempts,
                                      address, subject, body, created_at, sent_at, test)
       SELECT j.campaign_id, j.id, 4, 'mail', j.customer_id, 'email',
              CASE WHEN j.id %% 8 = 0 THEN 'skipped' ELSE 'sent' END,
              CASE WHEN j.id %% 8 = 0 THEN 'no_consent' ELSE '' END, '', j.entered_at, 1,
              '', '', '', j.entered_at,
              CASE WHEN j.id %% 8 = 0 THEN NULL ELSE j.entered_at + interval '1 hour' END,
              false
       FROM campaigns_journey j
       WHERE j.campaign_id = %(campaign)s AND j.status <> 'holdout' AND j.id %% 2 = 0""",
]


def say(line: str) -> None:
    print(line, flush=True)


def connect() -> psycopg.Connection:
    return psycopg.connect(f"{SERVER}/{DB_NAME}", autocommit=True)


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
    os.environ["CELERY_BROKER_URL"] = BROKER
    os.environ["REDIS_URL"] = CACHE
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def loaded(customers: int) -> bool:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                             [DB_NAME]).fetchone():
            return False
    with connect() as conn:
        [count] = conn.execute("SELECT count(*) FROM segments_segmentmembership").fetchone()
    return count == customers


def load(customers: int) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB_NAME}")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.monotonic()
    with connect() as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("INSERT INTO customers_storefront (name, kind, currency, time_zone, "
                     "created_at) VALUES ('bench', 'web', 'USD', 'UTC', now())")
        [storefront] = conn.execute("SELECT id FROM customers_storefront").fetchone()
        metrics_bench.bulk_load(conn, "customers_customer", lambda: conn.execute(
            segments_bench.CUSTOMERS_SQL, {"customers": customers}))
        metrics_bench.load_activity(conn)
        [first_id] = conn.execute("SELECT min(id) FROM customers_customer").fetchone()
        say(f"  {customers:,} customers ({time.monotonic() - started:.0f} s)")
        orders = ORDERS_PER_CUSTOMER * customers
        metrics_bench.bulk_load(conn, "customers_order", lambda: conn.execute(
            metrics_bench.ORDERS_SQL, {"first_id": first_id, "storefront": storefront,
                                       "buyers": int(customers * metrics_bench.BUYER_SHARE),
                                       "start": 1, "stop": orders}))
        say(f"  {orders:,} orders ({time.monotonic() - started:.0f} s)")
        metrics_bench.bulk_load(conn, "customers_event", lambda: conn.execute(
            segments_bench.EVENTS_SQL, {"first_id": first_id, "customers": customers,
                                        "storefront": storefront,
                                        "events": EVENTS_PER_CUSTOMER * customers}))
        say(f"  {EVENTS_PER_CUSTOMER * customers:,} events ({time.monotonic() - started:.0f} s)")
    from customers.services.metrics import metrics_recompute_all
    from segments.models import Segment

    metrics_recompute_all(cutoff=dt.datetime.now(dt.UTC))
    segment = Segment.objects.create(name="everyone", rule={"!=": [{"var": "city"}, ""]})
    with connect() as conn:
        for statement in EXTRA_SQL:
            conn.execute(statement, {"segment": segment.pk})
        conn.execute("VACUUM ANALYZE")
    say(f"  metrics, segment, deliveries, suppressions ({time.monotonic() - started:.0f} s)")


def draft() -> dict:
    from campaigns.models import CouponDefinition, MessageTemplate
    from segments.models import Segment

    segment = Segment.objects.get(name="everyone")
    definition, _ = CouponDefinition.objects.update_or_create(
        name="bench 15%", defaults={"kind": "percentage", "value": 15, "max_discount": 20,
                                    "max_codes": 300_000, "valid_days": 14})
    templates = {channel: MessageTemplate.objects.update_or_create(
        name=f"bench {channel}", defaults={"channel": channel, "body": "Hi"})[0].pk
        for channel in ("email", "sms", "inbox")}

    def node(node_id, node_type, **config):
        return {"id": node_id, "type": node_type, "config": config}

    nodes = [
        node("start", "segment_entered", segment=segment.pk),
        node("if", "condition", rule={"or": [{">=": [{"var": "ltv"}, 100]},
                                             {"in": [{"var": "lifecycle_stage"},
                                                     ["new", "active"]]}]}),
        node("ab", "split", branches=[{"port": "A", "percent": 50},
                                      {"port": "B", "percent": 50}]),
        node("gift", "issue_coupon", definition=definition.pk),
        node("mail", "send_message", channel="email", template=templates["email"]),
        node("bd", "wait_for_date", field="birthday", offset_days=-3),
        node("sms", "send_message", channel="sms", template=templates["sms"]),
        node("order", "wait_for_event", kind="order", timeout={"days": 3}),
        node("inbox", "send_message", channel="inbox", template=templates["inbox"]),
        node("end", "exit"),
    ]
    edges = [("start", "next", "if"), ("if", "yes", "ab"), ("if", "no", "end"),
             ("ab", "A", "gift"), ("ab", "B", "order"), ("gift", "issued", "mail"),
             ("gift", "not_issued", "mail"), ("mail", "next", "bd"), ("bd", "next", "sms"),
             ("bd", "missing", "end"), ("sms", "next", "end"), ("order", "happened", "inbox"),
             ("order", "timeout", "end"), ("inbox", "next", "end")]
    return {"nodes": nodes, "edges": [{"source": s, "port": p, "target": t}
                                      for s, p, t in edges]}


def best_of(runs: int, work):
    times, outcome = [], None
    for _run in range(runs):
        started = time.monotonic()
        outcome = work()
        times.append(time.monotonic() - started)
    return min(times), outcome


def reset() -> None:
    """No journeys, coupons or campaign messages; the week of sent messages the frequency
    caps read is written again. TRUNCATE, not DELETE: every deleted coupon would check
    campaigns_delivery.coupon_id, which has no index (250,000 coupons: 250,000 scans)."""
    with connect() as conn:
        conn.execute("TRUNCATE campaigns_couponredemption, campaigns_delivery, "
                     "campaigns_coupon, campaigns_journeystep, campaigns_journey")
        conn.execute(EXTRA_SQL[1], {})  # parameters, so that %% reads as %
        conn.execute("VACUUM ANALYZE campaigns_delivery")


def write_journeys(campaign, version) -> None:
    from campaigns.models import CouponDefinition

    definition = CouponDefinition.objects.get(name="bench 15%")
    started = time.monotonic()
    reset()
    with connect() as conn:
        params = {"campaign": campaign.pk, "version": version.pk, "definition": definition.pk}
        for statement in [JOURNEYS_SQL, STEPS_SQL, *TOUCHES_SQL]:
            conn.execute(statement, params)
        conn.execute("VACUUM ANALYZE")
        counts = {table: conn.execute(f"SELECT count(*) FROM campaigns_{table}").fetchone()[0]
                  for table in ("journey", "journeystep", "delivery", "coupon",
                                "couponredemption")}
    say(f"  wrote {counts} ({time.monotonic() - started:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep loaded data")
    args = parser.parse_args()
    say(f"load average {os.getloadavg()[0]:.1f}")
    setup_django()
    if args.reuse and loaded(args.customers):
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        say(f"reusing {DB_NAME}")
    else:
        say(f"loading {args.customers:,} customers into {DB_NAME}")
        load(args.customers)

    from campaigns.models import Campaign, CampaignVersion
    from campaigns.services.results import campaign_results
    from campaigns.services.simulate import campaign_simulate

    reset()
    fields = {"draft_graph": draft(), "holdout_percent": 10, "goal": {"kind": "order"}}
    # The dry run's campaign never gets journeys (they would keep everyone out).
    unpublished, _ = Campaign.objects.update_or_create(name="bench draft", defaults=fields)
    campaign, _ = Campaign.objects.update_or_create(name="bench", defaults=fields)
    seconds, simulation = best_of(2, lambda: campaign_simulate(unpublished))
    say(f"(a) dry run over {simulation.entering:,} entering customers: {seconds:.2f} s")
    for node in simulation.nodes:
        say(f"    {node.id:<6} entered {node.entered:>9,}  ports {node.ports}  "
            f"skipped {node.skipped_by_reason}  coupons {node.coupons:,} "
            f"budget {node.discount_budget}")

    version, _ = CampaignVersion.objects.update_or_create(
        campaign=campaign, number=1,
        defaults={"graph": campaign.draft_graph, "published_at": dt.datetime.now(dt.UTC)})
    write_journeys(campaign, version)
    seconds, results = best_of(2, lambda: campaign_results(campaign))
    say(f"(b) results of {results.journeys.entered:,} journeys: {seconds:.2f} s")
    say(f"    treated {results.treated}")
    say(f"    holdout {results.holdout}")
    say(f"    uplift {results.uplift.arpu}, attribution {results.attribution}")
    say(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
