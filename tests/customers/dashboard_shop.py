"""A small shop with hand-checked dashboard figures, shared by the view, task and browser
tests. Everything happens before NOW (2026-03-20 12:00 UTC); figures are computed as of NOW.

Customers (channel, city):  ann (ads, Shanghai), bob (organic, Beijing), cat (ads, Beijing),
dan (no channel, Shanghai), eve (no channel, no city).
Paid orders: ann 100 on 03-10, 60 on 03-15, 1000 on 02-10; bob 200 (20 refunded) on 03-17;
eve 80 on 02-01. Visits: cat 03-19, dan 03-16, ann 03-18.

KPIs (last 30 days, from 02-18 12:00): revenue 160 + 180 = 340.00, 3 orders, active ann, bob,
cat, dan = 4, paying 2; ARPU 340 / 4 = 85.00, ARPPU 340 / 2 = 170.00; 5 customers.
Trend, all customers: 2026-02 revenue 1080.00, active 2, paying 2 -> ARPU = ARPPU = 540.00;
2026-03 revenue 340.00, active 4, paying 2 -> ARPU 85.00, ARPPU 170.00.
Trend by channel, 2026-03: ads 160.00 / active 2 (ann, cat) / paying 1 -> ARPU 80.00, ARPPU
160.00; organic 180.00 / 1 / 1 -> 180.00, 180.00; (not set) 0.00 / 1 (dan) / 0 -> ARPU 0.00,
no ARPPU. Ranked by 12-month revenue: ads 1160, organic 180, (not set) 80.

Metrics (set by hand): ann active, important value, monetary 1160; bob active, important value,
180; cat active, general win-back, 10; dan prospect. Lifecycle: prospect 1, active 3 of 4.
RFM: important value 2 customers, revenue 1340.00 = 99.26 % of 1350.00; general win-back 1,
10.00 = 0.74 %.
Predictions: ann 300.00, bob 50.00, cat 5.00, dan none. Predicted revenue: active 355.00,
prospect 0.00; important value 350.00, general win-back 5.00. Histogram: 99th percentile of
[5, 50, 300] is 300 -> bins of 31: 5 in bin 0, 50 in bin 1, 300 in bin 9.

Campaigns: "Win-back" sent bob an email on 03-12; his order of 03-17 is within its 7 days:
attributed 180.00. "Welcome" issued ann a coupon and sent her an email on 03-14; her order of
03-15 (60) is attributed: 60.00; she redeemed the coupon on 03-15.
"""

import datetime as dt
from decimal import Decimal

from campaigns.models import Delivery
from customers.models import (
    CustomerMetrics,
    CustomerPrediction,
    LifecycleStage,
    RfmClass,
)
from tests.campaigns import builders
from tests.campaigns.factories import CampaignFactory
from tests.customers.factories import CustomerFactory, EventFactory, OrderFactory

NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)


def on(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=dt.UTC)


def _metrics(customer, stage, rfm_class=None, monetary=0) -> None:
    CustomerMetrics.objects.create(customer=customer, lifecycle_stage=stage, rfm_class=rfm_class,
                                   monetary=Decimal(monetary), computed_at=NOW)


def _prediction(customer, clv: str | None) -> None:
    CustomerPrediction.objects.create(customer=customer, computed_at=NOW,
                                      predicted_clv=None if clv is None else Decimal(clv))


def _campaigns(people: dict, storefront) -> None:
    winback = CampaignFactory(name="Win-back")
    walk = builders.journey(builders.version(winback, {}, at=on(3, 1)), people["bob"],
                            entered_at=on(3, 12))
    builders.delivery(walk, "send", status=Delivery.Status.SENT, step=1, sent_at=on(3, 12))
    welcome = CampaignFactory(name="Welcome")
    walk = builders.journey(builders.version(welcome, {}, at=on(3, 1)), people["ann"],
                            entered_at=on(3, 14))
    code = builders.coupon(walk, "gift", step=1, issued_at=on(3, 14))
    builders.delivery(walk, "send", status=Delivery.Status.SENT, step=2, sent_at=on(3, 14))
    builders.redeem(code, discount="9.00", at=on(3, 15, 11), amount="60.00")


def make_shop(storefront) -> dict:
    people = {
        "ann": CustomerFactory(external_id="ann", name="Ann Lee", acquisition_channel="ads",
                               city="Shanghai", email="ann@example.com"),
        "bob": CustomerFactory(external_id="bob", name="Bob Wu", acquisition_channel="organic",
                               city="Beijing"),
        "cat": CustomerFactory(external_id="cat", acquisition_channel="ads", city="Beijing"),
        "dan": CustomerFactory(external_id="dan", acquisition_channel="", city="Shanghai"),
        "eve": CustomerFactory(external_id="eve", acquisition_channel="", city=""),
    }
    for who, amount, at, refunded in [("ann", "100.00", on(3, 10), "0"),
                                      ("ann", "60.00", on(3, 15), "0"),
                                      ("ann", "1000.00", on(2, 10), "0"),
                                      ("bob", "200.00", on(3, 17), "20.00"),
                                      ("eve", "80.00", on(2, 1), "0")]:
        OrderFactory(customer=people[who], storefront=storefront, amount=Decimal(amount),
                     refunded_amount=Decimal(refunded), placed_at=at)
    for who, at in [("cat", on(3, 19)), ("dan", on(3, 16)), ("ann", on(3, 18))]:
        EventFactory(customer=people[who], storefront=storefront, name="visit", occurred_at=at)
    _metrics(people["ann"], LifecycleStage.ACTIVE, RfmClass.IMPORTANT_VALUE, 1160)
    _metrics(people["bob"], LifecycleStage.ACTIVE, RfmClass.IMPORTANT_VALUE, 180)
    _metrics(people["cat"], LifecycleStage.ACTIVE, RfmClass.GENERAL_WINBACK, 10)
    _metrics(people["dan"], LifecycleStage.PROSPECT)
    for who, clv in [("ann", "300.00"), ("bob", "50.00"), ("cat", "5.00"), ("dan", None)]:
        _prediction(people[who], clv)
    _campaigns(people, storefront)
    return people
