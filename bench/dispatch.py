"""Benchmark: a campaign that issues a coupon and renders and "sends" an email to every one of
N customers (issue 4 targets), end to end through Celery.

Creates (or, with --reuse, keeps) the PostgreSQL database `retentio_bench_dispatch` with N
customers (default 1,000,000, all with an email address and consent) and a segment holding
them all. Then:

  (a) floor:  the same coupon rows and delivery rows written by one INSERT ... SELECT each
              (rolled back; best of two);
  (b) run:    a campaign "scheduled (now) -> issue coupon -> send email -> exit" is published;
              two Celery worker processes (Redis broker) enter the journeys, run them in
              batches and dispatch the deliveries to a stand-in provider (bench/fake_provider:
              builds each message's MIME bytes, records its idempotency key in Redis). Timed
              from the trigger until every delivery is sent;
  (c) twice:  every journey is put back at its first step, as if every batch's work had been
              lost and its task ran again; the runner and dispatcher go round once more.
              Coupons, deliveries and the provider's accepted messages must not grow.

The machine's PostgreSQL has autovacuum off; meanwhile the bench vacuums and analyzes the
campaign tables every 10 s, as autovacuum would in production.

Targets: >= 5,000 deliveries/s end to end (1M within 5 minutes); zero duplicates after (c).
Usage: .venv/bin/python bench/dispatch.py [--customers 1000000] [--reuse] [--workers 2]
"""

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import fake_provider  # noqa: E402
import psycopg  # noqa: E402

SERVER = "postgres://postgres@127.0.0.1:5432"
DB_NAME = "retentio_bench_dispatch"
BROKER = "redis://127.0.0.1:6379/12"
CACHE = "redis://127.0.0.1:6379/13"
PROVIDER = "redis://127.0.0.1:6379/11"
TARGET_PER_SECOND = 5_000

CUSTOMERS_SQL = """
INSERT INTO customers_customer
    (external_id, email, phone, name, gender, city, acquisition_channel, time_zone,
     email_consent, email_consent_at, sms_consent, attributes, tags, language, created_at,
     updated_at)
SELECT 'c' || g, 'c' || g || '@example.com', '', 'Customer ' || g, '',
       (ARRAY['Shanghai', 'Beijing', 'Shenzhen', 'Hangzhou', 'Chengdu'])[1 + g %% 5], 'organic',
       'UTC', true, now(), false, '{}'::jsonb, '[]'::jsonb, '', now(), now()
FROM generate_series(1, %(customers)s) g
"""
FLOOR_COUPONS = """
INSERT INTO campaigns_coupon (definition_id, code, customer_id, campaign_id, node, status,
                              max_redemptions, redemptions, issued_at, expires_at)
SELECT %(definition)s, upper(substr(md5(random()::text), 1, 10)) || m.customer_id,
       m.customer_id, %(campaign)s, 'coupon', 'active', 1, 0, now(), now() + interval '7 days'
FROM segments_segmentmembership m WHERE m.segment_id = %(segment)s
"""
FLOOR_DELIVERIES = """
INSERT INTO campaigns_delivery (campaign_id, node, customer_id, channel, template_id, status,
                                reason, error, due_at, attempts, address, subject, body,
                                created_at, test)
SELECT %(campaign)s, 'mail', m.customer_id, 'email', %(template)s, 'queued', '', '', now(), 0,
       '', '', '', now(), false
FROM segments_segmentmembership m WHERE m.segment_id = %(segment)s
"""
TEMPLATE_SUBJECT = "{{ customer.name }}, a gift for you"
TEMPLATE_BODY = ("<p>Hello {{ customer.name }},</p><p>Here is {{ coupon.discount }} your next "
                 "order with code <b>{{ coupon.code }}</b>, valid until "
                 "{{ coupon.expires_at|date:'j M Y' }}.</p>"
                 "<p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p>")


def connect(dbname: str = DB_NAME) -> psycopg.Connection:
    return psycopg.connect(f"{SERVER}/{dbname}", autocommit=True)


def say(line: str) -> None:
    print(line, flush=True)


def setup_django() -> None:
    # DEBUG off, as in production: with it on, Django also logs every statement a worker
    # runs (connection.queries), which a production worker never pays for.
    os.environ.update({"DATABASE_URL": f"{SERVER}/{DB_NAME}", "REDIS_URL": CACHE,
                       "CELERY_BROKER_URL": BROKER, "DEBUG": "0",
                       "SECRET_KEY": "bench-only-" + "x" * 50,
                       "DJANGO_SETTINGS_MODULE": "config.settings"})
    import django

    django.setup()


