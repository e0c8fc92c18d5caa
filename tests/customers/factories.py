import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from customers.models import Customer, CustomerActivity, Event, Order, OrderStatus, Storefront


class StorefrontFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Storefront
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"shop-{n}")
    currency = "USD"
    time_zone = "UTC"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        skip_postgeneration_save = True  # last_seen_at writes a row of its own

    external_id = factory.Sequence(lambda n: f"c{n}")
    email = factory.LazyAttribute(lambda o: f"{o.external_id}@example.com")
    name = factory.Faker("name")
    signup_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=400))

    @factory.post_generation
    def last_seen_at(customer, create, seen, **_kwargs):
        """CustomerFactory(last_seen_at=...) gives the customer an activity row."""
        if create and seen is not None:
            CustomerActivity.objects.create(customer=customer, last_seen_at=seen)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    external_id = factory.Sequence(lambda n: f"o{n}")
    customer = factory.SubFactory(CustomerFactory)
    storefront = factory.SubFactory(StorefrontFactory)
    amount = Decimal("100.00")
    currency = "USD"
    status = OrderStatus.PAID
    placed_at = factory.LazyFunction(timezone.now)


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    customer = factory.SubFactory(CustomerFactory)
    storefront = factory.SubFactory(StorefrontFactory)
    name = "visit"
    occurred_at = factory.LazyFunction(timezone.now)
