import datetime as dt
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from customers.models import Customer, Event, Order
from customers.services.demo import STOREFRONT_PRESETS, demo_delete, demo_seed


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--anchor: {value!r} is not a date (YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = (
        "Fill an empty database with a realistic synthetic shop: storefronts, customers, orders "
        "and events. The same --seed and --anchor always give the same data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--anchor", type=_date, default=None,
            help="Day the data ends (midnight UTC), YYYY-MM-DD. Default: today (UTC).")
        parser.add_argument(
            "--storefronts", nargs="+", choices=list(STOREFRONT_PRESETS),
            default=list(STOREFRONT_PRESETS), help="Which demo storefronts to create.")
        parser.add_argument(
            "--force", action="store_true",
            help="Seed even if the database has data (earlier demo rows are replaced).")

    def handle(self, *args, customers, seed, anchor, storefronts, force, **options):
        if customers < 0:
            raise CommandError("--customers must be 0 or more")
        self._check_empty(force)
        anchor = anchor or dt.datetime.now(dt.UTC).date()
        with tqdm(total=customers, desc="customers", unit="", file=sys.stderr,
                  disable=None) as bar:
            summary = demo_seed(customers=customers, seed=seed, anchor=anchor,
                                storefront_kinds=storefronts, progress=bar.update)
        self.stdout.write(
            f"Seeded {summary.customers:,} customers, {summary.orders:,} orders and "
            f"{summary.events:,} events in {summary.storefronts} storefronts "
            f"(seed {seed}, data up to {anchor.isoformat()})."
        )

    def _check_empty(self, force: bool) -> None:
        counts = {model._meta.verbose_name_plural: model.objects.count()
                  for model in (Customer, Order, Event)}
        if not any(counts.values()):
            return
        existing = ", ".join(f"{n:,} {name}" for name, n in counts.items() if n)
        if not force:
            raise CommandError(
                f"The database already holds {existing}; seed_demo only fills an empty "
                "database so demo rows never mix with real ones. Use --force to seed anyway "
                "(rows from an earlier seed_demo are replaced)."
            )
        deleted = demo_delete()
        self.stdout.write(f"--force: the database holds {existing}; removed {deleted:,} rows "
                          "of an earlier demo.")
