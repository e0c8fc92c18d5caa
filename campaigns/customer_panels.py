"""What campaigns add to the customers app's operator pages (customers/pages.py), registered
in CampaignsConfig.ready(): the dashboard's top campaigns by attributed revenue (and where
they lead), a customer's journeys and coupons, and their messages and coupon redemptions on
the customer's timeline; and their part of a customer's data export.
(The campaigns app's own pages are in campaigns/views_campaigns.py.)"""

import datetime as dt
from collections.abc import Iterable

from django.db.models import F, Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from campaigns.models import (
    Campaign,
    Channel,
    Coupon,
    CouponRedemption,
    Delivery,
    Journey,
    Suppression,
)
from campaigns.services.coupons import display_code
from customers import pages
from customers.models import Customer

TOP_CAMPAIGNS = 10
SECTION_ROWS = 20  # the customer page shows the latest ones; the admin lists them all


def _url(name: str, pk: int) -> str | None:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:  # the page is not there (yet)
        return None


def top_campaigns(now: dt.datetime) -> list[pages.FigureRow]:
    """Published campaigns (with a current version) ranked by attributed revenue
    (campaign_results' definition), the TOP_CAMPAIGNS best. One attribution statement per
    campaign: campaigns number in the tens or hundreds, journeys in the millions."""
    from campaigns.services.results import campaign_attribution

    ranked = []
    for campaign in Campaign.objects.filter(current_version__isnull=False).order_by("pk"):
        attribution = campaign_attribution(campaign, now=now)
        ranked.append({"id": campaign.pk, "name": campaign.name, "status": campaign.status,
                       "touched": attribution.touched, "orders": attribution.orders,
                       "revenue": str(attribution.revenue)})
    ranked.sort(key=lambda row: (-float(row["revenue"]), row["name"]))
    return [pages.FigureRow("top_campaigns", {"campaigns": ranked[:TOP_CAMPAIGNS]})]


def _journeys(customer: Customer) -> dict:
    journeys = (Journey.objects.filter(customer=customer).select_related("campaign")
                .order_by("-entered_at", "-pk")[:SECTION_ROWS])
    return {"journeys": [{"journey": journey,
                          "url": _url("campaign-results", journey.campaign_id)}
                         for journey in journeys]}


def _coupons(customer: Customer) -> dict:
    coupons = (Coupon.objects.filter(customer=customer).select_related("definition", "campaign")
               .order_by("-issued_at", "-pk")[:SECTION_ROWS])
    return {"coupons": [{"coupon": coupon,
                         "code": display_code(coupon.code, coupon.definition.code_prefix)}
                        for coupon in coupons]}


def _messages(customer: Customer) -> QuerySet:
    return (Delivery.objects.filter(customer=customer, test=False)
            .select_related("campaign", "template"))


def _message_entry(delivery: Delivery) -> dict:
    title = delivery.subject or (delivery.template.name if delivery.template else "")
    source = delivery.campaign.name if delivery.campaign else ""
    return {"title": f"{delivery.get_channel_display()} · {title}".rstrip(" ·"),
            "detail": " · ".join(part for part in (source, delivery.reason) if part),
            "status": delivery.status, "status_label": delivery.get_status_display()}


def _redemptions(customer: Customer) -> QuerySet:
    return (CouponRedemption.objects.filter(customer=customer)
            .select_related("coupon__definition"))


def _redemption_entry(redemption: CouponRedemption) -> dict:
    coupon = redemption.coupon
    return {"title": display_code(coupon.code, coupon.definition.code_prefix),
            "detail": f"{coupon.definition.name} · {redemption.order_external_id}",
            "amount": redemption.discount}


# --- the customer's data export ---------------------------------------------------------------


def _message_data(customer: Customer) -> Iterable[dict]:
    return (Delivery.objects.filter(customer=customer, test=False).order_by("created_at", "pk")
            .values("channel", "status", "reason", "address", "subject", "body", "created_at",
                    "sent_at", campaign_name=F("campaign__name")))


def _journey_data(customer: Customer) -> Iterable[dict]:
    return (Journey.objects.filter(customer=customer).order_by("entered_at", "pk")
            .values("status", "entered_at", "finished_at", "converted_at",
                    campaign_name=F("campaign__name")))


def _coupon_data(customer: Customer) -> Iterable[dict]:
    coupons = (Coupon.objects.filter(customer=customer).select_related("definition")
               .order_by("issued_at", "pk"))
    return [{"code": display_code(coupon.code, coupon.definition.code_prefix),
             "offer": coupon.definition.name, "status": coupon.status,
             "issued_at": coupon.issued_at, "starts_at": coupon.starts_at,
             "expires_at": coupon.expires_at, "redemptions": coupon.redemptions}
            for coupon in coupons]


def _redemption_data(customer: Customer) -> Iterable[dict]:
    return (CouponRedemption.objects.filter(customer=customer).order_by("redeemed_at", "pk")
            .values("order_external_id", "order_amount", "discount", "redeemed_at",
                    coupon_code=F("coupon__code")))


def _suppression_data(customer: Customer) -> Iterable[dict]:
    """Their addresses on the do-not-message list (kept after an erasure: found by the
    addresses, which an erased customer no longer has)."""
    addresses = [(Channel.EMAIL, customer.email.lower()), (Channel.SMS, customer.phone)]
    wanted = Q()
    for channel, address in addresses:
        if address:
            wanted |= Q(channel=channel, address=address)
    if not wanted:
        return []
    return Suppression.objects.filter(wanted).order_by("created_at", "pk").values(
        "channel", "address", "reason", "created_at")


def campaign_links(ids: Iterable[str]) -> dict[str, str]:
    """Where a dashboard row of a campaign leads: its results page."""
    return {pk: url for pk in ids if (url := _url("campaign-results", int(pk)))}


def register() -> None:
    pages.register_figure(pages.FigureSource("top_campaigns", compute=top_campaigns))
    pages.register_link("campaign", campaign_links)
    pages.register_section(pages.CustomerSection(
        "journeys", title=_("Journeys"), template="campaigns/customer/_journeys.html",
        context=_journeys, order=40))
    pages.register_section(pages.CustomerSection(
        "coupons", title=_("Coupons"), template="campaigns/customer/_coupons.html",
        context=_coupons, order=50))
    pages.register_timeline(pages.TimelineSource(
        "message", rank=1, rows=_messages, at="created_at", entry=_message_entry))
    for key, rows in (("messages", _message_data), ("journeys", _journey_data),
                      ("coupons", _coupon_data), ("coupon_redemptions", _redemption_data),
                      ("suppressed_addresses", _suppression_data)):
        pages.register_data(pages.CustomerData(key, rows=rows))
    pages.register_timeline(pages.TimelineSource(
        "redemption", rank=2, rows=_redemptions, at="redeemed_at", entry=_redemption_entry))
