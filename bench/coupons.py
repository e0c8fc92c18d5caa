"""Coupon validate and redeem latency under gunicorn at a constant request rate.

Targets (issue 4): validate p99 <= 25 ms at 400 requests/s, redeem p99 <= 50 ms at 300
requests/s.

Creates its own PostgreSQL database (retentio_bench_coupons, dropped and re-created), migrates
it, loads N customers (default 100,000) each holding one personal code of a 10%-off definition,
plus one shared code, creates a storefront key, and starts gunicorn (this virtualenv's,
config.wsgi, DEBUG off, Redis as the cache for the throttles) on a free local port.

The client is open-loop: a small asyncio HTTP/1.1 client sends request i at start + i / rate
whatever the server's answers, over keep-alive connections it opens as needed, and measures
each latency from the request's scheduled time (so a slow answer delays no later request and
queueing shows in the figures; a closed-loop tool such as wrk slows down with the server and
hides it). Each phase runs a few seconds of warm-up at the same rate, then the measured
seconds:

- validate: 85% a customer's own code, 10% the shared code, 5% someone else's code;
- redeem: each request a different unused personal code with its owner and a new order
  (90%), or the shared code for a new order (10%, all on one hot coupon row).

Other work on the machine steals the same two cores; the script prints how much of them other
processes used during each phase, and the CPU per request of gunicorn, PostgreSQL and this
client.

    .venv/bin/python bench/coupons.py [--customers 100000] [--seconds 30] [--threads 2]
"""

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
GUNICORN = PYTHON.parent / "gunicorn"
DB_NAME = "retentio_bench_coupons"
PG = "postgres://postgres@127.0.0.1:5432"
TARGETS = {"validate": (400, 25.0), "redeem": (300, 50.0)}  # requests/s, p99 ms at most
WARMUP_SECONDS = 3

LOAD = """
import random
from decimal import Decimal
from django.utils import timezone
from campaigns.models import Coupon
from campaigns.services.coupons import coupon_definition_save, new_code
from customers.models import Customer

n, now = {customers}, timezone.now()
personal = coupon_definition_save(name="bench 10%", kind="percentage", value=Decimal(10),
                                  min_order_amount=Decimal(20), max_discount=Decimal(50),
                                  valid_days=30, code_prefix="B")
coupon_definition_save(name="bench shared", kind="fixed", value=Decimal(5),
                       shared_code="BENCHSHARED", per_customer_limit=1000)
for start in range(0, n, 10000):
    customers = Customer.objects.bulk_create(
        Customer(external_id=f"c{{i}}") for i in range(start, min(start + 10000, n)))
    Coupon.objects.bulk_create(
        Coupon(definition=personal, code=new_code("B"), customer=customer, issued_at=now,
               expires_at=now + timezone.timedelta(days=30)) for customer in customers)
"""


# --- the server -----------------------------------------------------------------------------

def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DATABASE_URL=f"{PG}/{DB_NAME}", DEBUG="0", SECRET_KEY="bench-only-" + "x" * 50,
        SECURE_SSL_REDIRECT="0", ALLOWED_HOSTS="127.0.0.1", API_THROTTLE_RATE=args.rate_limit,
        # ERROR: Django logs every refused redeem (a 409) as a warning.
        REDIS_URL=args.redis, CELERY_BROKER_URL=args.redis, LOG_LEVEL="ERROR",
        DATA_DIR=str(Path(tempfile.gettempdir()) / DB_NAME),
        CONN_HEALTH_CHECKS="1" if args.health_checks else "0",
    )
    return env


def database_recreate() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def database_exists() -> bool:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                 [DB_NAME]).fetchone())


def database_drop() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def manage(args: argparse.Namespace, *command: str) -> str:
    result = subprocess.run([str(PYTHON), "manage.py", *command], cwd=ROOT,
                            env=server_env(args), capture_output=True, text=True, check=True,
                            timeout=900)
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_start(port: int, args: argparse.Namespace) -> subprocess.Popen:
    command = [str(GUNICORN), "config.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", str(args.workers), "--worker-class", args.worker_class,
               "--threads", str(args.threads), "--keep-alive", "60", "--backlog", "2048",
               "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=ROOT, env=server_env(args), start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Connection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return process
        except OSError:
            time.sleep(0.2)
    gunicorn_stop(process)
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def gunicorn_stop(process: subprocess.Popen) -> None:
    # The master and its workers share the session started for them; stop exactly that group.
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _cpu(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)"; utime, stime are 11, 12
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds all processes have used since boot (every core), from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def server_cpu(master: int) -> dict[str, dict[int, float]]:
    """CPU seconds so far of gunicorn (master, workers) and of the bench database's backends."""
    web = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                web.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    with psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True) as conn:
        backends = [pid for (pid,) in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [DB_NAME])]
    return {"web": {pid: _cpu(pid) for pid in web},
            "postgres": {pid: _cpu(pid) for pid in backends}}


