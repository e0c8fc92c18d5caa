"""Message templates and webhook endpoints as operators manage them: save (checked), delete
(refused while in use), preview for a customer, and test-send to an address."""

import datetime
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import (
    Campaign,
    CampaignVersion,
    Coupon,
    Delivery,
    MessageTemplate,
    WebhookEndpoint,
)
from campaigns.services import rendering
from customers.models import Customer
from customers.schemas import _PHONE


class Invalid(Exception):
    """Bad input: (field, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = problems


class InUse(Exception):
    """Still referred to by a campaign or a delivery."""


# --- templates -------------------------------------------------------------------------------

def _normalised(translations: Any) -> Any:
    if not isinstance(translations, dict):
        return translations
    return {str(key).lower(): value for key, value in translations.items()}


def template_check(template: MessageTemplate, *, now: datetime.datetime | None = None,
                   **fields: Any) -> MessageTemplate:
    """Apply `fields` to the (unsaved) template and check it: subject, body and translations
    are compiled, and a webhook body rendered with a sample customer must be JSON. Invalid
    names each bad field (`body`, `translations.zh-hans.subject`)."""
    if "translations" in fields:
        fields["translations"] = _normalised(fields["translations"])
    for name, value in fields.items():
        setattr(template, name, value)
    problems = rendering.template_problems(
        channel=template.channel, subject=template.subject, body=template.body,
        translations=template.translations, now=now or timezone.now())
    if problems:
        raise Invalid(problems)
    return template


def template_save(template: MessageTemplate, **fields: Any) -> MessageTemplate:
    """Create or change a template, checked (template_check) before anything is written."""
    template_check(template, **fields)
    template.save()
    return template


def _graphs_using(kind: str, pk: int) -> list[str]:
    """Names of the campaigns whose draft or a published version refers to the row."""
    def refers(graph: Any) -> bool:
        nodes = graph.get("nodes", []) if isinstance(graph, dict) else []
        return any(isinstance(node, dict) and isinstance(node.get("config"), dict)
                   and node["config"].get(kind) == pk for node in nodes)

    names = {name for name, graph in Campaign.objects.values_list("name", "draft_graph")
             if refers(graph)}
    names.update(name for name, graph in
                 CampaignVersion.objects.values_list("campaign__name", "graph") if refers(graph))
    return sorted(names)


def _delete(row: MessageTemplate | WebhookEndpoint, kind: str, used: Q) -> None:
    campaigns = _graphs_using(kind, row.pk)
    if campaigns:
        raise InUse(_("used by the campaigns %(names)s") % {"names": ", ".join(campaigns)})
    if Delivery.objects.filter(used).exists():
        raise InUse(_("messages were sent with it; their record keeps it"))
    row.delete()


def template_delete(template: MessageTemplate) -> None:
    _delete(template, "template", Q(template=template))


def _customer_coupon(customer: Customer | None, now: datetime.datetime) -> int | None:
    if customer is None:
        return None
    return (Coupon.objects.filter(customer=customer, status=Coupon.Status.ACTIVE)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .order_by("-issued_at").values_list("pk", flat=True).first())


def template_preview(template: MessageTemplate, *, customer: Customer | None,
                     language: str | None = None,
                     now: datetime.datetime | None = None) -> rendering.Rendered:
    """The template rendered as `customer` would get it (a sample customer without one; a
    sample coupon when the customer holds none), in `language` or the customer's own."""
    now = now or timezone.now()
    row = (rendering.customer_rows([customer.pk])[customer.pk] if customer
           else rendering.sample_customer())
    tz = rendering.zone(row["time_zone"])
    coupon_id = _customer_coupon(customer, now)
    coupon = rendering.coupon_rows([coupon_id]).get(coupon_id) or rendering.sample_coupon(now)
    context = rendering.message_context(
        customer=rendering.customer_values(row), metrics=rendering.metrics_values(row, now),
        coupon=rendering.coupon_values(coupon, tz),
        campaign={"id": None, "name": _("Sample campaign")},
        unsubscribe_url=rendering.sample_unsubscribe_url())
    language = (language if language is not None else row["language"]).lower()
    return rendering.render(rendering.template_for(template, language), context, language)


def _test_address(channel: str, address: str) -> str:
    if channel == "email":
        try:
            validate_email(address)
        except ValidationError as exc:
            raise Invalid([("address", _("not an email address"))]) from exc
        return address.lower()
    if channel == "sms" and not _PHONE.match(address):
        raise Invalid([("address", _("not a phone number (digits, spaces, +, -, "
                                     "parentheses)"))])
    return address


def _test_target(template: MessageTemplate, address: str, customer: Customer | None,
                 webhook: WebhookEndpoint | None) -> tuple[str, WebhookEndpoint | None]:
    channel = template.channel
    if channel == "webhook":
        if webhook is None:
            raise Invalid([("webhook", _("a webhook template is sent to an endpoint: give "
                                         "its id"))])
        return webhook.url, webhook
    if channel == "inbox":
        if customer is None:
            raise Invalid([("customer_external_id", _("an inbox message goes to a "
                                                      "customer's storefront inbox"))])
        return "", None
    if not address:
        raise Invalid([("address", _("where to send the test message"))])
    return _test_address(channel, address), None


def template_test_send(template: MessageTemplate, *, address: str = "",
                       customer: Customer | None = None, webhook: WebhookEndpoint | None = None,
                       now: datetime.datetime | None = None) -> Delivery:
    """Send the template to `address` now, rendered for `customer` (or a sample one): a
    delivery marked test, outside consent, caps and quiet hours, recorded like any other."""
    from campaigns.services.dispatch import deliveries_dispatch

    now = now or timezone.now()
    target, webhook = _test_target(template, address, customer, webhook)
    with transaction.atomic():
        delivery = Delivery.objects.create(
            customer=customer, channel=template.channel, template=template, webhook=webhook,
            coupon_id=_customer_coupon(customer, now), due_at=now, created_at=now,
            address=target, test=True)
    deliveries_dispatch(now=now, ids=[delivery.pk])
    delivery.refresh_from_db()
    return delivery


# --- webhook endpoints -----------------------------------------------------------------------

def webhook_secret() -> str:
    return secrets.token_urlsafe(32)


def webhook_endpoint_save(endpoint: WebhookEndpoint, **fields: Any) -> WebhookEndpoint:
    """Create or change an endpoint; a new one without a secret gets a random one."""
    for name, value in fields.items():
        setattr(endpoint, name, value)
    if not endpoint.secret:
        endpoint.secret = webhook_secret()
    endpoint.save()
    return endpoint


def webhook_endpoint_delete(endpoint: WebhookEndpoint) -> None:
    _delete(endpoint, "webhook", Q(webhook=endpoint))