def prepare(customers: int, reuse: bool) -> None:
    with connect("postgres") as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                               [DB_NAME]).fetchone()
        if not reuse or not exists:
            admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {DB_NAME}")
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    with connect() as conn:
        [count] = conn.execute("SELECT count(*) FROM customers_customer").fetchone()
        if count != customers:
            started = time.monotonic()
            conn.execute("TRUNCATE customers_customer CASCADE")
            conn.execute(CUSTOMERS_SQL, {"customers": customers})
            conn.execute("VACUUM ANALYZE customers_customer")
            say(f"  {customers:,} customers loaded ({time.monotonic() - started:.0f} s)")
        conn.execute("TRUNCATE campaigns_campaign, campaigns_coupondefinition, "
                     "campaigns_messagetemplate, segments_segment CASCADE")


def make_campaign():
    """The audience segment (every customer), a coupon definition, an email template and
    the campaign's graph, saved as a draft. The delivery controls stay on (a cap of 3 per
    7 days) but without quiet hours, so the figures do not depend on the hour of the run."""
    from campaigns.models import Campaign, CouponDefinition, DeliverySettings, MessageTemplate
    from campaigns.services.campaigns import campaign_save
    from segments.models import Segment

    DeliverySettings.objects.update_or_create(pk=1, defaults={
        "cap_messages": 3, "cap_days": 7, "quiet_channels": []})
    segment = Segment.objects.create(name="Everyone", rule={"and": []})
    with connect() as conn:
        conn.execute("INSERT INTO segments_segmentmembership (segment_id, customer_id, "
                     "entered_at) SELECT %s, id, now() FROM customers_customer", [segment.pk])
        conn.execute("VACUUM ANALYZE segments_segmentmembership")
    definition = CouponDefinition.objects.create(name="15% off", kind="percentage", value=15,
                                                 valid_days=7, code_prefix="GIFT")
    template = MessageTemplate.objects.create(name="Gift", channel="email",
                                              subject=TEMPLATE_SUBJECT, body=TEMPLATE_BODY)
    graph = {"nodes": [
        {"id": "start", "type": "scheduled",
         "config": {"segment": segment.pk, "at": "2020-01-01T00:00:00+00:00"}},
        {"id": "coupon", "type": "issue_coupon", "config": {"definition": definition.pk}},
        {"id": "mail", "type": "send_message",
         "config": {"channel": "email", "template": template.pk}},
        {"id": "end", "type": "exit", "config": {}},
        {"id": "none", "type": "exit", "config": {}},
    ], "edges": [
        {"source": "start", "target": "coupon"},
        {"source": "coupon", "port": "issued", "target": "mail"},
        {"source": "coupon", "port": "not_issued", "target": "none"},
        {"source": "mail", "target": "end"},
    ]}
    campaign = campaign_save(Campaign(name="Gift to everyone"), draft_graph=graph)
    return campaign, segment, definition, template


def time_floor(campaign, segment, definition, template) -> float:
    params = {"campaign": campaign.pk, "segment": segment.pk, "definition": definition.pk,
              "template": template.pk}
    best = float("inf")
    for _attempt in range(2):
        with connect() as conn:
            conn.execute("BEGIN")
            started = time.monotonic()
            conn.execute(FLOOR_COUPONS, params)
            conn.execute(FLOOR_DELIVERIES, params)
            best = min(best, time.monotonic() - started)
            conn.execute("ROLLBACK")
    return best


def start_workers(processes: int) -> subprocess.Popen:
    env = {**os.environ, "CAMPAIGNS_EMAIL_BACKEND": "fake_provider.EmailBackend",
           "FAKE_PROVIDER_REDIS": PROVIDER, "CAMPAIGNS_CONCURRENCY": str(processes),
           "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "prefork",
         "-c", str(processes), "--loglevel=WARNING", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env)
    from config.celery import app

    for _attempt in range(60):
        if app.control.ping(timeout=1):
            return worker
    worker.kill()
    raise SystemExit("the Celery workers did not answer")


HOT_TABLES = ("campaigns_journey", "campaigns_journeystep", "campaigns_coupon",
              "campaigns_delivery", "campaigns_coupondefinition")
VACUUM_EVERY = 10  # seconds


