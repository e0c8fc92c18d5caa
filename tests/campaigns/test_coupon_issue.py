"""Journey issuance (campaigns.services.coupons.coupons_issue): one code per walker within the
definition's limits and budgets, the same code again for a walker whose step already has one."""

from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.flows import Walker
from campaigns.models import CampaignVersion, Coupon, CouponDefinition, Journey
from campaigns.services.coupons import codes_issued, coupons_issue
from tests.campaigns.coupons import definition
from tests.campaigns.factories import CampaignFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def walkers(n: int, *, customer=None) -> list[Walker]:
    now = timezone.now()
    campaign = CampaignFactory()
    version = CampaignVersion.objects.create(campaign=campaign, number=1, graph={},
                                             published_at=now)
    out = []
    for i in range(n):
        owner = customer or CustomerFactory()
        journey = Journey.objects.create(campaign=campaign, version=version, customer=owner,
                                         entry_key=f"k{i}", node="gift", arrived_at=now,
                                         entered_at=now, due_at=now)
        out.append(Walker(journey.pk, campaign.pk, owner.pk, 1, now, now))
    return out


def test_each_walker_gets_its_own_code_linked_to_campaign_and_node():
    defined = definition(code_prefix="J")
    batch = walkers(3)

    issued = coupons_issue(definition_id=defined.pk, walkers=batch, node="gift",
                           now=timezone.now())

    assert len({issued[w.journey_id].code for w in batch}) == 3
    coupon = Coupon.objects.get(journey_id=batch[0].journey_id)
    assert (coupon.campaign_id, coupon.node, coupon.code[:1]) == (batch[0].campaign_id, "gift",
                                                                   "J")
    assert codes_issued(CouponDefinition.objects.get()) == 3


def test_a_repeated_batch_gets_the_same_codes():
    defined, batch = definition(), walkers(2)
    first = coupons_issue(definition_id=defined.pk, walkers=batch, node="gift",
                          now=timezone.now())

    again = coupons_issue(definition_id=defined.pk, walkers=batch, node="gift",
                          now=timezone.now())

    assert again == first
    assert Coupon.objects.count() == 2


def test_the_code_budget_is_first_come_first_served():
    defined, batch = definition(max_codes=2), walkers(3)

    issued = coupons_issue(definition_id=defined.pk, walkers=batch, node="gift",
                           now=timezone.now())

    assert [issued[w.journey_id].reason for w in batch] == ["", "", "budget"]


def test_a_spent_discount_budget_issues_nothing():
    defined = definition(kind="fixed", value=Decimal(5), max_discount_total=Decimal(10))
    CouponDefinition.objects.filter(pk=defined.pk).update(discount_total=Decimal(10))
    batch = walkers(1)

    issued = coupons_issue(definition_id=defined.pk, walkers=batch, node="gift",
                           now=timezone.now())

    assert issued[batch[0].journey_id].reason == "budget"


def test_a_customer_past_the_per_customer_limit_gets_none():
    defined = definition(per_customer_limit=1)
    batch = walkers(2, customer=CustomerFactory())

    issued = coupons_issue(definition_id=defined.pk, walkers=batch, node="gift",
                           now=timezone.now())

    assert sorted(issued[w.journey_id].reason for w in batch) == ["", "limit"]


def test_codes_drawn_together_are_well_formed_and_redrawn_when_out_of_range(monkeypatch):
    from campaigns.services import coupons

    draws = [b"\xff" * 7 + bytes(range(1, 15)), bytes(range(20, 27))]  # the first too big
    monkeypatch.setattr(coupons.secrets, "token_bytes",
                        lambda size: draws.pop(0)[:size] if draws else bytes(size))

    codes = coupons.new_codes(3, "vip-")

    assert len(set(codes)) == 3
    assert all(len(code) == 3 + coupons.CODE_LENGTH and code.startswith("VIP")
               and set(code[3:]) <= set(coupons.ALPHABET) for code in codes)
    assert not draws  # the range check asked for one more draw
