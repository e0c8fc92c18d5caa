"""First-run setup for `make run`: demo data when the database is empty, an operator login."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from customers.models import Customer

OPERATOR = "operator"


class Command(BaseCommand):
    help = "Load demo data if the database is empty and print an operator login."

    def add_arguments(self, parser):
        parser.add_argument("--demo-customers", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, demo_customers, seed, **options):
        if not Customer.objects.exists() and demo_customers > 0:
            self.stdout.write(f"Empty database: loading {demo_customers} demo customers ...")
            call_command("seed_demo", customers=demo_customers, seed=seed, stdout=self.stdout)
            # What the nightly chain does, so the first page an operator opens has figures.
            call_command("recompute_metrics", stdout=self.stdout)
            call_command("fit_value_model", stdout=self.stdout)
            call_command("compute_dashboard", stdout=self.stdout)
        password = self._operator_password()
        self.stdout.write(self.style.SUCCESS(
            "\nDashboard: http://127.0.0.1:8000/   API docs: http://127.0.0.1:8000/api/docs/\n"
            f"Operator login: {OPERATOR} / {password}\n"
        ))

    def _operator_password(self) -> str:
        """A fresh password each run, so the printed one always works."""
        user_model = get_user_model()
        user, _created = user_model.objects.get_or_create(
            username=OPERATOR, defaults={"is_staff": True, "is_superuser": True}
        )
        password = secrets.token_urlsafe(9)
        user.set_password(password)
        user.save()
        return password
