from django.core.management.base import BaseCommand, CommandError

from customers.models import Storefront
from customers.services.storefronts import storefront_key_create


class Command(BaseCommand):
    help = "Create a storefront (or add a key to an existing one) and print its API key once."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", default=Storefront.Kind.WEB, choices=Storefront.Kind.values)
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--time-zone", default="UTC")

    def handle(self, *args, name, kind, currency, time_zone, **options):
        storefront, created = Storefront.objects.get_or_create(
            name=name, defaults={"kind": kind, "currency": currency.upper(), "time_zone": time_zone}
        )
        if created:
            try:
                storefront.full_clean()
            except Exception as exc:
                storefront.delete()
                raise CommandError(str(exc)) from exc
        _key, raw_key = storefront_key_create(storefront=storefront)
        verb = "Created storefront" if created else "Added a key to storefront"
        self.stdout.write(f"{verb} {storefront.name!r}. API key (shown once, keep it safe):")
        self.stdout.write(raw_key)
