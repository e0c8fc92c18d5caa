"""Benchmark: segment evaluation against a hand-written SQL floor (issue 3 targets).

Creates (or, with --reuse, keeps) the PostgreSQL database `retentio_bench_seg` and loads the
data of bench/metrics.py (N customers, 10 x N orders, the same SQL) plus what segments read
and the metrics bench does not: birthdays (some on 29 February), time zones (blank ones
too), tags, attributes and 3 x N behaviour events (visits, logins, product views, carts).
Then, with every template (default parameters) and 10 custom rules saved as segments:

  (a) floor:   for each segment, a hand-written SQL statement selecting the same members,
               materialised into a temporary table (best of four: twice under the
               planner's defaults, twice under the evaluation's settings);
  (b) first:   segments_evaluate_all() on empty memberships (everyone enters, all logged);
  (c) steady:  segments_evaluate_all() an hour later (only who moved is written);
  (d) night:   metrics_recompute_all() a day later and metrics_vacuum(), then
               segments_evaluate_all(): the nightly chain (metrics_vacuum() is counted in
               "metrics + segments");
  (e) preview: count + a 20-member sample of each template's rule (the preview endpoint's
               two queries), the slowest reported;
  (f) event:   orders posted to the storefront API for customers in "bought twice, nothing
               for 90 days"; a separate Celery worker (Redis broker, one process) refreshes
               their metrics and segments; time from the response to their exit, p50/p95.
Each segment's size is checked against its floor's count: a mismatch is a bug in one of the
two and is printed.

Targets (issue 3): all segments <= 10 s after metrics are fresh; metrics + segments <= 30 s;
within 1.5 x the floor; any preview <= 1 s; event-driven change <= 2 s (p95).
Usage: .venv/bin/python bench/segments.py [--customers 1000000] [--reuse] [--orders-posted 20]
"""

import argparse
import datetime as dt
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench import metrics as metrics_bench  # noqa: E402 - reuses its order SQL and loader

DB_NAME = "retentio_bench_seg"
SERVER = metrics_bench.SERVER
BROKER = "redis://127.0.0.1:6379/14"
CACHE = "redis://127.0.0.1:6379/15"
TARGET_ALL_SECONDS = 10.0
TARGET_WITH_METRICS_SECONDS = 30.0
TARGET_RATIO = 1.5
TARGET_PREVIEW_SECONDS = 1.0
TARGET_EVENT_P95_SECONDS = 2.0

CUSTOMERS_SQL = """
INSERT INTO customers_customer
    (external_id, email, phone, name, gender, birthday, city, signup_at, acquisition_channel,
     time_zone, email_consent, sms_consent, attributes, tags, language, created_at, updated_at)
SELECT 'c' || g, 'c' || g || '@example.com',
       CASE WHEN g %% 2 = 0 THEN '+86138' || lpad(g::text, 8, '0') ELSE '' END,
       'Customer ' || g, (ARRAY['', 'female', 'male', 'other'])[1 + g %% 4],
       CASE WHEN g %% 1000 = 0 THEN date '1992-02-29'
            WHEN g %% 5 <> 4 THEN date '1960-01-01' + (g::bigint * 7919 %% 16000)::int END,
       (ARRAY['Shanghai', 'Beijing', 'Shenzhen', 'Hangzhou', 'Chengdu'])[1 + g %% 5],
       now() - random() * interval '1200 days',
       (ARRAY['organic', 'ads', 'referral', 'social'])[1 + g %% 4],
       (ARRAY['Asia/Shanghai', 'Asia/Shanghai', 'Asia/Shanghai', 'America/New_York',
              'Europe/London', '', 'Pacific/Kiritimati', 'America/Adak'])[1 + g %% 8],
       g %% 2 = 0, g %% 3 = 0,
       jsonb_build_object('level', g %% 5, 'member', g %% 3 = 0,
                          'store', (ARRAY['north', 'south'])[1 + g %% 2]),
       (ARRAY['[]', '[]', '["vip"]', '["wholesale"]', '["vip", "newsletter"]', '[]', '[]',
              '["newsletter"]'])[1 + g %% 8]::jsonb,
       '', now(), now()
FROM generate_series(1, %(customers)s) g
"""

