"""A segment's members as a CSV download: every member as of the last evaluation with their
contact details, consent and value, streamed in pieces, readable by a spreadsheet (byte-order
mark, no runnable formulas) and by a program; marketers and up."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, CustomerMetrics
from customers.roles import Role
from segments.export import ROWS_PER_PIECE, inert
from segments.models import Segment, SegmentMembership
from segments.rules import condition
from tests.customers.factories import CustomerFactory
from tests.segments.test_views import sign_in as _sign_in

pytestmark = pytest.mark.django_db

ENTERED = dt.datetime(2026, 11, 30, 16, 30, tzinfo=dt.UTC)
HEADER = ["external_id", "name", "email", "phone", "city", "email_consent", "sms_consent",
          "lifecycle_stage", "rfm_class", "ltv", "order_count", "last_order_at", "entered_at"]


def _segment(*customers: Customer) -> Segment:
    segment = Segment.objects.create(name="Shanghai", rule=condition("city", "==", "Shanghai"),
                                     size=len(customers))
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, customer=customer, entered_at=ENTERED)
        for customer in customers)
    return segment


def _download(client, segment: Segment) -> tuple:
    """The answer and the pieces it streamed."""
    response = client.get(reverse("segment-members-csv", args=[segment.pk]))
    pieces = list(response.streaming_content) if response.status_code == 200 else []
    return response, pieces


def _rows(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


@override_settings(TIME_ZONE="Asia/Shanghai")
def test_a_marketer_downloads_every_member_with_contact_consent_and_value(client):
    ann = CustomerFactory(external_id="ann", name="Ann, \"the\" buyer", email="ann@shop.test",
                          phone="+86 138 0013 8000", city="上海", email_consent=True,
                          sms_consent=False)
    CustomerMetrics.objects.create(
        customer=ann, order_count=3, ltv=Decimal("180.50"), lifecycle_stage="active",
        rfm_class="important_value", last_order_at=ENTERED - dt.timedelta(days=2),
        computed_at=ENTERED)
    bob = CustomerFactory(external_id="bob", name="Bob", email="", phone="", city="")
    CustomerFactory(external_id="not-a-member")
    segment = _segment(bob, ann)

    response, pieces = _download(_sign_in(client, Role.MARKETER), segment)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="segment-{segment.pk}-members-'
        f'{timezone.localdate():%Y-%m-%d}.csv"')
    rows = _rows(b"".join(pieces))
    assert rows[0] == HEADER
    by_id = {row[0]: dict(zip(HEADER, row, strict=True)) for row in rows[1:]}
    assert sorted(by_id) == ["ann", "bob"]
    assert by_id["ann"] == {
        "external_id": "ann", "name": 'Ann, "the" buyer', "email": "ann@shop.test",
        "phone": "+86 138 0013 8000", "city": "上海", "email_consent": "true",
        "sms_consent": "false", "lifecycle_stage": "active", "rfm_class": "important_value",
        "ltv": "180.50", "order_count": "3", "last_order_at": "2026-11-29T00:30:00+08:00",
        "entered_at": "2026-12-01T00:30:00+08:00"}
    assert by_id["bob"]["lifecycle_stage"] == ""  # no metrics computed yet
    assert [row[0] for row in rows[1:]] == [
        c.external_id for c in sorted([ann, bob], key=lambda c: c.pk)]


def test_a_large_segment_streams_in_pieces(client):
    customers = Customer.objects.bulk_create(
        Customer(external_id=f"c{n:05d}", name=f"Customer {n}")
        for n in range(2 * ROWS_PER_PIECE + 7))
    segment = _segment(*customers)

    _, pieces = _download(_sign_in(client, Role.MARKETER), segment)

    assert len(pieces) == 3
    rows = _rows(b"".join(pieces))
    assert len(rows) == 1 + len(customers)
    assert rows[-1][0] == customers[-1].external_id


def test_a_viewer_may_not_download_nor_sees_the_link(client):
    segment = _segment(CustomerFactory())
    viewer = _sign_in(client, Role.VIEWER)

    response, _ = _download(viewer, segment)
    page = viewer.get(reverse("segment-detail", args=[segment.pk])).content.decode()

    assert response.status_code == 403
    assert reverse("segment-members-csv", args=[segment.pk]) not in page


def test_the_marketer_s_page_links_the_download_with_the_size(client):
    segment = _segment(CustomerFactory(), CustomerFactory())

    page = _sign_in(client, Role.MARKETER).get(
        reverse("segment-detail", args=[segment.pk])).content.decode()

    assert reverse("segment-members-csv", args=[segment.pk]) in page
    assert "Download all 2 members (CSV)" in page


@pytest.mark.parametrize(("text", "shown"), [
    ("=HYPERLINK(\"http://x.test\",\"click\")", "'=HYPERLINK(\"http://x.test\",\"click\")"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("\tleading tab", "'\tleading tab"),
    ("+86 138 0013 8000", "+86 138 0013 8000"),
    ("-12.50", "-12.50"),
    ("(021) 555-0100", "(021) 555-0100"),
    ("Ann = Bob", "Ann = Bob"),
    ("", ""),
])
def test_cells_a_spreadsheet_would_run_are_made_inert(text, shown):
    assert inert(text) == shown
