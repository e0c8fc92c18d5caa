"""Precompute the dashboard's figures now, in this process (the Celery task that follows the
metrics run and the value model scoring does the same)."""

import time

from django.core.management.base import BaseCommand

from customers.services.dashboard import dashboard_figures_compute


class Command(BaseCommand):
    help = ("Compute every figure of the operator dashboard (KPIs, ARPU trends, lifecycle "
            "funnel, RFM grid, predicted value, top campaigns) and store them for the page.")

    def handle(self, *args, **options):
        started = time.monotonic()
        written = dashboard_figures_compute(on_step=lambda line: self.stdout.write(f"  {line}"))
        self.stdout.write(self.style.SUCCESS(
            f"Done in {time.monotonic() - started:.2f} s: {written} dashboard figures stored."))