EVENTS_SQL = """
INSERT INTO customers_event (customer_id, storefront_id, name, occurred_at, properties,
                             event_id, created_at)
SELECT %(first_id)s + floor(%(customers)s * power(random(), 2))::bigint, %(storefront)s,
       (ARRAY['visit', 'visit', 'visit', 'login', 'product_view', 'product_view',
              'cart_add'])[1 + floor(random() * 7)::int],
       now() - random() * interval '90 days', '{}'::jsonb, NULL, now()
FROM generate_series(1, %(events)s) g
"""

# --- the floor: one hand-written statement per segment ----------------------------------------

METRICS = "customers_customermetrics"
PREDICTIONS = "customers_customerprediction"
LOCAL_TODAY = ("(%(now)s::timestamptz AT TIME ZONE "
               "COALESCE(NULLIF(c.time_zone, ''), %(zone)s))::date")


def celebrates(column: str, day: str) -> str:
    """SQL: the anniversary of date `column` falls on date `day` (29 Feb on 28 Feb in years
    without one)."""
    return (f"(to_char({column}, 'MMDD') = to_char({day}, 'MMDD') OR "
            f"(to_char({column}, 'MMDD') = '0229' AND to_char({day}, 'MMDD') = '0228' AND "
            f"extract(day FROM (date_trunc('year', {day}) + interval '2 months' "
            f"- interval '1 day')) = 28))")


def birthday_within(days: int) -> str:
    return (f"SELECT c.id FROM customers_customer c WHERE c.birthday IS NOT NULL AND EXISTS "
            f"(SELECT 1 FROM generate_series(0, {days}) k "
            f"WHERE {celebrates('c.birthday', f'({LOCAL_TODAY} + k)')})")


def stage(value: str) -> str:
    return f"SELECT customer_id FROM {METRICS} WHERE lifecycle_stage = '{value}'"


def stage_changed(value: str, days: int) -> str:
    return (f"SELECT DISTINCT customer_id FROM customers_lifecyclechange "
            f"WHERE to_stage = '{value}' AND from_stage IS NOT NULL "
            f"AND changed_at >= %(now)s::timestamptz - "
            f"interval '{days} days' AND changed_at <= %(now)s")


def dormant(days: int) -> str:
    return (f"SELECT customer_id FROM {METRICS} "
            f"WHERE last_order_at <= %(now)s::timestamptz - interval '{days} days'")


def top_percent(column: str, percent: float, table: str = METRICS) -> str:
    return (f"SELECT customer_id FROM {table} WHERE {column} > 0 AND {column} >= ("
            f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY {column} DESC "
            f"OFFSET greatest(ceil((SELECT count(*) FROM {table} WHERE {column} IS NOT NULL)"
            f" * {percent} / 100.0) - 1, 0) LIMIT 1)")


def spent_within(amount: int, days: int) -> str:
    return (f"SELECT customer_id FROM customers_order WHERE status = 'paid' "
            f"AND placed_at >= %(now)s::timestamptz - interval '{days} days' "
            f"AND placed_at <= %(now)s GROUP BY customer_id "
            f"HAVING sum(amount - refunded_amount) >= {amount}")


def events_at_least(name: str, count: int, days: int) -> str:
    return (f"SELECT customer_id FROM customers_event WHERE name = '{name}' "
            f"AND occurred_at >= %(now)s::timestamptz - interval '{days} days' "
            f"AND occurred_at <= %(now)s GROUP BY customer_id HAVING count(*) >= {count}")


CART_ABANDONED = """
SELECT DISTINCT e.customer_id FROM customers_event e
WHERE e.name = 'cart_add' AND e.occurred_at >= %(now)s::timestamptz - interval '7 days'
  AND e.occurred_at <= %(now)s::timestamptz - interval '24 hours'
  AND NOT EXISTS (SELECT 1 FROM customers_order o WHERE o.customer_id = e.customer_id
                  AND o.placed_at >= e.occurred_at
                  AND o.placed_at <= e.occurred_at + interval '24 hours')
"""

