"""Message templates: a sandboxed Django template engine, the variables a message may use,
translations by the customer's language, and checks at save time.

The engine knows the default tags and filters only: no {% load %} of other libraries, no
{% include %} or {% extends %} (no loaders), no {% debug %}. Variables are plain values, never
model instances, wrapped so that a template can read them but never call a method that
changes them. A missing variable renders empty. Email bodies are HTML with their variables
escaped; SMS, inbox and webhook bodies are text (webhook bodies JSON, their strings escaped
for JSON).

    customer   external_id, name, email, phone, city, birthday, language, time_zone,
               attributes, tags
    metrics    ltv, order_count, aov, frequency, monetary, rfm_class, lifecycle_stage,
               recency_days, first_order_at, last_order_at, r_score, f_score, m_score
    coupon     code (display form), discount (text), kind, value, currency,
               min_order_amount, expires_at (in the customer's time zone), name
    campaign   name
    unsubscribe_url, and in webhook bodies json.customer, json.metrics, json.coupon and
    json.campaign (each a whole JSON value)

Each (template, language) is compiled once per process and version (the template's
updated_at), not once per message: a batch of 1,000 emails compiles nothing after its first.
"""

import dataclasses
import datetime
import decimal
import functools
import html
import json
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from campaigns.channels import CHANNELS, ChannelType
from campaigns.flows.lookups import zone
from campaigns.models import Coupon
from campaigns.services.bulk import filter_one_of
from campaigns.services.coupons import display_code
from campaigns.services.flat_templates import SCALAR_TYPES, FlatTemplate, Values
from campaigns.services.unsubscribe import PREVIEW_LINK, unsubscribe_prefix
from customers.models import Customer

LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")
SUBJECT_MAX = 300


# --- the engine ------------------------------------------------------------------------------

def _engine(*, autoescape: bool) -> Engine:
    engine = Engine(loaders=[], libraries={}, autoescape=autoescape, string_if_invalid="")
    tags = Library()
    tags.tags = {name: tag for name, tag in defaulttags.register.tags.items() if name != "debug"}
    engine.template_builtins = [tags, defaultfilters.register]  # no loader tags
    return engine


HTML_ENGINE = _engine(autoescape=True)
TEXT_ENGINE = _engine(autoescape=False)


# Values a template cannot change: returned by readonly() as they are, with one type check.
_IMMUTABLE = SCALAR_TYPES | {Values}