def counts() -> dict[str, int]:
    """What is left to do, read from the partial indexes the runner and the dispatcher use
    (cheap while the run goes on); the totals only once nothing is left."""
    with connect() as conn:
        left = dict(zip(("journeys_active", "deliveries_pending"), conn.execute(
            "SELECT (SELECT count(*) FROM campaigns_journey WHERE status = 'active'), "
            "(SELECT count(*) FROM campaigns_delivery WHERE status IN ('queued', 'sending'))"
        ).fetchone(), strict=True))
        if any(left.values()):
            return left
        return left | dict(zip(("coupons", "deliveries", "sent"), conn.execute(
            "SELECT (SELECT count(*) FROM campaigns_coupon), "
            "(SELECT count(*) FROM campaigns_delivery), "
            "(SELECT count(*) FROM campaigns_delivery WHERE status = 'sent')").fetchone(),
            strict=True))


def autovacuum(stop: threading.Event) -> None:
    """This machine's PostgreSQL runs with autovacuum off (a setting of the shared server,
    not of the product); production PostgreSQL vacuums and analyzes busy tables on its own.
    So the bench does the same for the campaign tables every VACUUM_EVERY seconds, or the
    planner would keep planning for the empty tables of the start."""
    with connect() as conn:
        while not stop.wait(VACUUM_EVERY):
            for table in HOT_TABLES:
                conn.execute(f"VACUUM (ANALYZE) {table}")


def wait_until(done, started: float, label: str) -> float:
    last = 0.0
    while True:
        now = counts()
        if done(now):
            seconds = time.monotonic() - started
            say(f"  {label}: {seconds:.1f} s  {now}")
            return seconds
        if time.monotonic() - last > 10:
            say(f"    {time.monotonic() - started:6.1f} s  {now}")
            last = time.monotonic()
        time.sleep(1)


def run_campaign(campaign, customers: int) -> float:
    from campaigns.services.campaigns import campaign_publish
    from campaigns.tasks import consume_triggers_task

    fake_provider.reset(PROVIDER)
    started = time.monotonic()
    campaign_publish(campaign)
    consume_triggers_task.delay()
    wait_until(lambda c: c["journeys_active"] or c["deliveries_pending"], started,
               "journeys entered")
    wait_until(lambda c: c["journeys_active"] == 0, started, "journeys done")
    seconds = wait_until(lambda c: c.get("sent") == customers, started, "every delivery sent")
    final = counts()
    if (final["coupons"], final["deliveries"]) != (customers, customers):
        say(f"  ✗ expected {customers:,} coupons and deliveries: {final}")
    return seconds


def run_twice(campaign, customers: int) -> None:
    from campaigns.tasks import advance_task, dispatch_task

    with connect() as conn:
        conn.execute("UPDATE campaigns_journey SET node = 'coupon', step = 1, "
                     "status = 'active', due_at = now(), finished_at = NULL "
                     "WHERE campaign_id = %s", [campaign.pk])
    started = time.monotonic()
    for _chain in range(2):
        advance_task.delay()
        dispatch_task.delay()
    wait_until(lambda c: not c["journeys_active"] and not c["deliveries_pending"], started,
               "every batch done again")
    final = counts()
    accepted, keys = fake_provider.counts(PROVIDER)
    say(f"  after the second pass: coupons {final['coupons']:,}, deliveries "
        f"{final['deliveries']:,}, sent {final['sent']:,}; provider accepted {accepted:,} "
        f"messages with {keys:,} distinct keys")
    duplicates = (final["coupons"] - customers) + (final["deliveries"] - customers) + (
        accepted - keys) + (keys - customers)
    say(f"  duplicates: {duplicates} {'✓' if duplicates == 0 else '✗'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    say(f"load average: {os.getloadavg()[0]:.2f}")
    prepare(args.customers, args.reuse)
    campaign, segment, definition, template = make_campaign()
    floor = time_floor(campaign, segment, definition, template)
    say(f"(a) floor: {args.customers:,} coupons + {args.customers:,} deliveries by INSERT ... "
        f"SELECT: {floor:.1f} s")
    from config.celery import app

    app.control.purge()
    workers = start_workers(args.workers)
    stop = threading.Event()
    threading.Thread(target=autovacuum, args=(stop,), daemon=True).start()
    try:
        seconds = run_campaign(campaign, args.customers)
        rate = args.customers / seconds
        say(f"(b) end to end: {args.customers:,} deliveries in {seconds:.1f} s = {rate:,.0f}/s "
            f"(target >= {TARGET_PER_SECOND:,}/s: {rate / TARGET_PER_SECOND:.2f}x "
            f"{'✓' if rate >= TARGET_PER_SECOND else '✗'}; {seconds / floor:.1f}x the floor)")
        say("(c) every batch again:")
        run_twice(campaign, args.customers)
    finally:
        stop.set()
        workers.terminate()
        workers.wait(timeout=60)
    say(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