TEMPLATE_FLOORS = {
    **{f"rfm_{value}": f"SELECT customer_id FROM {METRICS} WHERE rfm_class = '{value}'"
       for value in ["important_value", "important_development", "important_retention",
                     "important_winback", "general_value", "general_development",
                     "general_retention", "general_winback"]},
    **{f"stage_{value}": stage(value)
       for value in ["prospect", "new", "active", "dormant", "churned"]},
    "recently_churned": stage_changed("churned", 7),
    "recently_dormant": stage_changed("dormant", 7),
    "birthday_today": birthday_within(0),
    "birthday_this_week": birthday_within(6),
    "birthday_this_month": (f"SELECT c.id FROM customers_customer c WHERE "
                            f"extract(month FROM c.birthday) = extract(month FROM {LOCAL_TODAY})"),
    "birthday_in_days": (f"SELECT c.id FROM customers_customer c WHERE c.birthday IS NOT NULL "
                         f"AND {celebrates('c.birthday', f'({LOCAL_TODAY} + 3)')} AND NOT EXISTS "
                         f"(SELECT 1 FROM generate_series(0, 2) k "
                         f"WHERE {celebrates('c.birthday', f'({LOCAL_TODAY} + k)')})"),
    "first_order_anniversary": (
        f"SELECT c.id FROM customers_customer c JOIN {METRICS} m ON m.customer_id = c.id "
        f"WHERE m.first_order_at IS NOT NULL "
        f"AND (m.first_order_at AT TIME ZONE %(zone)s)::date < {LOCAL_TODAY} "
        f"AND {celebrates('(m.first_order_at AT TIME ZONE %(zone)s)::date', LOCAL_TODAY)}"),
    "high_value_top_percent": top_percent("monetary", 10),
    "high_ltv": f"SELECT customer_id FROM {METRICS} WHERE ltv > 1000",
    "recent_big_spenders": spent_within(500, 30),
    "repeat_buyers": f"SELECT customer_id FROM {METRICS} WHERE order_count >= 2",
    "dormant_30": dormant(30),
    "dormant_60": dormant(60),
    "dormant_90": dormant(90),
    "churn_risk": (f"SELECT customer_id FROM {METRICS} WHERE order_count >= 2 "
                   f"AND last_order_at <= %(now)s::timestamptz - interval '45 days' "
                   f"AND lifecycle_stage IN ('active', 'dormant')"),
    "first_order_no_repeat": (
        f"SELECT m.customer_id FROM {METRICS} m WHERE m.order_count = 1 "
        f"AND m.first_order_at <= %(now)s::timestamptz - interval '30 days' AND NOT EXISTS "
        f"(SELECT 1 FROM customers_order o WHERE o.customer_id = m.customer_id "
        f"AND o.status = 'paid' AND o.placed_at > m.first_order_at "
        f"AND o.placed_at <= m.first_order_at + interval '30 days')"),
    "cart_abandoners": CART_ABANDONED,
    "unpaid_orders": """
        SELECT DISTINCT p.customer_id FROM customers_order p
        WHERE p.status = 'pending' AND p.placed_at >= %(now)s::timestamptz - interval '7 days'
          AND p.placed_at <= %(now)s::timestamptz - interval '1 hour'
          AND NOT EXISTS (SELECT 1 FROM customers_order o WHERE o.customer_id = p.customer_id
                          AND o.status = 'paid' AND o.placed_at >= p.placed_at
                          AND o.placed_at <= p.placed_at + interval '1 hour')""",
    "browsing_not_buying": (
        f"{events_at_least('visit', 3, 30)} EXCEPT "
        f"SELECT customer_id FROM customers_order WHERE status = 'paid' "
        f"AND placed_at >= %(now)s::timestamptz - interval '30 days' AND placed_at <= %(now)s"),
    "new_signups_without_order": (
        f"SELECT c.id FROM customers_customer c WHERE c.signup_at > "
        f"%(now)s::timestamptz - interval '8 days' AND NOT EXISTS (SELECT 1 FROM {METRICS} m "
        f"WHERE m.customer_id = c.id AND m.last_order_at IS NOT NULL)"),
    "email_reachable": ("SELECT id FROM customers_customer WHERE email_consent "
                        "AND email <> ''"),
    "sms_reachable": "SELECT id FROM customers_customer WHERE sms_consent AND phone <> ''",
    "city": "SELECT id FROM customers_customer WHERE city = 'Shanghai'",
    "high_predicted_value": top_percent("predicted_clv", 10, PREDICTIONS),
    "important_likely_to_churn": (
        f"SELECT m.customer_id FROM {METRICS} m JOIN {PREDICTIONS} p USING (customer_id) "
        f"WHERE m.rfm_class IN ('important_value', 'important_development', "
        f"'important_retention', 'important_winback') AND p.churn_probability >= 0.5"),
    "high_value_coefficient": (f"SELECT customer_id FROM {PREDICTIONS} "
                               f"WHERE value_coefficient >= 70"),
    "worth_a_winback": (
        f"SELECT m.customer_id FROM {METRICS} m JOIN {PREDICTIONS} p USING (customer_id) "
        f"WHERE m.lifecycle_stage = 'dormant' AND p.predicted_clv >= 20"),
}


