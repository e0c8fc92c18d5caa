import itertools
from decimal import Decimal

import factory
from django.utils import timezone

from campaigns.models import (
    Campaign,
    CouponDefinition,
    Delivery,
    MessageTemplate,
    WebhookEndpoint,
)
from tests.customers.factories import CustomerFactory


class CouponDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CouponDefinition

    name = factory.Sequence(lambda n: f"coupon-{n}")
    kind = CouponDefinition.Kind.PERCENTAGE
    value = Decimal("15")
    valid_days = 7


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate

    name = factory.Sequence(lambda n: f"template-{n}")
    channel = "email"
    subject = "A gift for you, {{ customer.name }}"
    body = "<p>Your code: {{ coupon.code }}</p>"


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    name = factory.Sequence(lambda n: f"hook-{n}")
    url = "https://hooks.example.com/retentio"
    secret = "s3cret"


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"campaign-{n}")


def node(node_id: str, node_type: str, **config) -> dict:
    return {"id": node_id, "type": node_type, "config": config}


def edge(source: str, target: str, port: str = "") -> dict:
    return {"source": source, "target": target, **({"port": port} if port else {})}


def chain(*nodes: dict, ports: dict[str, str] | None = None) -> dict:
    """A graph of these nodes one after the other (through `ports[node id]`, or the only
    port), the last one an exit unless it is one already."""
    edges = [edge(a["id"], b["id"], (ports or {}).get(a["id"], ""))
             for a, b in itertools.pairwise(nodes)]
    return {"nodes": list(nodes), "edges": edges}


# --- messages ----------------------------------------------------------------------------------

class DeliveryFactory(factory.django.DjangoModelFactory):
    """A queued delivery of an active campaign to a customer who consents to everything."""

    class Meta:
        model = Delivery

    customer = factory.SubFactory(CustomerFactory, email_consent=True, sms_consent=True,
                                  phone="+1 555 0100")
    campaign = factory.SubFactory(CampaignFactory, status=Campaign.Status.ACTIVE)
    channel = "email"
    template = factory.SubFactory(MessageTemplateFactory)
    due_at = factory.LazyFunction(timezone.now)
    created_at = factory.LazyFunction(timezone.now)