def cpu_used(before: dict[str, dict[int, float]],
             after: dict[str, dict[int, float]]) -> dict[str, float]:
    return {group: sum(seconds - before[group].get(pid, 0.0) for pid, seconds in pids.items())
            for group, pids in after.items()}


# --- the requests ---------------------------------------------------------------------------

def load_codes() -> tuple[list[tuple[str, str]], str]:
    """(code, owner external id) of every unused personal code, and the shared code."""
    with psycopg.connect(f"{PG}/{DB_NAME}") as conn:
        rows = conn.execute(
            "SELECT c.code, u.external_id FROM campaigns_coupon c "
            "JOIN customers_customer u ON u.id = c.customer_id WHERE c.redemptions = 0 "
            "ORDER BY c.id").fetchall()
    return rows, "BENCHSHARED"


def _amount(rng: random.Random) -> str:
    return f"{rng.uniform(20, 300):.2f}"


def validate_bodies(n: int, codes: list[tuple[str, str]], shared: str,
                    rng: random.Random) -> list[bytes]:
    bodies = []
    for _i in range(n):
        code, owner = rng.choice(codes)
        roll = rng.random()
        if roll < 0.10:
            code = shared
        elif roll < 0.15:
            owner = rng.choice(codes)[1]  # someone else's code: not_yours
        # Typed as a customer would: grouped with dashes, lower case now and then.
        typed = "-".join(code[i:i + 5] for i in range(0, len(code), 5))
        bodies.append(json.dumps({"code": typed.lower() if roll > 0.9 else typed,
                                  "customer_external_id": owner,
                                  "order_amount": _amount(rng)}).encode())
    return bodies


def redeem_bodies(n: int, codes: list[tuple[str, str]], shared: str, rng: random.Random,
                  prefix: str) -> list[bytes]:
    unused = rng.sample(codes, min(n, len(codes)))
    bodies = []
    for i in range(n):
        code, owner = unused[i % len(unused)]
        if rng.random() < 0.10:
            code, owner = shared, rng.choice(codes)[1]
        bodies.append(json.dumps({"code": code, "customer_external_id": owner,
                                  "order_external_id": f"{prefix}{i}",
                                  "order_amount": _amount(rng)}).encode())
    return bodies


# --- the open-loop client -------------------------------------------------------------------

class Client:
    """HTTP/1.1 over asyncio streams: keep-alive connections, opened as requests need them."""

    def __init__(self, port: int, key: str):
        self.port, self.key = port, key
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def _connection(self):
        if self.idle:
            return self.idle.pop()
        self.opened += 1
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, path: str, body: bytes) -> int:
        reader, writer = await self._connection()
        writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Authorization: Bearer {self.key}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            writer.close()
        else:
            self.idle.append((reader, writer))
        return status