def custom_rules():
    """(name, JsonLogic rule, floor SQL): what operators write beyond the templates."""
    from segments.rules import condition as c

    return [
        ("Shanghai important win-back who logged in this week",
         {"and": [c("rfm_class", "==", "important_winback"), c("city", "==", "Shanghai"),
                  c("events", "did_event", {"name": "login", "within_days": 7})]},
         f"SELECT m.customer_id FROM {METRICS} m JOIN customers_customer c ON c.id = "
         f"m.customer_id WHERE m.rfm_class = 'important_winback' AND c.city = 'Shanghai' "
         f"INTERSECT {events_at_least('login', 1, 7)}"),
        ("Bought twice, nothing for 90 days",
         {"and": [c("order_count", ">=", 2), c("recency_days", ">=", 90)]},
         f"SELECT customer_id FROM {METRICS} WHERE order_count >= 2 "
         f"AND last_order_at <= %(now)s::timestamptz - interval '90 days'"),
        ("Top 10% by LTV", c("ltv", "top_percent", 10), top_percent("ltv", 10)),
        ("Birthday in the next 3 days", c("birthday", "birthday_within_days", 3),
         birthday_within(3)),
        ("VIP at level 3+", {"and": [c("attributes.level", ">=", 3), c("tags", "has_tag", "vip")]},
         "SELECT id FROM customers_customer WHERE jsonb_typeof(attributes -> 'level') = "
         "'number' AND (attributes ->> 'level')::numeric >= 3 AND tags @> '[\"vip\"]'"),
        ("Spent 200 in 30 days", c("orders", "orders_within",
                                   {"within_days": 30, "min_amount": 200}),
         spent_within(200, 30)),
        ("Emailable new or active, not wholesale",
         {"and": [c("email_consent", "==", True),
                  c("lifecycle_stage", "in", ["new", "active"]),
                  {"!": c("tags", "has_tag", "wholesale")}]},
         f"SELECT m.customer_id FROM {METRICS} m JOIN customers_customer c ON c.id = "
         f"m.customer_id WHERE c.email_consent AND m.lifecycle_stage IN ('new', 'active') "
         f"AND NOT c.tags @> '[\"wholesale\"]'"),
        ("Viewed 3+ products, no cart in 14 days",
         {"and": [c("events", "did_event", {"name": "product_view", "min_count": 3,
                                             "within_days": 14}),
                  c("events", "did_not_event", {"name": "cart_add", "within_days": 14})]},
         f"{events_at_least('product_view', 3, 14)} EXCEPT "
         f"{events_at_least('cart_add', 1, 14)}"),
        ("Abandoned a cart (24 h)", c("cart", "cart_abandoned", {"hours": 24}),
         CART_ABANDONED),
        ("Became dormant lately or 60-120 days quiet",
         {"or": [c("lifecycle_stage", "stage_changed_to",
                   {"stage": "dormant", "within_days": 30}),
                 c("recency_days", "between", [60, 120])]},
         f"{stage_changed('dormant', 30)} UNION SELECT customer_id FROM {METRICS} "
         f"WHERE last_order_at <= %(now)s::timestamptz - interval '60 days' "
         f"AND last_order_at > %(now)s::timestamptz - interval '121 days'"),
    ]


