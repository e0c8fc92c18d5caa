"""A customer's page: predictions, the sections segments and campaigns add (through
customers/pages.py), and the merged, cursor-paginated timeline of orders, events, messages and
coupon redemptions. The shop is tests/customers/dashboard_shop.py."""

import re
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.pages import Cursor, timeline_page
from customers.roles import Role, role_group
from segments.models import Segment, SegmentMembership
from tests.customers.dashboard_shop import NOW, make_shop, on
from tests.customers.factories import EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(storefront):
    people = make_shop(storefront)
    segment = Segment.objects.create(name="Big spenders", rule={"==": [1, 1]})
    SegmentMembership.objects.create(segment=segment, customer=people["ann"], entered_at=NOW)
    return people


@pytest.fixture
def viewer(client):
    user = get_user_model().objects.create_user("viewer")
    user.groups.add(role_group(Role.VIEWER))
    client.force_login(user)
    return client


def text(response) -> str:
    return unescape(response.content.decode())


def timeline_kinds(response) -> list[str]:
    return re.findall(r'data-kind="(\w+)"', text(response))


def test_timeline_merges_orders_events_messages_and_redemptions_newest_first(viewer, shop):
    response = viewer.get(reverse("customer-detail", args=["ann"]))
    assert response.status_code == 200
    # 03-18 visit, 03-15 11:00 redemption, 03-15 10:00 order, 03-14 message, 03-10 order,
    # 02-10 order
    assert timeline_kinds(response) == ["event", "redemption", "order", "message", "order",
                                        "order"]


def test_timeline_pages_with_a_cursor_and_loses_nothing(shop):
    ann = shop["ann"]
    for hour in range(3):  # three events at one instant: the cursor must split them right
        EventFactory(customer=ann, storefront=ann.orders.first().storefront, name=f"e{hour}",
                     occurred_at=on(3, 15, 10))
    seen, cursor = [], None
    while True:
        entries, cursor = timeline_page(customer=ann, limit=2, after=cursor)
        seen += [(entry["kind"], entry["at"], entry["title"]) for entry in entries]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 9
    assert [at for _kind, at, _title in seen] == sorted((at for _k, at, _t in seen),
                                                        reverse=True)


def test_timeline_link_opens_the_older_page(viewer, shop):
    first = text(viewer.get(reverse("customer-detail", args=["ann"])))
    assert 'rel="next"' not in first  # 6 entries fit on one page of 25
    cursor = Cursor(on(3, 15, 10), 4, 10**9).encode()
    older = viewer.get(reverse("customer-detail", args=["ann"]), {"before": cursor})
    assert timeline_kinds(older) == ["order", "message", "order", "order"]


@pytest.mark.parametrize("cursor", ["nonsense", "2026-03-01T00:00:00~x~1",
                                    "2026-03-01T00:00:00~1~1"])
def test_a_bad_cursor_is_a_400(viewer, shop, cursor):
    response = viewer.get(reverse("customer-detail", args=["ann"]), {"before": cursor})
    assert response.status_code == 400
    assert "That timeline page does not exist." in text(response)


def test_page_shows_predictions_segments_journeys_and_coupons(viewer, shop):
    page = text(viewer.get(reverse("customer-detail", args=["ann"])))
    assert re.search(r'data-metric="predicted_clv">300.00<', page)
    segments = page[page.index('data-section="segments"'):]
    assert "Big spenders" in segments[:segments.index("</section>")]
    journeys = page[page.index('data-section="journeys"'):]
    assert "Welcome" in journeys[:journeys.index("</section>")]
    coupons = page[page.index('data-section="coupons"'):]
    assert re.search(r"<code>TEST[\d-]+</code>", coupons[:coupons.index("</section>")])


def test_customer_page_is_a_fixed_number_of_queries(viewer, shop, django_assert_max_num_queries):
    with django_assert_max_num_queries(20):
        viewer.get(reverse("customer-detail", args=["ann"]))


def test_customer_without_anything_shows_empty_sections(viewer, shop):
    page = text(viewer.get(reverse("customer-detail", args=["eve"])))
    assert "No prediction yet" in page
    assert "Not in any active segment." in page
    assert "Not in any campaign yet." in page
    assert "No coupons issued to this customer." in page


def test_customer_page_needs_a_role(client, shop):
    client.force_login(get_user_model().objects.create_user("nobody"))
    assert client.get(reverse("customer-detail", args=["ann"])).status_code == 403


def test_list_filters_by_rfm_class_and_rejects_unknown_ones(viewer, shop):
    page = text(viewer.get(reverse("customer-list"), {"rfm_class": "important_value"}))
    assert re.findall(r'href="/customers/(\w+)/"', page) == ["bob", "ann"]
    assert "2 customers match." in page
    assert viewer.get(reverse("customer-list"), {"rfm_class": "vip"}).status_code == 400
    assert viewer.get(reverse("customer-list"), {"page": "x"}).status_code == 400


@pytest.mark.postgres  # elsewhere the list counts exactly (customer_count_estimate)
def test_unfiltered_list_shows_an_estimate_not_a_count(viewer, shop):
    with CaptureQueriesContext(connection) as queries:
        page = text(viewer.get(reverse("customer-list")))
    assert re.search(r"About [\d,]+ customers\.", page)
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
