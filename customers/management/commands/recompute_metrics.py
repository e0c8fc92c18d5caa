"""Recompute value metrics now, in this process (the nightly Celery task does the same)."""

import time

from django.core.management.base import BaseCommand, CommandError

from customers.models import Customer
from customers.services.metrics import (
    MetricsSettingsError,
    metrics_recompute_all,
    metrics_refresh_customers,
    metrics_vacuum,
)


class Command(BaseCommand):
    help = ("Recompute every customer's value metrics (RFM, lifecycle stage, LTV, AOV) in one "
            "set-based pass, or only the customers named with --customer.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--customer", action="append", dest="external_ids", metavar="EXTERNAL_ID",
            help="only this customer (repeatable); scored against the latest full run",
        )

    def handle(self, *args, external_ids=None, **options):
        try:
            if external_ids:
                self._refresh(external_ids)
            else:
                self._recompute()
        except MetricsSettingsError as exc:
            raise CommandError(f"Metrics settings: {exc}") from exc

    def _step(self, line: str) -> None:
        self.stdout.write(f"  {line}")

    def _recompute(self) -> None:
        self.stdout.write("Recomputing the metrics of every customer ...")
        run = metrics_recompute_all(on_step=self._step)
        started = time.monotonic()
        if metrics_vacuum():
            self._step(f"vacuumed and analyzed the metrics table "
                       f"({time.monotonic() - started:.2f} s)")
        self.stdout.write(self.style.SUCCESS(
            f"Done in {run.duration_ms / 1000:.2f} s: {run.customers:,} customers, "
            f"{run.buyers:,} with a paid order, {run.rows_written:,} metrics rows changed, "
            f"{run.stage_changes:,} lifecycle stage changes."
        ))

    def _refresh(self, external_ids: list[str]) -> None:
        found = dict(Customer.objects.filter(external_id__in=external_ids)
                     .values_list("external_id", "pk"))
        unknown = sorted(set(external_ids) - set(found))
        if unknown:
            raise CommandError(f"Unknown customer external id(s): {', '.join(unknown)}")
        self.stdout.write(f"Refreshing the metrics of {len(found)} customer(s) ...")
        written = metrics_refresh_customers(customer_ids=found.values(), on_step=self._step)
        self.stdout.write(self.style.SUCCESS(f"Done: {written} metrics row(s) changed."))
