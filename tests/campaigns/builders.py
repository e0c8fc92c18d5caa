"""Journeys and what they left behind (steps, deliveries, coupons, redemptions), written
directly for hand-checked result fixtures; and the real path (publish, triggers, runner) for
tests where the runner's own behaviour matters."""

import datetime as dt
import itertools
from decimal import Decimal

from campaigns.models import (
    Campaign,
    CampaignVersion,
    Coupon,
    CouponRedemption,
    Delivery,
    Journey,
    JourneyStep,
)
from campaigns.services.campaigns import campaign_publish
from campaigns.services.runner import journeys_advance
from campaigns.services.triggers import triggers_consume
from customers.models import Order, OrderStatus
from tests.campaigns.factories import CouponDefinitionFactory
from tests.customers.factories import StorefrontFactory

_keys = itertools.count(1)
_codes = itertools.count(1)
_orders = itertools.count(1)


def version(campaign: Campaign, graph: dict, *, number: int = 1,
            at: dt.datetime) -> CampaignVersion:
    made = CampaignVersion.objects.create(campaign=campaign, number=number, graph=graph,
                                          published_at=at)
    campaign.current_version, campaign.status = made, Campaign.Status.ACTIVE
    campaign.save(update_fields=["current_version", "status"])
    return made


def journey(campaign_version: CampaignVersion, customer, *, entered_at: dt.datetime,
            status: str = Journey.Status.COMPLETED, node: str = "end",
            due_at: dt.datetime | None = None) -> Journey:
    finished = None if status == Journey.Status.ACTIVE else entered_at
    return Journey.objects.create(
        campaign=campaign_version.campaign, version=campaign_version, customer=customer,
        entry_key=f"test:{next(_keys)}", status=status, node=node, step=1, due_at=due_at,
        arrived_at=entered_at, entered_at=entered_at, finished_at=finished,
        converted_at=entered_at if status == Journey.Status.CONVERTED else None)


def steps(walk: Journey, *taken: tuple[str, str, dt.datetime] | tuple[str, str, dt.datetime, str]
          ) -> None:
    """(node, port, at[, note]) in order, numbered from 1."""
    JourneyStep.objects.bulk_create(
        JourneyStep(journey=walk, step=number, node=item[0], port=item[1], at=item[2],
                    note=item[3] if len(item) > 3 else "")
        for number, item in enumerate(taken, start=1))


def delivery(walk: Journey, node: str, *, status: str, step: int, reason: str = "",
             sent_at: dt.datetime | None = None, channel: str = "email") -> Delivery:
    return Delivery.objects.create(
        campaign=walk.campaign, journey=walk, step=step, node=node, customer=walk.customer,
        channel=channel, status=status, reason=reason, due_at=walk.entered_at,
        created_at=walk.entered_at, sent_at=sent_at)


def coupon(walk: Journey, node: str, *, step: int, issued_at: dt.datetime,
           definition=None) -> Coupon:
    return Coupon.objects.create(
        definition=definition or CouponDefinitionFactory(), code=f"TEST{next(_codes)}",
        customer=walk.customer, campaign=walk.campaign, journey=walk, step=step, node=node,
        issued_at=issued_at)


def redeem(code: Coupon, *, discount: str, at: dt.datetime, amount: str = "100.00"
           ) -> CouponRedemption:
    return CouponRedemption.objects.create(
        coupon=code, customer=code.customer, order_external_id=f"redeemed-{code.pk}",
        order_amount=Decimal(amount), discount=Decimal(discount), redeemed_at=at)


def order(customer, placed_at: dt.datetime, amount: str, *, refunded: str = "0",
          status: str = OrderStatus.PAID) -> Order:
    return Order.objects.create(
        external_id=f"order-{next(_orders)}", customer=customer,
        storefront=StorefrontFactory(name="results-shop"), amount=Decimal(amount),
        refunded_amount=Decimal(refunded), currency="USD", status=status, placed_at=placed_at)


def run(campaign: Campaign, *, at: dt.datetime, until: dt.datetime | None = None) -> None:
    """Publish, start the trigger's journeys at `at`, and run the runner a second later
    (and again at `until`), as the workers would."""
    campaign_publish(campaign, now=at)
    triggers_consume(now=at)
    advance(at + dt.timedelta(seconds=1))
    if until is not None:
        advance(until)


def advance(at: dt.datetime) -> None:
    while journeys_advance(now=at).claimed:
        pass
