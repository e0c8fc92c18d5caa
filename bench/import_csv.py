"""CSV import: rows per second through `manage.py import_csv` on PostgreSQL (target >= 100,000/s).

Creates its own PostgreSQL database (retentio_bench_csv, dropped and re-created), migrates it,
writes CSV files into /tmp (customers with every profile column, orders with line items on
half of them and events with properties on a third of them, both naming those customers), and
times `import_csv` for each file via call_command: COPY of the file, the checks (SQL twins of
the API's pydantic models, pydantic for JSON cells and doubtful rows) and the set-based
writes. As a yardstick of the machine (the target is absolute; machines here differ several
times over) it first times a bare COPY of each file into a temporary table of text columns:
no checks, no indexes, nothing written but the bytes. It imports the orders and the events
files again (every row unchanged) to time the idempotent pass. The load average is printed
before and after: the machine may be shared.

The line items of the default orders file repeat (500 distinct cells: pydantic checks each
distinct JSON cell once); --distinct-items gives every order its own.

    .venv/bin/python bench/import_csv.py [--customers 200000] [--orders 1000000]
                                          [--events 1000000] [--distinct-items]
"""

import argparse
import csv
import datetime as dt
import importlib
import io
import json
import os
import random
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "retentio_bench_csv"
PG = "postgres://postgres@127.0.0.1:5432"
TARGET = 100_000
OUT = Path("/tmp/retentio_bench_csv")  # noqa: S108 - a scratch folder for a local script
CITIES = [("Shanghai", "Asia/Shanghai"), ("Beijing", "Asia/Shanghai"),
          ("New York", "America/New_York"), ("London", "Europe/London")]


def database_recreate() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def django_setup() -> None:
    os.environ.update(
        DATABASE_URL=f"{PG}/{DB_NAME}", DEBUG="0", SECRET_KEY="bench-only-" + "x" * 50,
        DATA_DIR=str(OUT / "data"), LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="config.settings",
    )
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def customers_file(path: Path, count: int, rng: random.Random) -> None:
    start = dt.datetime(2022, 1, 1, tzinfo=dt.UTC)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["external_id", "email", "phone", "name", "gender", "birthday", "city",
                      "signup_at", "acquisition_channel", "time_zone", "email_consent",
                      "sms_consent", "tags", "attributes"])
        for n in range(count):
            city, tz = rng.choice(CITIES)
            out.writerow([
                f"c{n}", f"user{n}@example.com", f"+86 138 {n % 10000:04d} {n % 7777:04d}",
                f"Customer {n}", rng.choice(["female", "male", ""]),
                (dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(16000))).isoformat(),
                city, (start + dt.timedelta(minutes=rng.randrange(1_500_000))).isoformat(),
                rng.choice(["organic", "social", "paid_search"]), tz,
                rng.choice(["true", "false"]), rng.choice(["yes", "no"]),
                "vip|newsletter" if n % 10 == 0 else "", '{"tier": "gold"}' if n % 5 == 0 else "",
            ])


def orders_file(path: Path, count: int, customers: int, rng: random.Random,
                distinct_items: bool = False) -> None:
    # Naive times, as many exports have them: read in the storefront's time zone.
    start = dt.datetime(2022, 1, 1, tzinfo=dt.UTC).replace(tzinfo=None)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["external_id", "customer", "amount", "refunded_amount", "currency",
                      "status", "placed_at", "coupon_code", "items"])
        for n in range(count):
            quantity, price = ((rng.randrange(1, 5), f"{rng.randrange(100, 99999) / 100:.2f}")
                               if distinct_items else (1, "49.90"))
            items = json.dumps([{"sku": f"SKU-{rng.randrange(500)}", "quantity": quantity,
                                 "price": price}]) if n % 2 else ""
            status = rng.choices(["paid", "refunded", "cancelled"], [90, 6, 4])[0]
            out.writerow([
                f"o{n}", f"c{rng.randrange(customers)}", f"{rng.randrange(100, 100000) / 100:.2f}",
                "", "", status,
                (start + dt.timedelta(seconds=rng.randrange(90_000_000))).isoformat(" "),
                "SPRING20" if n % 7 == 0 else "", items,
            ])