# --- loading ------------------------------------------------------------------------------------

def say(line: str) -> None:
    print(line, flush=True)


def connect(dbname: str = DB_NAME) -> psycopg.Connection:
    return psycopg.connect(f"{SERVER}/{dbname}", autocommit=True)


def load_or_reuse(customers: int, reuse: bool) -> None:
    """With `reuse`, keep the loaded data when it has this many customers; else load it."""
    if reuse and loaded(customers):
        migrate()
        say(f"reusing {DB_NAME}")
    else:
        say(f"loading {customers:,} customers into {DB_NAME}")
        load(customers)


def loaded(customers: int) -> bool:
    with connect("postgres") as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                             [DB_NAME]).fetchone():
            return False
    try:
        with connect() as conn:
            [n] = conn.execute("SELECT count(*) FROM customers_customer").fetchone()
            [m] = conn.execute(f"SELECT count(*) FROM {METRICS}").fetchone()
    except psycopg.errors.UndefinedTable:
        return False
    return n == customers and m == customers


def load(customers: int) -> None:
    with connect("postgres") as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB_NAME}")
    migrate()
    started = time.monotonic()
    with connect() as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("INSERT INTO customers_storefront (name, kind, currency, time_zone, "
                     "created_at) VALUES ('bench', 'web', 'USD', 'UTC', now())")
        [storefront] = conn.execute("SELECT id FROM customers_storefront").fetchone()
        metrics_bench.bulk_load(conn, "customers_customer",
                                lambda: conn.execute(CUSTOMERS_SQL, {"customers": customers}))
        metrics_bench.load_activity(conn)
        [first_id] = conn.execute("SELECT min(id) FROM customers_customer").fetchone()
        say(f"  {customers:,} customers ({time.monotonic() - started:.0f} s)")
        params = {"first_id": first_id, "buyers": int(customers * metrics_bench.BUYER_SHARE),
                  "storefront": storefront}
        total = customers * metrics_bench.ORDERS_PER_CUSTOMER
        step = metrics_bench.ORDER_CHUNK

        def orders() -> None:
            for start in range(1, total + 1, step):
                conn.execute(metrics_bench.ORDERS_SQL,
                             {**params, "start": start, "stop": min(start + step - 1, total)})

        metrics_bench.bulk_load(conn, "customers_order", orders)
        say(f"  {total:,} orders ({time.monotonic() - started:.0f} s)")
        metrics_bench.bulk_load(conn, "customers_event", lambda: conn.execute(EVENTS_SQL, {
            "first_id": first_id, "customers": customers, "storefront": storefront,
            "events": 3 * customers}))
        say(f"  {3 * customers:,} events ({time.monotonic() - started:.0f} s)")
        conn.execute("VACUUM ANALYZE")
    from customers.services.metrics import metrics_recompute_all

    metrics_recompute_all(cutoff=now_minus(days=1))
    with connect() as conn:
        conn.execute("VACUUM ANALYZE")
    say(f"  metrics computed ({time.monotonic() - started:.0f} s)")


def now_minus(**delta) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(**delta)


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
    os.environ["CELERY_BROKER_URL"] = BROKER
    os.environ["REDIS_URL"] = CACHE
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- measuring ------------------------------------------------------------------------------

def create_segments() -> dict[int, str]:
    """Every template (defaults) and the custom rules as segments; {segment id: floor SQL}."""
    from segments.library import TEMPLATES
    from segments.models import Segment
    from segments.services.segments import segment_save

    Segment.objects.all().delete()
    floors = {}
    missing = sorted(set(TEMPLATES) - set(TEMPLATE_FLOORS))
    if missing:
        raise SystemExit(f"no floor SQL for templates: {', '.join(missing)}")
    for key, template in TEMPLATES.items():
        segment = segment_save(Segment(name=str(template.name), template=key,
                                       rule=template.rule(template.example_params())),
                               evaluate=False)
        floors[segment.pk] = TEMPLATE_FLOORS[key]
    for name, rule, floor in custom_rules():
        floors[segment_save(Segment(name=name, rule=rule), evaluate=False).pk] = floor
    return floors


