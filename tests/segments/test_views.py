"""Segment pages as an operator sees them: the list (search, pagination, stored sizes and
sparklines), a segment's page (rule summary, changes paged by id, members) and the builder
pages, with each role's rights."""

import datetime as dt
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.roles import Role, role_group
from segments.models import Segment, SegmentChange, SegmentEvaluation, SegmentMembership
from segments.rules import condition
from segments.views import CHANGES_PER_PAGE, SEGMENTS_PER_PAGE, sparkline
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

SHANGHAI = condition("city", "==", "Shanghai")


def sign_in(client, role: Role | None):
    user = get_user_model().objects.create_user(f"user-{role}")
    if role is not None:
        user.groups.add(role_group(role))
    client.force_login(user)
    return client


@pytest.fixture
def viewer(client):
    return sign_in(client, Role.VIEWER)


@pytest.fixture
def marketer(client):
    return sign_in(client, Role.MARKETER)


def text(response) -> str:
    return unescape(response.content.decode())


def evaluated(segment: Segment, sizes: list[int]) -> None:
    start = timezone.now() - dt.timedelta(hours=len(sizes))
    for i, size in enumerate(sizes):
        SegmentEvaluation.objects.create(segment=segment, evaluated_at=start + dt.timedelta(
            hours=i), size=size, entered=0, exited=0, duration_ms=5)
    segment.size, segment.last_evaluated_at = sizes[-1], timezone.now()
    segment.save()


# --- roles ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["segment-list", "segment-new"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_user_without_a_role_is_refused(client):
    sign_in(client, None)
    assert client.get(reverse("segment-list")).status_code == 403


def test_a_viewer_reads_the_list_and_a_segment_but_sees_no_edit_controls(viewer):
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)

    listing = viewer.get(reverse("segment-list"))
    page = viewer.get(reverse("segment-detail", args=[segment.pk]))

    assert listing.status_code == page.status_code == 200
    assert reverse("segment-new") not in text(listing)
    assert reverse("segment-edit", args=[segment.pk]) not in text(page)
    assert reverse("segment-delete", args=[segment.pk]) not in text(page)


@pytest.mark.parametrize("name", ["segment-new", "segment-edit"])
def test_a_viewer_may_not_open_the_builder(viewer, name):
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    args = [] if name == "segment-new" else [segment.pk]
    assert viewer.get(reverse(name, args=args)).status_code == 403


def test_a_viewer_may_not_delete(viewer):
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    assert viewer.post(reverse("segment-delete", args=[segment.pk])).status_code == 403
    assert Segment.objects.filter(pk=segment.pk).exists()


def test_a_marketer_sees_the_edit_controls_and_opens_the_builder(marketer):
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)

    page = text(marketer.get(reverse("segment-detail", args=[segment.pk])))
    edit = marketer.get(reverse("segment-edit", args=[segment.pk]))

    assert reverse("segment-edit", args=[segment.pk]) in page
    assert edit.status_code == 200
    props = edit.context["builder_props"]
    assert props["segment"] == {"id": segment.pk, "name": "Shanghai", "description": "",
                                "rule": SHANGHAI, "updated_at": segment.updated_at.isoformat()}
    assert props["detailUrl"] == "/segments/{id}/"
    assert 'data-island="builder"' in text(edit)
    assert marketer.get(reverse("segment-new")).context["builder_props"]["segment"] is None


def test_a_marketer_deletes_a_segment(marketer):
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)

    response = marketer.post(reverse("segment-delete", args=[segment.pk]), follow=True)

    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert "Segment “Shanghai” deleted." in text(response)


def test_a_segment_others_refer_to_is_not_deleted(marketer):
    base = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    Segment.objects.create(name="Not Shanghai", rule=condition("segment", "not_in_segment",
                                                               base.pk))

    response = marketer.post(reverse("segment-delete", args=[base.pk]), follow=True)

    assert Segment.objects.filter(pk=base.pk).exists()
    assert "was not deleted: other segments refer to it (Not Shanghai)" in text(response)


def test_delete_takes_post_only(marketer):
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    assert marketer.get(reverse("segment-delete", args=[segment.pk])).status_code == 405


# --- 404 and bad input ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["segment-detail", "segment-edit"])
def test_a_missing_segment_is_a_404(marketer, name):
    assert marketer.get(reverse(name, args=[999])).status_code == 404


def test_a_bad_change_cursor_is_a_400(viewer):
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    response = viewer.get(reverse("segment-detail", args=[segment.pk]), {"before": "x"})
    assert response.status_code == 400
    assert "must be a change id" in text(response)


def test_a_too_long_search_is_a_400(viewer):
    assert viewer.get(reverse("segment-list"), {"q": "x" * 201}).status_code == 400


def test_a_page_number_past_the_end_shows_the_last_page(viewer):
    Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    response = viewer.get(reverse("segment-list"), {"page": "99"})
    assert response.status_code == 200
    assert "Page 1 of 1 (1 segment)" in text(response)


# --- the list -------------------------------------------------------------------------------

def test_the_list_is_paginated_by_name(viewer):
    for i in range(SEGMENTS_PER_PAGE + 3):
        Segment.objects.create(name=f"Segment {i:02d}", rule=SHANGHAI)

    first = viewer.get(reverse("segment-list"))
    second = viewer.get(reverse("segment-list"), {"page": 2})

    assert len(first.context["rows"]) == SEGMENTS_PER_PAGE
    assert [row["segment"].name for row in second.context["rows"]] == [
        f"Segment {i:02d}" for i in range(SEGMENTS_PER_PAGE, SEGMENTS_PER_PAGE + 3)]
    assert "Page 2 of 2 (28 segments)" in text(second)


