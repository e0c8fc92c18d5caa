"""Benchmark: server-side render time of every operator page against the 1 s target (issue 5).

Creates (or, with --reuse, keeps) the PostgreSQL database `retentio_bench_ui` with the data
of bench/segments.py (N customers, 10 x N orders, 3 x N events; its loader), then runs what
the nightly chain runs before operators look: the metrics recompute, the value model fit and
scoring, and the dashboard precompute (each timed). It adds the few rows the other pages need
(a segment from the RFM template, evaluated; a published campaign with a journey per
customer and its steps, coupons, redemptions and messages, written in SQL as bench/simulate.py
does), signs in an admin operator with Django's test Client and GETs every page RUNS times:
best and median in ms, and the median against the 1,000 ms target.

Pages whose URL names do not resolve (yet) are skipped with a note. Usage:
  nice .venv/bin/python bench/ui.py [--customers 1000000] [--reuse] [--runs 5]
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench import segments as data  # noqa: E402 - its data, loader and Django set-up

DB_NAME = "retentio_bench_ui"
TARGET_MS = 1000.0
STATEMENT_TIMEOUT_S = 60
data.DB_NAME = DB_NAME  # the segments bench's loader, pointed at this bench's own database
data.connect = lambda dbname=DB_NAME: psycopg.connect(f"{data.SERVER}/{dbname}",
                                                      autocommit=True)


def say(line: str) -> None:
    print(line, flush=True)


def timed(label: str, work):
    started = time.monotonic()
    result = work()
    say(f"  {label:<40} {time.monotonic() - started:8.2f} s")
    return result


def prepare() -> None:
    """The nightly chain, as of now: metrics, value model, dashboard figures."""
    from customers.services.dashboard import dashboard_figures_compute
    from customers.services.metrics import metrics_recompute_all
    from customers.services.prediction import value_model_fit

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    timed("metrics recompute", lambda: metrics_recompute_all(cutoff=now))
    fit = timed("value model fit + scoring", lambda: value_model_fit(now=now))
    say(f"    fit {fit.status}, {fit.scored:,} customers scored")
    rows = timed("dashboard precompute", lambda: dashboard_figures_compute(
        now=now, on_step=lambda line: say(f"    {line}")))
    say(f"    {rows} dashboard figures stored")


def campaign_with_journeys():
    """A published campaign (bench/simulate.py's graph: every node type that queries) with a
    journey for every customer, their steps, coupons, redemptions and deliveries, written in
    SQL by bench/simulate.py's statements: what the results page, the top campaigns figure
    and the customer pages read. Made once; --reuse keeps it."""
    from bench import simulate
    from campaigns.models import Campaign, CampaignVersion
    from segments.models import Segment

    campaign = Campaign.objects.filter(name="Bench campaign").first()
    if campaign is not None and campaign.current_version_id:
        return campaign
    started = time.monotonic()
    Segment.objects.get_or_create(name="everyone",
                                  defaults={"rule": {"!=": [{"var": "city"}, ""]}})
    graph, now = simulate.draft(), dt.datetime.now(dt.UTC)
    campaign, _ = Campaign.objects.update_or_create(name="Bench campaign", defaults={
        "draft_graph": graph, "status": Campaign.Status.ACTIVE, "activated_at": now,
        "holdout_percent": 10})
    version = CampaignVersion.objects.create(campaign=campaign, number=1, graph=graph,
                                             published_at=now)
    campaign.current_version = version
    campaign.save(update_fields=["current_version"])
    definition = simulate_definition()
    with data.connect() as conn:
        params = {"campaign": campaign.pk, "version": version.pk, "definition": definition}
        for statement in [simulate.JOURNEYS_SQL, simulate.STEPS_SQL, *simulate.TOUCHES_SQL]:
            conn.execute(statement, params)
        conn.execute("VACUUM ANALYZE")
    say(f"  {'campaign with a journey per customer':<40} {time.monotonic() - started:8.2f} s")
    return campaign


def simulate_definition() -> int:
    from campaigns.models import CouponDefinition

    return CouponDefinition.objects.get(name="bench 15%").pk


def fixtures() -> dict:
    """What the pages with an id in their URL show: one of each, made once."""
    from campaigns.models import CouponDefinition, MessageTemplate
    from customers.models import CustomerMetrics
    from segments.library import template_rule
    from segments.models import Segment

    segment, _ = Segment.objects.get_or_create(
        name="Bench: important value", defaults={
            "rule": template_rule("rfm_important_value"), "template": "rfm_important_value"})
    if segment.last_evaluated_at is None:
        from segments.services.evaluation import segment_evaluate

        timed("evaluating the RFM segment", lambda: segment_evaluate(segment.pk))
    campaign = campaign_with_journeys()
    definition = CouponDefinition.objects.get(name="bench 15%")
    template = MessageTemplate.objects.filter(channel="email").order_by("pk").first()
    # The busiest customer: the longest timeline, the most sections filled.
    busiest = CustomerMetrics.objects.order_by("-order_count").select_related("customer") \
        .first().customer
    return {"segment": segment.pk, "campaign": campaign.pk, "coupon": definition.pk,
            "template": template.pk, "customer": busiest.external_id}


def pages(ids: dict) -> list[tuple[str, list[tuple[str, tuple]], dict]]:
    """(label, candidate URL names with their args, query): the first name that resolves."""
    dashboard = [("dashboard", ())]
    customers = [("customer-list", ())]
    return [
        ("dashboard", dashboard, {}),
        ("dashboard: by channel", dashboard, {"dimension": "acquisition_channel"}),
        ("dashboard: by city", dashboard, {"dimension": "city"}),
        ("dashboard: by age band", dashboard, {"dimension": "age_band"}),
        ("customer list", customers, {}),
        ("customer list, page 100", customers, {"page": "100"}),
        ("customer search: id prefix", customers, {"q": "c12345"}),
        ("customer search: email", customers, {"q": "c777@example.com"}),
        ("customer search: name", customers, {"q": "customer 4242"}),
        ("customer search: no match", customers, {"q": "zzz-nobody"}),
        ("customers in an RFM class", customers, {"rfm_class": "important_value"}),
        ("customers in a stage, page 20", customers, {"stage": "active", "page": "20"}),
        ("customer page (busiest)", [("customer-detail", (ids["customer"],))], {}),
        ("value model", [("value-model", ())], {}),
        ("segment list", [("segment-list", ())], {}),
        ("segment detail", [("segment-detail", (ids["segment"],))], {}),
        ("segment edit", [("segment-edit", (ids["segment"],))], {}),
        ("segment new", [("segment-new", ())], {}),
        ("campaign list", [("campaign-list", ())], {}),
        ("campaign new", [("campaign-create", ())], {}),
        ("campaign canvas", [("campaign-canvas", (ids["campaign"],))], {}),
        ("campaign results", [("campaign-results", (ids["campaign"],))], {}),
        ("campaign results: figures", [("campaign-results-figures", (ids["campaign"],))], {}),
        ("coupon list", [("coupon-list", ())], {}),
        ("coupon detail", [("coupon-detail", (ids["coupon"],))], {}),
        ("template list", [("template-list", ())], {}),
        ("template editor", [("template-edit", (ids["template"],))], {}),
        ("webhooks", [("webhook-list", ())], {}),
        ("settings", [("settings", ())], {}),
    ]


def resolve(candidates: list[tuple[str, tuple]]) -> str | None:
    from django.urls import NoReverseMatch, reverse

    for name, args in candidates:
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            continue
    return None


def operator_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    from customers.roles import Role, role_group

    user, _ = get_user_model().objects.get_or_create(username="bench-admin")
    user.groups.add(role_group(Role.ADMIN))
    client = Client()
    client.force_login(user)
    return client


def time_page(client, url: str, query: dict, runs: int) -> tuple[list[float], str]:
    """Render times in ms and the last status; a page past the statement timeout is timed
    once and reported, so one slow page cannot hold up the table."""
    from django.db import connection

    timings, status = [], ""
    for _run in range(runs):
        started = time.perf_counter()
        try:
            status = str(client.get(url, query).status_code)
        except Exception as error:  # reported in the table: the bench goes on
            connection.close()  # a cancelled statement leaves the transaction unusable
            timings.append((time.perf_counter() - started) * 1000)
            return timings, f"failed: {type(error).__name__}: {str(error)[:60]}"
        timings.append((time.perf_counter() - started) * 1000)
    return timings, status


def measure(runs: int, ids: dict) -> None:
    from django.conf import settings

    settings.DEBUG = False  # no query log: time what production does
    # Every new connection gives up on a statement after STATEMENT_TIMEOUT_S (see time_page).
    settings.DATABASES["default"].setdefault("OPTIONS", {})["options"] = \
        f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000}"
    from django.db import connection

    connection.close()
    client = operator_client()
    say("")
    say(f"{'page':<32} {'best ms':>9} {'median ms':>10} {'x target':>9}  status")
    worst = 0.0
    for label, candidates, query in pages(ids):
        url = resolve(candidates)
        if url is None:
            names = ", ".join(name for name, _args in candidates)
            say(f"{label:<32} skipped: no URL named {names} yet")
            continue
        timings, status = time_page(client, url, query, runs)
        median = statistics.median(timings)
        worst = max(worst, median)
        say(f"{label:<32} {min(timings):9.1f} {median:10.1f} {median / TARGET_MS:9.2f}  "
            f"{status}{'' if median <= TARGET_MS else '  MISSES 1 s'}")
    say(f"slowest median {worst:.1f} ms: {'meets' if worst <= TARGET_MS else 'MISSES'} "
        f"the {TARGET_MS:.0f} ms target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep loaded data")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages-only", action="store_true",
                        help="with --reuse: skip the metrics, value model and precompute")
    args = parser.parse_args()
    say(f"load average {os.getloadavg()[0]:.1f}")
    data.setup_django()
    data.load_or_reuse(args.customers, args.reuse)
    ids = fixtures()  # before the precompute: the campaign counts among the top campaigns
    if not (args.reuse and args.pages_only):
        prepare()
    measure(args.runs, ids)
    say(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