def events_file(path: Path, count: int, customers: int, rng: random.Random) -> None:
    # Activity events with the storefront's own ids, naive times; a third carry properties.
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC).replace(tzinfo=None)
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["event_id", "customer", "name", "occurred_at", "properties"])
        for n in range(count):
            out.writerow([
                f"e{n}", f"c{rng.randrange(customers)}",
                rng.choice(["visit", "login", "cart_add", "search"]),
                (start + dt.timedelta(seconds=rng.randrange(30_000_000))).isoformat(" "),
                '{"page": "/home"}' if n % 3 == 0 else "",
            ])


def raw_copy_rate(path: Path, rows: int) -> float:
    """Rows per second of a bare COPY of the file into a temporary table of text columns
    (best of two): the least any import of it costs on this machine."""
    with path.open(newline="") as file:
        header = next(csv.reader(file))
    columns = ", ".join(f'"{name}" text' for name in header)
    best = float("inf")
    for _ in range(2):
        with psycopg.connect(f"{PG}/{DB_NAME}") as conn, path.open("rb") as file:
            conn.execute(f"CREATE TEMPORARY TABLE raw ({columns})")
            started = time.perf_counter()
            with conn.cursor().copy("COPY raw FROM STDIN (FORMAT csv, HEADER true)") as copy:
                while chunk := file.read(1 << 20):
                    copy.write(chunk)
            best = min(best, time.perf_counter() - started)
    return rows / best


def import_timed(kind: str, path: Path, rows: int) -> float:
    from django.core.management import call_command

    out = io.StringIO()
    started = time.perf_counter()
    call_command("import_csv", kind, str(path), rejects=OUT / f"{kind}.rejected.csv", stdout=out)
    seconds = time.perf_counter() - started
    print(f"  {out.getvalue().splitlines()[0]}")
    return rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--distinct-items", action="store_true",
                        help="a line item of its own for every order (not 500 repeated ones)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    customers, orders, events = OUT / "customers.csv", OUT / "orders.csv", OUT / "events.csv"
    print(f"Writing {args.customers:,} customers, {args.orders:,} orders and {args.events:,} "
          f"events into {OUT} ...")
    customers_file(customers, args.customers, rng)
    orders_file(orders, args.orders, args.customers, rng, args.distinct_items)
    events_file(events, args.events, args.customers, rng)
    database_recreate()
    django_setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # The command's modules (pydantic models, numpy, ...) load once per process, before any
    # file is opened (~0.15 s): loaded here, so that the first file timed is not charged
    # with them. Each figure is then the import itself, as the command reports it.
    importlib.import_module("customers.management.commands.import_csv")
    print(f"Database {DB_NAME}; target {TARGET:,} rows/s; load average {_load()}")
    raw = {kind: raw_copy_rate(path, rows) for kind, path, rows in
           (("customers", customers, args.customers), ("orders", orders, args.orders),
            ("events", events, args.events))}
    print("Bare COPY into text columns (this machine's yardstick): "
          + ", ".join(f"{kind} {rate:,.0f} rows/s" for kind, rate in raw.items()))
    runs = [("customers", customers, args.customers, "customers (new)"),
            ("orders", orders, args.orders, "orders (new)"),
            ("orders", orders, args.orders, "orders (again: unchanged)"),
            ("events", events, args.events, "events (new)"),
            ("events", events, args.events, "events (again: unchanged)")]
    for kind, path, rows, label in runs:
        rate = import_timed(kind, path, rows)
        print(f"{label:28} {rate:>10,.0f} rows/s   {rate / TARGET:.2f}x the target   "
              f"{rate / raw[kind]:.2f}x a bare COPY")
    print(f"Load average after: {_load()}")


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