def test_htmx_search_returns_only_the_matching_rows(viewer):
    Segment.objects.create(name="Shanghai buyers", rule=SHANGHAI)
    Segment.objects.create(name="Beijing buyers", rule=condition("city", "==", "Beijing"))

    response = viewer.get(reverse("segment-list"), {"q": "shang"}, HTTP_HX_REQUEST="true")

    body = text(response)
    assert "Shanghai buyers" in body
    assert "Beijing buyers" not in body
    assert "<html" not in body  # a fragment for htmx to swap in


def test_the_list_shows_stored_sizes_and_a_sparkline_without_counting_members(viewer):
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    evaluated(segment, [10, 12, 11, 15])

    with CaptureQueriesContext(connection) as queries:
        response = viewer.get(reverse("segment-list"))

    [row] = response.context["rows"]
    assert row["spark"] == sparkline([10, 12, 11, 15])
    assert row["status"] == "current"
    assert 'aria-label="Size over the last 4 evaluations: between 10 and 15"' in text(response)
    assert not any("segments_segmentmembership" in q["sql"] for q in queries.captured_queries)


def test_the_sparkline_keeps_only_the_last_evaluations(viewer):
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    evaluated(segment, list(range(1, 41)))

    [row] = viewer.get(reverse("segment-list")).context["rows"]

    assert row["spark_count"] == 30
    assert (row["spark_low"], row["spark_high"]) == (11, 40)


def test_statuses(viewer):
    Segment.objects.create(name="A paused", rule=SHANGHAI, is_active=False)
    Segment.objects.create(name="B new", rule=SHANGHAI)
    Segment.objects.create(name="C late", rule=SHANGHAI,
                           last_evaluated_at=timezone.now() - dt.timedelta(days=3))

    rows = viewer.get(reverse("segment-list")).context["rows"]

    assert [row["status"] for row in rows] == ["paused", "pending", "overdue"]


def test_sparkline_points_span_the_box():
    assert sparkline([5]) == ""
    assert sparkline([0, 10], width=100, height=24) == "0.0,22.0 100.0,2.0"
    assert sparkline([3, 3, 3]) == "0.0,22.0 50.0,22.0 100.0,22.0"


# --- a segment's page -----------------------------------------------------------------------

def test_the_rule_is_summarised_in_words(viewer):
    base = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    segment = Segment.objects.create(name="Winback", rule={"and": [
        condition("rfm_class", "in", ["important_winback", "general_winback"]),
        {"!": condition("segment", "in_segment", base.pk)},
        condition("monetary", "between", [10, 99.5]),
        condition("events", "did_event", {"name": "visit", "min_count": 3, "within_days": 30}),
    ]})

    response = viewer.get(reverse("segment-detail", args=[segment.pk]))

    summary = response.context["summary"]
    assert summary["kind"] == "and"
    rfm, negated, monetary, events = summary["children"]
    assert rfm == {"kind": "condition", "field": "RFM class", "operator": "is one of",
                   "value": "Important win-back, General win-back"}
    assert negated["kind"] == "not"
    assert negated["children"][0]["value"] == "Shanghai"
    assert monetary["value"] == "10 to 99.5"
    assert events["value"] == "name: visit, min_count: 3, within_days: 30"


def test_a_stored_rule_that_no_longer_parses_is_shown_not_a_500(viewer):
    segment = Segment.objects.create(name="Old", rule={"==": [{"var": "gone_field"}, 1]})
    response = viewer.get(reverse("segment-detail", args=[segment.pk]))
    assert response.status_code == 200
    assert 'unknown field "gone_field"' in text(response)


def test_recent_changes_are_paged_by_id_newest_first(viewer):
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI)
    customers = CustomerFactory.create_batch(CHANGES_PER_PAGE + 5)
    now = timezone.now()
    ids = [SegmentChange.objects.create(segment=segment, customer=c, kind="entered", at=now).id
           for c in customers]
    url = reverse("segment-detail", args=[segment.pk])

    first = viewer.get(url)
    older = viewer.get(url, {"before": first.context["older"]})

    assert [c.id for c in first.context["changes"]] == ids[::-1][:CHANGES_PER_PAGE]
    assert [c.id for c in older.context["changes"]] == ids[::-1][CHANGES_PER_PAGE:]
    assert older.context["older"] is None
    assert "Newest" in text(older)


def test_the_page_shows_a_members_sample_and_the_stored_size(viewer):
    segment = Segment.objects.create(name="Shanghai", rule=SHANGHAI, size=2)
    for external_id in ["ann", "bob"]:
        SegmentMembership.objects.create(segment=segment, entered_at=timezone.now(),
                                         customer=CustomerFactory(external_id=external_id))

    body = text(viewer.get(reverse("segment-detail", args=[segment.pk])))

    assert reverse("customer-detail", args=["ann"]) in body
    assert reverse("customer-detail", args=["bob"]) in body
    assert 'data-island="explain"' in body


def test_htmx_restoring_history_gets_the_whole_page(viewer):
    response = viewer.get(reverse("segment-list"), HTTP_HX_REQUEST="true",
                          HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in text(response)
