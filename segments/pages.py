"""What segments add to the customers app's operator pages (customers/pages.py), registered
in SegmentsConfig.ready(): the segments a customer is in, and where a dashboard RFM cell
leads (the segment made from that class's template); and the segment history in a
customer's data export."""

from collections.abc import Iterable

from django.db.models import F
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from customers import pages
from customers.models import Customer
from segments.models import Segment, SegmentChange, SegmentMembership

SECTION_ROWS = 50


def _reverse(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:  # the page is not there (yet)
        return None


def _segments(customer: Customer) -> dict:
    memberships = (SegmentMembership.objects.filter(customer=customer, segment__is_active=True)
                   .select_related("segment").order_by("segment__name")[:SECTION_ROWS])
    return {"memberships": [{"membership": m, "url": _reverse("segment-detail", m.segment_id)}
                            for m in memberships]}


def segment_history(customer: Customer) -> Iterable[dict]:
    """For the customer's data export: every entry into and exit from a segment."""
    return SegmentChange.objects.filter(customer=customer).order_by("at", "pk").values(
        "at", "kind", segment_name=F("segment__name"))


def rfm_class_links(values: Iterable[str]) -> dict[str, str]:
    """For each RFM class that has one: the page of its segment (the oldest active segment
    copied from the class's template). Classes without one are left to the caller, which
    lists the customers of that class."""
    templates = {f"rfm_{value}": value for value in values}
    found = {}
    for segment in (Segment.objects.filter(template__in=templates, is_active=True)
                    .order_by("-pk").only("pk", "template")):
        found[segment.template] = segment.pk  # oldest wins: later rows overwrite
    links = {}
    for template, pk in found.items():
        url = _reverse("segment-detail", pk)
        if url is not None:
            links[templates[template]] = url
    return links


def register() -> None:
    pages.register_section(pages.CustomerSection(
        "segments", title=_("Segments"), template="segments/customer/_segments.html",
        context=_segments, order=30))
    pages.register_link("rfm_class", rfm_class_links)
    pages.register_data(pages.CustomerData("segment_changes", rows=segment_history))