def readonly(value: Any) -> Any:
    """Nested dicts and lists as Values and tuples (a list's pop/sort would change it)."""
    if type(value) in _IMMUTABLE:
        return value  # a Values was made by readonly(): read-only all the way down
    if isinstance(value, dict):  # scalars inline: most values are, and a call each adds up
        return Values({key: item if type(item) in _IMMUTABLE else readonly(item)
                       for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(item if type(item) in _IMMUTABLE else readonly(item) for item in value)
    return value


# --- variables -------------------------------------------------------------------------------

CUSTOMER_FIELDS = ("id", "external_id", "name", "email", "phone", "city", "birthday",
                   "language", "time_zone", "attributes", "tags", "email_consent",
                   "sms_consent")
METRICS_FIELDS = ("ltv", "order_count", "aov", "frequency", "monetary", "rfm_class",
                  "lifecycle_stage", "first_order_at", "last_order_at", "r_score", "f_score",
                  "m_score")


def customer_rows(customer_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Customer id -> its fields and metrics (metrics__*), in one query."""
    fields = [*CUSTOMER_FIELDS, *(f"metrics__{name}" for name in METRICS_FIELDS)]
    customers = filter_one_of(Customer.objects, f"{Customer._meta.db_table}.id",
                              set(customer_ids))
    return {row["id"]: row for row in customers.values(*fields)}


def _local(moment: datetime.datetime | None, tz: zoneinfo.ZoneInfo) -> datetime.datetime | None:
    return moment.astimezone(tz) if moment else None


def customer_values(row: Mapping[str, Any]) -> dict[str, Any]:
    tz = zone(row["time_zone"])
    return {"external_id": row["external_id"], "name": row["name"], "email": row["email"],
            "phone": row["phone"], "city": row["city"], "birthday": row["birthday"],
            "language": row["language"], "time_zone": tz.key,
            "attributes": row["attributes"] or {}, "tags": row["tags"] or []}


def metrics_values(row: Mapping[str, Any], now: datetime.datetime) -> dict[str, Any]:
    tz = zone(row["time_zone"])
    values = {name: row.get(f"metrics__{name}") for name in METRICS_FIELDS}
    last = values["last_order_at"]
    values["recency_days"] = (now - last) // datetime.timedelta(days=1) if last else None
    values["first_order_at"] = _local(values["first_order_at"], tz)
    values["last_order_at"] = _local(last, tz)
    if values["order_count"] is None:
        values["order_count"] = 0
    return values


def _amount(value: decimal.Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def discount_text(kind: str, value: decimal.Decimal, currency: str = "",
                  min_order_amount: decimal.Decimal | None = None) -> str:
    """"15% off", "10 USD off", "... on orders of 50 or more", in the active language."""
    return _discount_text(kind, value, currency, min_order_amount, translation.get_language())


@functools.lru_cache(maxsize=1024)
def _discount_text(kind: str, value: decimal.Decimal, currency: str,
                   min_order_amount: decimal.Decimal | None, language: str | None) -> str:
    if kind == "percentage":
        text = _("%(value)s%% off") % {"value": _amount(value)}
    else:
        text = _("%(value)s %(currency)s off") % {"value": _amount(value),
                                                  "currency": currency}
        text = text.replace("  ", " ")
    if min_order_amount:
        text += " " + _("on orders of %(amount)s or more") % {"amount": _amount(min_order_amount)}
    return text.strip()


COUPON_FIELDS = ("id", "code", "expires_at", "definition__name", "definition__kind",
                 "definition__value", "definition__currency", "definition__min_order_amount",
                 "definition__code_prefix")


def coupon_rows(coupon_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    ids = {pk for pk in coupon_ids if pk}
    if not ids:
        return {}
    coupons = filter_one_of(Coupon.objects, f"{Coupon._meta.db_table}.id", ids)
    return {row["id"]: row for row in coupons.values(*COUPON_FIELDS)}


def coupon_values(row: Mapping[str, Any], tz: zoneinfo.ZoneInfo) -> dict[str, Any]:
    return {"code": display_code(row["code"], row["definition__code_prefix"]),
            "discount": discount_text(row["definition__kind"], row["definition__value"],
                                      row["definition__currency"],
                                      row["definition__min_order_amount"]),
            "kind": row["definition__kind"], "value": row["definition__value"],
            "currency": row["definition__currency"],
            "min_order_amount": row["definition__min_order_amount"],
            "expires_at": _local(row["expires_at"], tz), "name": row["definition__name"]}


def sample_customer() -> dict[str, Any]:
    return {"id": None, "external_id": "sample", "name": _("Alex Sample"),
            "email": "alex@example.com", "phone": "+1 555 0100", "city": "Shanghai",
            "birthday": datetime.date(1990, 5, 17), "language": "", "time_zone": "",
            "attributes": {}, "tags": [], "email_consent": True, "sms_consent": True,
            "metrics__ltv": decimal.Decimal("1234.50"), "metrics__order_count": 5,
            "metrics__aov": decimal.Decimal("246.90"), "metrics__frequency": 5,
            "metrics__monetary": decimal.Decimal("1234.50"),
            "metrics__rfm_class": "important_value", "metrics__lifecycle_stage": "active",
            "metrics__first_order_at": None, "metrics__last_order_at": None,
            "metrics__r_score": 5, "metrics__f_score": 4, "metrics__m_score": 5}


def sample_coupon(now: datetime.datetime) -> dict[str, Any]:
    return {"id": None, "code": "SAMPLE7KQ4DMX2PB", "expires_at": now + datetime.timedelta(days=7),
            "definition__name": _("Sample coupon"), "definition__kind": "percentage",
            "definition__value": decimal.Decimal("15"), "definition__currency": "",
            "definition__min_order_amount": decimal.Decimal("0"),
            "definition__code_prefix": "SAMPLE"}


def message_context(*, customer: dict[str, Any] | None, metrics: dict[str, Any] | None,
                    coupon: dict[str, Any] | None, campaign: dict[str, Any] | None,
                    unsubscribe_url: str = "") -> dict[str, Any]:
    """The variables of one message, read-only (pass customer and metrics through readonly()
    once per customer when they serve several messages)."""
    return {"customer": readonly(customer or {}), "metrics": readonly(metrics or {}),
            "coupon": readonly(coupon or {}), "campaign": readonly(campaign or {}),
            "unsubscribe_url": unsubscribe_url}


# --- JSON bodies -----------------------------------------------------------------------------

def plain_json(value: Any) -> Any:
    """A value as json.dumps takes it: times ISO 8601, decimals as strings."""
    if isinstance(value, dict):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _json_escaped(value: Any) -> Any:
    """What a webhook body template sees: strings escaped to sit between JSON quotes, and
    null, true and false as JSON writes them."""
    if isinstance(value, dict):
        return {key: _json_escaped(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_escaped(item) for item in value]
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    plain = plain_json(value)
    return json.dumps(plain)[1:-1] if isinstance(plain, str) else plain


def json_context(context: dict[str, Any]) -> dict[str, Any]:
    escaped = _json_escaped(context)
    escaped["json"] = {name: json.dumps(plain_json(context[name]), ensure_ascii=False)
                       for name in ("customer", "metrics", "coupon", "campaign")}
    return escaped


# --- compiling -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str
    text: str = ""  # email: the plain-text alternative
    language: str = ""  # the translation used ("" for the default text)


@dataclasses.dataclass(frozen=True, slots=True)
class Compiled:
    channel: ChannelType
    language: str
    subject: Template
    body: Template

    def render(self, context: dict[str, Any]) -> Rendered:
        values = readonly(json_context(context)) if self.channel.json else context
        context = Context(values, autoescape=False, use_tz=False)
        subject = self.subject.render(context)
        context.autoescape = self.channel.html  # one context for both: ~4 us a message
        body = self.body.render(context)
        subject = " ".join(subject.split())[:SUBJECT_MAX]
        if self.channel.json:
            json.loads(body)  # ValueError: not JSON for this customer
        return Rendered(subject, body, html_to_text(body) if self.channel.html else "",
                        self.language)


def _unsubscribe_footer(channel: ChannelType, body: str, language: str) -> str:
    """Every email and SMS carries an unsubscribe link: added when the body has none."""
    if not channel.unsubscribe or "unsubscribe_url" in body:
        return body
    with translation.override(ui_language(language)):
        label = escape(_("Unsubscribe")) if channel.html else _("Unsubscribe")
    if channel.html:
        link = (f'<p style="font-size:12px;color:#777777"><a href="{{{{ unsubscribe_url }}}}">'
                f"{label}</a></p>")
    else:
        link = f"{label}: {{{{ unsubscribe_url }}}}"
    return f"{body}{{% if unsubscribe_url %}}\n{link}{{% endif %}}"


def compile_template(channel: ChannelType, subject: str, body: str,
                     language: str = "") -> Compiled:
    """TemplateSyntaxError names the problem (and its line)."""
    body_engine = HTML_ENGINE if channel.html else TEXT_ENGINE
    return Compiled(channel, language, FlatTemplate(subject, engine=TEXT_ENGINE),
                    FlatTemplate(_unsubscribe_footer(channel, body, language),
                                 engine=body_engine))


@functools.lru_cache(maxsize=512)
def _compiled(channel: str, language: str, subject: str, body: str) -> Compiled:
    return compile_template(CHANNELS[channel], subject, body, language)


def translation_key(translations: Mapping[str, Any], language: str) -> str:
    """The translation to use for `language`: exact, then shorter and shorter prefixes
    (zh-hans-cn, zh-hans, zh); "" for the default text."""
    tag = (language or "").lower()
    while tag:
        if tag in translations:
            return tag
        tag = tag.rpartition("-")[0]
    return ""


@functools.lru_cache(maxsize=256)
def ui_language(language: str) -> str:
    """The closest language Django has translations for (dates, the footer's words)."""
    try:
        return translation.get_supported_language_variant(language or settings.LANGUAGE_CODE)
    except LookupError:
        return settings.LANGUAGE_CODE


def template_for(template, language: str) -> Compiled:
    """A MessageTemplate (saved or not) compiled for a customer's language; compiled once per
    process for each distinct text."""
    key = translation_key(template.translations or {}, language)
    source = template.translations[key] if key else {}
    return _compiled(template.channel, key, source.get("subject", template.subject),
                     source.get("body", template.body))


def render(compiled: Compiled, context: dict[str, Any], language: str) -> Rendered:
    """Render in the customer's language (dates and numbers as it writes them)."""
    with translation.override(ui_language(compiled.language or language)):
        return compiled.render(context)


# --- HTML to text ----------------------------------------------------------------------------

_LINK = re.compile(r"<a\s[^>]*?href\s*=\s*[\"']([^\"']*)[\"'][^>]*>(.*?)</a\s*>", re.I | re.S)
_BREAK = re.compile(r"<br\s*/?>|</(p|div|h[1-6]|li|tr|table|blockquote)\s*>", re.I)
_DROP = re.compile(r"<(style|script|head)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def _link_text(match: re.Match) -> str:
    url, label = match.group(1), _TAG.sub("", match.group(2)).strip()
    return url if not label or label == url else f"{label} ({url})"


def html_to_text(body: str) -> str:
    """The plain-text alternative of an HTML email: links as "label (url)", one line per
    paragraph, tags dropped, entities decoded."""
    text = _DROP.sub("", body)
    text = _LINK.sub(_link_text, text)
    text = _BREAK.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    text = _SPACES.sub(" ", text)
    return _BLANK_LINES.sub("\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


# --- checks at save time ---------------------------------------------------------------------

def sample_unsubscribe_url() -> str:
    """Where the unsubscribe link of a preview or a test send points: a page saying the link
    is not valid (a working one would unsubscribe the customer the preview is for)."""
    return f"{unsubscribe_prefix()}{PREVIEW_LINK}/"


def sample_context(now: datetime.datetime) -> dict[str, Any]:
    row = sample_customer()
    tz = zone(row["time_zone"])
    return message_context(customer=customer_values(row), metrics=metrics_values(row, now),
                           coupon=coupon_values(sample_coupon(now), tz),
                           campaign={"id": None, "name": _("Sample campaign")},
                           unsubscribe_url=sample_unsubscribe_url())


def _variant_problems(channel: ChannelType, subject: str, body: str, prefix: str,
                      now: datetime.datetime) -> list[tuple[str, str]]:
    problems = []
    for field, source, engine in (("subject", subject, TEXT_ENGINE),
                                  ("body", body, HTML_ENGINE if channel.html else TEXT_ENGINE)):
        try:
            engine.from_string(source)
        except TemplateSyntaxError as exc:
            problems.append((f"{prefix}{field}", str(exc)))
    if problems or not channel.json:
        return problems
    try:
        compile_template(channel, subject, body).render(sample_context(now))
    except ValueError as exc:
        return [(f"{prefix}body", _("does not render to JSON (with a sample customer): "
                                    "%(error)s") % {"error": exc})]
    return []


def template_problems(*, channel: str, subject: str, body: str, translations: Any,
                      now: datetime.datetime) -> list[tuple[str, str]]:
    """(field, message) for each problem of a template: syntax, a webhook body that is not
    JSON, a translation that is not {"subject": ..., "body": ...} under a language tag."""
    kind = CHANNELS[channel]
    problems = _variant_problems(kind, subject, body, "", now)
    if kind.key == "email" and not subject.strip():
        problems.append(("subject", _("an email needs a subject")))
    if not isinstance(translations, dict):
        return [*problems, ("translations", _('an object {"zh-hans": {"subject": ..., '
                                               '"body": ...}}'))]
    for language, variant in translations.items():
        prefix = f"translations.{language}."
        if not LANGUAGE_TAG.match(language) or len(language) > 16:
            problems.append((f"translations.{language}",
                             _("not a lower-case language tag such as zh-hans")))
        elif not isinstance(variant, dict) or set(variant) - {"subject", "body"} \
                or not all(isinstance(v, str) for v in variant.values()):
            problems.append((f"translations.{language}",
                             _('an object {"subject": ..., "body": ...} of text')))
        else:
            problems.extend(_variant_problems(kind, variant.get("subject", subject),
                                              variant.get("body", body), prefix, now))
    return problems