def time_floor(floors: dict[int, str], now: dt.datetime) -> tuple[float, dict[int, int]]:
    from django.conf import settings
    from django.db import connection, transaction

    from segments.services.sql import FULL_EVALUATION_SETTINGS, SETTINGS

    # Each statement under the planner's defaults and under the evaluation's own settings
    # (more work_mem, no JIT, no hash joins), twice each: the best counts, so that the floor
    # gains whatever the settings give the engine.
    setting_lists = [[], SETTINGS + FULL_EVALUATION_SETTINGS] * 2
    counts, total = {}, 0.0
    for segment_id, sql in floors.items():
        best = math.inf
        for settings_list in setting_lists:
            with transaction.atomic(), connection.cursor() as cursor:
                for statement in settings_list:
                    cursor.execute(statement)
                started = time.monotonic()
                cursor.execute(f"CREATE TEMPORARY TABLE floor_members ON COMMIT DROP AS {sql}",
                               {"now": now, "zone": settings.TIME_ZONE})
                best = min(best, time.monotonic() - started)
                cursor.execute("SELECT count(*) FROM floor_members")
                counts[segment_id] = cursor.fetchone()[0]
        total += best
    return total, counts


def time_evaluation(now: dt.datetime) -> tuple[float, dict]:
    from segments.services.evaluation import segments_evaluate_all

    started = time.monotonic()
    outcomes = segments_evaluate_all(now=now)
    return time.monotonic() - started, {o.segment_id: o for o in outcomes}


def vacuum_as_autovacuum_would() -> None:
    """The first evaluation inserted ~7.9M membership and log rows; autovacuum (off on this
    machine's PostgreSQL) vacuums a table after a fifth of its rows were inserted, so in
    production the hourly runs find the memberships all-visible. Untimed."""
    started = time.monotonic()
    with connect() as conn:
        for table in ("segments_segmentmembership", "segments_segmentchange"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
    say(f"  vacuumed the memberships and the change log, as autovacuum would after the first "
        f"evaluation ({time.monotonic() - started:.1f} s, untimed)")


def check_sizes(outcomes: dict, counts: dict[int, int]) -> None:
    from segments.models import Segment

    names = dict(Segment.objects.values_list("pk", "name"))
    for segment_id, count in counts.items():
        if outcomes[segment_id].size != count:
            say(f"  MISMATCH {names[segment_id]}: evaluated {outcomes[segment_id].size:,}, "
                f"floor {count:,}")


def time_previews(now: dt.datetime) -> tuple[float, str]:
    """The preview endpoint's work (segments.selectors.segment_preview) for every template."""
    from segments.library import TEMPLATES
    from segments.selectors import segment_preview

    slowest, slowest_key = 0.0, ""
    for key, template in TEMPLATES.items():
        started = time.monotonic()
        segment_preview(template.rule(template.example_params()), now=now)
        took = time.monotonic() - started
        if took > slowest:
            slowest, slowest_key = took, key
    return slowest, slowest_key


def wait_for_worker(timeout: float = 60) -> None:
    """Until the worker answers a ping, so its start-up is not timed as latency."""
    from config.celery import app

    started = time.monotonic()
    while not app.control.ping(timeout=0.5):
        if time.monotonic() - started > timeout:
            raise SystemExit("the Celery worker did not start within a minute")


def time_event_driven(posts: int) -> list[float]:
    """Post orders through the API; a separate worker process moves the customers."""
    from django.test import Client

    from customers.models import Storefront
    from customers.services.storefronts import storefront_key_create
    from segments.models import Segment, SegmentChange, SegmentMembership

    segment = Segment.objects.get(name="Bought twice, nothing for 90 days")
    customers = list(SegmentMembership.objects.filter(segment=segment)
                     .values_list("customer_id", "customer__external_id")[:posts])
    _key, raw_key = storefront_key_create(storefront=Storefront.objects.first())
    client = Client(headers={"authorization": f"Bearer {raw_key}"}, HTTP_HOST="127.0.0.1")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "solo", "-c", "1",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"],
        cwd=ROOT, env=os.environ.copy())
    latencies = []
    try:
        wait_for_worker()
        for n, (customer_id, external_id) in enumerate(customers):
            body = {"external_id": f"bench-{time.time_ns()}-{n}", "customer": external_id,
                    "amount": "30.00", "currency": "USD", "status": "paid",
                    "placed_at": dt.datetime.now(dt.UTC).isoformat()}
            response = client.post("/api/v1/orders/", body, content_type="application/json")
            if response.status_code not in (200, 201):
                raise SystemExit(f"the API refused the order: {response.content!r}")
            posted = time.monotonic()
            while not SegmentChange.objects.filter(segment=segment, customer_id=customer_id,
                                                   kind="exited").exists():
                if time.monotonic() - posted > 30:
                    raise SystemExit(f"customer {external_id} did not leave within 30 s")
                time.sleep(0.02)
            latencies.append(time.monotonic() - posted)
    finally:
        worker.terminate()
        worker.wait(30)
    return latencies


