"""A small published campaign whose results are checked by eye, for the results page's
tests (views and browser): six treated customers through an A/B split, two held out.

    treated, branch A: 10.00 and 30.00 after the split        ARPU A 20.00
    treated, branch B: nothing, nothing, 60.00, nothing       ARPU B 15.00
    holdout: 10.00, nothing                                   ARPU 5.00
    treated ARPU (10 + 30 + 60) / 6 = 16.67; uplift 11.67
"""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from campaigns.models import Delivery, Journey
from tests.campaigns import builders as b
from tests.campaigns.factories import CampaignFactory, chain, edge, node
from tests.customers.factories import CustomerFactory

DAY = dt.timedelta(days=1)


def results_campaign(name: str = "Spring win-back"):
    t0 = timezone.now() - 3 * DAY
    campaign = CampaignFactory(name=name, goal={"kind": "order"}, goal_days=7,
                               attribution_days=7, holdout_percent=Decimal("20"))
    graph = chain(node("start", "scheduled", segment=1, at=t0.isoformat()),
                  node("mail", "send_message", channel="email", template=1),
                  node("ab", "split", branches=[{"port": "A", "percent": 50},
                                                {"port": "B", "percent": 50}]),
                  node("end", "exit"), ports={"ab": "A"})
    graph["edges"].append(edge("ab", "end", "B"))
    v1 = b.version(campaign, graph, at=t0)
    spend = {"A": ["10.00", "30.00"], "B": [None, None, "60.00", None]}
    for port, amounts in spend.items():
        for amount in amounts:
            customer = CustomerFactory()
            walk = b.journey(v1, customer, entered_at=t0)
            b.steps(walk, ("mail", "next", t0), ("ab", port, t0), ("end", "", t0))
            b.delivery(walk, "mail", step=1, status=Delivery.Status.SENT, sent_at=t0)
            if amount:
                b.order(customer, t0 + DAY, amount)
    for amount in ("10.00", None):
        customer = CustomerFactory()
        b.journey(v1, customer, entered_at=t0, status=Journey.Status.HOLDOUT, node="mail")
        if amount:
            b.order(customer, t0 + DAY, amount)
    return campaign