async def _drive(client: Client, path: str, bodies: list[bytes], rate: float
                 ) -> list[tuple[float, float, int]]:
    """Send bodies[i] at start + i / rate; (scheduled offset s, latency ms, status) each."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    results: list[tuple[float, float, int]] = []

    async def one(body: bytes, at: float) -> None:
        try:
            status = await client.post(path, body)
        except (OSError, asyncio.IncompleteReadError):
            status = 0
        results.append((at - start, (loop.time() - at) * 1000, status))

    tasks = []
    for i, body in enumerate(bodies):
        at = start + i / rate
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(body, at)))
    await asyncio.gather(*tasks)
    return results


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def phase(name: str, port: int, key: str, bodies: list[bytes], args: argparse.Namespace,
          master: int) -> dict:
    rate, limit = TARGETS[name]
    rate = args.rate_scale * rate
    warm = int(rate * WARMUP_SECONDS)
    client = Client(port, key)
    path = f"/api/v1/coupons/{name}/"
    asyncio.run(_drive(client, path, bodies[:warm], rate))
    before, client_before, busy_before = server_cpu(master), time.process_time(), machine_busy()
    started = time.perf_counter()
    results = asyncio.run(_drive(Client(port, key), path, bodies[warm:], rate))
    seconds = time.perf_counter() - started
    used = {**cpu_used(before, server_cpu(master)),
            "client": time.process_time() - client_before}
    others = max(0.0, machine_busy() - busy_before - sum(used.values())) / seconds
    return report(name, results, seconds, used, others, rate, limit)


def report(name: str, results: list, seconds: float, used: dict[str, float], others: float,
           rate: float, limit: float) -> dict:
    latencies = sorted(latency for _at, latency, _status in results)
    statuses: dict[int, int] = {}
    for _at, _latency, status in results:
        statuses[status] = statuses.get(status, 0) + 1
    n = len(results)
    p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
    achieved = n / seconds
    cpu_ms = {group: value * 1000 / n for group, value in used.items()}
    verdict = "meets" if p99 <= limit and achieved >= 0.97 * rate else "MISSES"
    print(f"{name:<8} {n:,} requests in {seconds:.1f} s = {achieved:.0f}/s "
          f"(target {rate:.0f}/s, ratio {achieved / rate:.2f}x); answers {statuses}\n"
          f"         latency ms p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  max "
          f"{latencies[-1]:.1f}; p99 {p99:.1f} ms against {limit:.0f} ms: {verdict} "
          f"(p99 / limit = {p99 / limit:.2f}, headroom {limit / p99:.1f}x)\n"
          f"         CPU per request ms: "
          + ", ".join(f"{group} {value:.2f}" for group, value in cpu_ms.items())
          + f"; other processes meanwhile used {others:.2f} of the 2 cores", flush=True)
    return {"p99": p99, "achieved": achieved, "verdict": verdict}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14",
                        help="Redis database for the server's cache (flushed)")
    parser.add_argument("--rate-limit", default="1000000/min",
                        help="API_THROTTLE_RATE of the server (one key sends everything)")
    parser.add_argument("--rate-scale", type=float, default=1.0,
                        help="multiply both target rates (to find where it breaks)")
    parser.add_argument("--only", choices=["validate", "redeem"])
    parser.add_argument("--no-health-checks", dest="health_checks", action="store_false",
                        help="CONN_HEALTH_CHECKS=0: no SELECT 1 before each request's queries")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded database")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    if args.reuse and not database_exists():
        raise SystemExit(f"no {DB_NAME} to reuse: run once without --reuse (with --keep)")
    if not args.reuse:
        print(f"database {DB_NAME}: re-creating, migrating, loading {args.customers:,} "
              "customers with a code each ...", flush=True)
        database_recreate()
        manage(args, "migrate", "--noinput")
        manage(args, "shell", "-c", LOAD.format(customers=args.customers))
        with psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    key = manage(args, "create_storefront", f"bench-{time.time():.0f}").strip().splitlines()[-1]
    redis.Redis.from_url(args.redis).flushdb()
    codes, shared = load_codes()
    rng = random.Random(4)
    port = free_port()
    print(f"gunicorn: {args.workers} workers x {args.threads} threads ({args.worker_class}), "
          f"CONN_HEALTH_CHECKS {'on' if args.health_checks else 'off'}; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    process = gunicorn_start(port, args)
    results = {}
    try:
        for name in ("validate", "redeem"):
            if args.only and args.only != name:
                continue
            n = int(TARGETS[name][0] * args.rate_scale * (args.seconds + WARMUP_SECONDS))
            bodies = validate_bodies(n, codes, shared, rng) if name == "validate" \
                else redeem_bodies(n, codes, shared, rng, f"bench-{time.time():.0f}-")
            results[name] = phase(name, port, key, bodies, args, process.pid)
    finally:
        gunicorn_stop(process)
        redis.Redis.from_url(args.redis).flushdb()
    if not (args.keep or args.reuse):
        database_drop()
    for name, result in results.items():
        rate, limit = TARGETS[name]
        print(f"coupon {name} {result['verdict']} its target: p99 {result['p99']:.1f} ms at "
              f"{result['achieved']:.0f}/s (target p99 <= {limit:.0f} ms at {rate}/s)")


if __name__ == "__main__":
    main()