def verdict(label: str, seconds: float, target: float, floor: float | None = None) -> str:
    ratio = "" if floor is None else f"  {seconds / floor:.2f} x floor"
    ok = seconds <= target and (floor is None or seconds <= TARGET_RATIO * floor)
    return f"{label:<38} {seconds:8.2f} s{ratio}  {'meets' if ok else 'MISSES'} target"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep loaded data")
    parser.add_argument("--orders-posted", type=int, default=20)
    args = parser.parse_args()
    say(f"load average {os.getloadavg()[0]:.1f}")
    setup_django()
    load_or_reuse(args.customers, args.reuse)

    from customers.services.metrics import metrics_recompute_all, metrics_vacuum
    from customers.services.prediction import value_model_fit

    now = dt.datetime.now(dt.UTC)
    metrics_recompute_all(cutoff=now)
    metrics_vacuum()
    value_model_fit(now=now)  # so the prediction templates select someone
    floors = create_segments()
    say(f"{len(floors)} segments ({len(floors) - len(custom_rules())} templates + "
        f"{len(custom_rules())} custom rules)")
    floor, counts = time_floor(floors, now)
    first, outcomes = time_evaluation(now)
    check_sizes(outcomes, counts)
    vacuum_as_autovacuum_would()
    steady, _ = time_evaluation(now + dt.timedelta(hours=1))
    floor_later, _ = time_floor(floors, now + dt.timedelta(hours=1))
    floor = min(floor, floor_later)
    night_at = now + dt.timedelta(days=1)
    started = time.monotonic()
    metrics_recompute_all(cutoff=night_at)
    metrics_vacuum()  # as the nightly task does before the segments
    metrics_seconds = time.monotonic() - started
    night, outcomes = time_evaluation(night_at)
    _floor_night, counts = time_floor(floors, night_at)
    check_sizes(outcomes, counts)
    preview, preview_key = time_previews(now)
    latencies = time_event_driven(args.orders_posted)

    say("")
    say(f"{'(a) floor: all member sets':<38} {floor:8.2f} s")
    say(f"{'(b) first evaluation (all enter)':<38} {first:8.2f} s  {first / floor:.2f} x floor  "
        f"(once per segment: no target)")
    say(verdict("(c) steady, an hour later", steady, TARGET_ALL_SECONDS, floor))
    say(verdict("(d) segments after the nightly metrics", night, TARGET_ALL_SECONDS, floor))
    say(verdict("(d) metrics + segments", metrics_seconds + night, TARGET_WITH_METRICS_SECONDS))
    say(verdict(f"(e) slowest preview ({preview_key})", preview, TARGET_PREVIEW_SECONDS))
    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else latencies[0]
    say(f"    event-driven p50 {statistics.median(latencies):.2f} s over {len(latencies)} "
        f"orders")
    say(verdict("(f) event-driven change, p95", p95, TARGET_EVENT_P95_SECONDS))
    say(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
