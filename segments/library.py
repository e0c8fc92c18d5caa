"""Ready segment templates: named, parameterised rules an operator copies and then edits.

Each template is declared once here; the API (GET /api/v1/segment-templates/), the docs
(docs/segment-rules.md) and "create a segment from a template" all read TEMPLATES.
A template's rule is plain JsonLogic built with segments.rules.condition, so the copy is an
ordinary rule: nothing links the segment back to the template after it is created.
"""

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from customers.models import LifecycleStage, RfmClass
from segments.rules import condition, is_time_dependent, parse
from segments.rules.values import MAX_DAYS


@dataclasses.dataclass(frozen=True)
class Param:
    """One template parameter, described as JSON Schema for the UI and checked by `clean`."""

    name: str
    type: str  # "integer" | "number" | "string"
    label: Promise
    default: Any = None  # None: required
    minimum: int | float | None = None
    maximum: int | float | None = None
    example: Any = None  # for a required param: what the docs and tests fill in

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type, "title": str(self.label)}
        if self.default is not None:
            schema["default"] = self.default
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.type == "string":
            schema.update(minLength=1, maxLength=200)
        return schema

    def clean(self, value: Any) -> Any:
        """The value, or ValueError saying what is wrong with it."""
        if not _is_of_type(value, self.type):
            raise ValueError(f"expected {'an' if self.type == 'integer' else 'a'} {self.type}")
        if self.type == "string":
            value = value.strip()
            if not 1 <= len(value) <= 200:
                raise ValueError("expected 1 to 200 characters")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be at most {self.maximum}")
        return value


def _is_of_type(value: Any, kind: str) -> bool:
    if isinstance(value, bool):  # JSON true is not the number 1
        return False
    return {"integer": isinstance(value, int),
            "number": isinstance(value, int | float) and math.isfinite(value),
            "string": isinstance(value, str)}[kind]


class TemplateError(ValueError):
    """Unknown template or bad parameters; `problems` are (path, message) pairs such as
    ("params.days", "must be at least 1")."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class Template:
    key: str  # stored on the segment it was copied to; never renamed
    category: str
    name: Promise
    description: Promise
    build: Callable[..., dict]  # keyword params -> JsonLogic rule
    params: tuple[Param, ...] = ()

    def params_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {param.name: param.schema() for param in self.params},
            "required": [param.name for param in self.params if param.default is None],
            "additionalProperties": False,
        }

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params if p.default is not None}

    def example_params(self) -> dict[str, Any]:
        """Defaults, and the example of each required parameter."""
        return {p.name: p.default if p.default is not None else p.example for p in self.params}

    def rule(self, params: Mapping[str, Any] | None = None) -> dict:
        """The JsonLogic rule for these params (defaults fill the rest), or TemplateError."""
        return self.build(**self.clean(params or {}))

    def clean(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(params, Mapping):
            raise TemplateError([("params", "expected an object")])
        known = {param.name: param for param in self.params}
        problems = [(f"params.{name}", f'unknown parameter (this template takes: '
                                       f'{", ".join(known) or "none"})')
                    for name in params if name not in known]
        cleaned = self.defaults()
        for name, value in params.items():
            if name in known:
                try:
                    cleaned[name] = known[name].clean(value)
                except ValueError as exc:
                    problems.append((f"params.{name}", str(exc)))
        problems += [(f"params.{name}", "required") for name in known
                     if name not in cleaned and name not in params]
        if problems:
            raise TemplateError(problems)
        return cleaned


TEMPLATES: dict[str, Template] = {}
LANGUAGES = ("en", "zh-hans")  # the API and the docs give names in both


def register(template: Template) -> Template:
    assert template.key not in TEMPLATES, template.key  # noqa: S101 - a programming error
    TEMPLATES[template.key] = template
    return template


def template_rule(key: Any, params: Mapping[str, Any] | None = None) -> dict:
    """The rule of template `key` with `params`, or TemplateError naming the bad part."""
    template = TEMPLATES.get(key) if isinstance(key, str) else None
    if template is None:
        raise TemplateError([("template", f"unknown template {key!r}")])
    return template.rule(params)


def _days(default: int, label=None, minimum: int = 1) -> Param:
    return Param("days", "integer", label or _("Days"), default, minimum, MAX_DAYS)


# --- RFM classes and lifecycle stages -------------------------------------------------------

RFM_DESCRIPTIONS = {
    RfmClass.IMPORTANT_VALUE: _("Recent, frequent, high-spending: your champions."),
    RfmClass.IMPORTANT_DEVELOPMENT: _("Recent high spenders who rarely buy: grow frequency."),
    RfmClass.IMPORTANT_RETENTION: _("Frequent high spenders who have not bought lately."),
    RfmClass.IMPORTANT_WINBACK: _("High spenders who buy rarely and not lately: win them "
                                  "back."),
    RfmClass.GENERAL_VALUE: _("Recent, frequent buyers with low spend: raise basket size."),
    RfmClass.GENERAL_DEVELOPMENT: _("Recent buyers with low frequency and spend."),
    RfmClass.GENERAL_RETENTION: _("Frequent low spenders who have not bought lately."),
    RfmClass.GENERAL_WINBACK: _("Low on recency, frequency and spend."),
}
for _class, _description in RFM_DESCRIPTIONS.items():
    register(Template(
        f"rfm_{_class.value}", "rfm", _class.label, _description,
        lambda value=_class.value: condition("rfm_class", "==", value)))

STAGE_TEMPLATES = {
    LifecycleStage.PROSPECT: (_("Prospects"),
                              _("Known customers without a paid order yet.")),
    LifecycleStage.NEW: (_("New customers"),
                         _("One paid order, placed recently (within 90 days by default).")),
    LifecycleStage.ACTIVE: (_("Active customers"),
                            _("Two or more paid orders, the last one recent (60 days by "
                              "default).")),
    LifecycleStage.DORMANT: (_("Dormant customers"),
                             _("Bought before, but not recently (60 days by default).")),
    LifecycleStage.CHURNED: (_("Churned customers"),
                             _("No order and no activity for a long time (180 days by default).")),
}
for _stage, (_name, _description) in STAGE_TEMPLATES.items():
    register(Template(
        f"stage_{_stage.value}", "lifecycle", _name, _description,
        lambda value=_stage.value: condition("lifecycle_stage", "==", value)))


def _stage_changed(stage: str):
    def build(days: int) -> dict:
        return condition("lifecycle_stage", "stage_changed_to",
                         {"stage": stage, "within_days": days})

    return build


register(Template(
    "recently_churned", "lifecycle", _("Recently churned"),
    _("Became churned within the last N days: time for a comeback offer."),
    _stage_changed(LifecycleStage.CHURNED.value), (_days(7),)))
register(Template(
    "recently_dormant", "lifecycle", _("Recently dormant"),
    _("Became dormant within the last N days: the best moment for a win-back."),
    _stage_changed(LifecycleStage.DORMANT.value), (_days(7),)))

# --- Moments: birthdays and anniversaries ---------------------------------------------------

register(Template(
    "birthday_today", "moments", _("Birthday today"),
    _("Birthday today in the customer's own time zone (29 Feb on 28 Feb in other years)."),
    lambda: condition("birthday", "birthday_today")))
register(Template(
    "birthday_this_week", "moments", _("Birthday this week"),
    _("Birthday today or in the next 6 days (7 days in all), in the customer's time zone."),
    lambda: condition("birthday", "birthday_within_days", 6)))
register(Template(
    "birthday_this_month", "moments", _("Birthday this month"),
    _("Birthday in the current calendar month, in the customer's time zone."),
    lambda: condition("birthday", "birthday_this_month")))


def _birthday_in(days: int) -> dict:
    if days == 0:
        return condition("birthday", "birthday_today")
    return {"and": [condition("birthday", "birthday_within_days", days),
                    {"!": condition("birthday", "birthday_within_days", days - 1)}]}


register(Template(
    "birthday_in_days", "moments", _("Birthday in N days"),
    _("Birthday exactly N days from today, to greet or send a coupon ahead of the day."),
    _birthday_in, (_days(3, minimum=0),)))
register(Template(
    "first_order_anniversary", "moments", _("First-order anniversary"),
    _("The anniversary of the first paid order falls within the next N days (0: today)."),
    lambda days: condition("first_order", "anniversary_within_days", days),
    (_days(0, minimum=0),)))

# --- Value ----------------------------------------------------------------------------------

register(Template(
    "high_value_top_percent", "value", _("High value: top N% by spend"),
    _("The top N percent of customers by monetary value (spend in the analysis window)."),
    lambda percent: condition("monetary", "top_percent", percent),
    (Param("percent", "number", _("Percent"), 10, 0.01, 100),)))
register(Template(
    "high_ltv", "value", _("High value: LTV above X"),
    _("Customers whose historical LTV (net revenue to date) is above X."),
    lambda amount: condition("ltv", ">", amount),
    (Param("amount", "number", _("Amount"), 1000, 0),)))
register(Template(
    "recent_big_spenders", "value", _("Big spenders lately"),
    _("Spent at least X (net of refunds) in paid orders within the last N days."),
    lambda amount, days: condition("orders", "orders_within",
                                   {"within_days": days, "min_amount": amount}),
    (Param("amount", "number", _("Amount"), 500, 0), _days(30))))
register(Template(
    "repeat_buyers", "value", _("Repeat buyers"),
    _("Customers with at least N paid orders (all time)."),
    lambda min_orders: condition("order_count", ">=", min_orders),
    (Param("min_orders", "integer", _("Minimum paid orders"), 2, 2, 100_000),)))

# --- Predictions (the value model: customers/services/prediction) -----------------------------

IMPORTANT_CLASSES = [RfmClass.IMPORTANT_VALUE.value, RfmClass.IMPORTANT_DEVELOPMENT.value,
                     RfmClass.IMPORTANT_RETENTION.value, RfmClass.IMPORTANT_WINBACK.value]
register(Template(
    "high_predicted_value", "prediction", _("High predicted value"),
    _("The top N percent of customers by predicted CLV over the model's horizon."),
    lambda percent: condition("predicted_clv", "top_percent", percent),
    (Param("percent", "number", _("Percent"), 10, 0.01, 100),)))
register(Template(
    "important_likely_to_churn", "prediction", _("Likely to churn among important customers"),
    _("Important RFM classes whose churn probability is at least P (0-1)."),
    lambda probability: {"and": [
        condition("rfm_class", "in", IMPORTANT_CLASSES),
        condition("churn_probability", ">=", probability)]},
    (Param("probability", "number", _("Churn probability"), 0.5, 0, 1),)))
register(Template(
    "high_value_coefficient", "prediction", _("High value coefficient"),
    _("Customers whose value coefficient (0-100) is at least X."),
    lambda score: condition("value_coefficient", ">=", score),
    (Param("score", "number", _("Value coefficient"), 70, 0, 100),)))
register(Template(
    "worth_a_winback", "prediction", _("Dormant, but worth winning back"),
    _("Dormant customers whose predicted CLV is at least X (e.g. the win-back coupon's "
      "cost)."),
    lambda amount: {"and": [condition("lifecycle_stage", "==", LifecycleStage.DORMANT.value),
                            condition("predicted_clv", ">=", amount)]},
    (Param("amount", "number", _("Amount"), 20, 0),)))

# --- Retention ------------------------------------------------------------------------------

for _default, _name in [(30, _("No purchase for 30+ days")),
                        (60, _("No purchase for 60+ days")),
                        (90, _("No purchase for 90+ days"))]:
    register(Template(
        f"dormant_{_default}", "retention", _name,
        _("Bought before, but no paid order for at least N days."),
        lambda days: condition("recency_days", ">=", days), (_days(_default),)))
register(Template(
    "churn_risk", "retention", _("Churn risk"),
    _("Repeat buyers with no paid order for N+ days who are not yet churned."),
    lambda days: {"and": [
        condition("order_count", ">=", 2),
        condition("recency_days", ">=", days),
        condition("lifecycle_stage", "in", [LifecycleStage.ACTIVE.value,
                                            LifecycleStage.DORMANT.value]),
    ]},
    (_days(45),)))
register(Template(
    "first_order_no_repeat", "retention", _("New customers without a second order"),
    _("One paid order, placed at least N days ago, and no second order since."),
    lambda days: {"and": [condition("first_order", "first_order_no_repeat", {"days": days}),
                          condition("order_count", "==", 1)]},
    (_days(30),)))

# --- Behaviour ------------------------------------------------------------------------------

_HOURS = Param("hours", "integer", _("Hours"), 24, 1, 24 * 90)
_LOOKBACK = Param("within_days", "integer", _("Look back (days)"), 7, 1, 365)
register(Template(
    "cart_abandoners", "behaviour", _("Cart abandoners"),
    _("Added to cart in the last days and placed no order within H hours after."),
    lambda hours, within_days: condition("cart", "cart_abandoned",
                                         {"hours": hours, "within_days": within_days}),
    (_HOURS, _LOOKBACK)))
register(Template(
    "unpaid_orders", "behaviour", _("Unpaid orders"),
    _("Placed an order in the last days and did not pay within H hours."),
    lambda hours, within_days: condition("orders", "unpaid_order",
                                         {"hours": hours, "within_days": within_days}),
    (dataclasses.replace(_HOURS, default=1), _LOOKBACK)))
register(Template(
    "browsing_not_buying", "behaviour", _("Browsing but not buying"),
    _("Visited at least 3 times in the last N days without a paid order in that time."),
    lambda days: {"and": [
        condition("events", "did_event", {"name": "visit", "min_count": 3, "within_days": days}),
        {"!": condition("orders", "orders_within", {"within_days": days, "min_count": 1})},
    ]},
    (_days(30),)))
register(Template(
    "new_signups_without_order", "behaviour", _("New sign-ups without an order"),
    _("Signed up within the last N days and has not bought yet."),
    lambda days: {"and": [condition("days_since_signup", "<=", days),
                          condition("recency_days", "is_null")]},
    (_days(7, minimum=0),)))

# --- Reach and place ------------------------------------------------------------------------

register(Template(
    "email_reachable", "reach", _("Reachable by email"),
    _("Has an email address and has consented to marketing email."),
    lambda: {"and": [condition("email_consent", "==", True),
                     condition("email", "is_not_null")]}))
register(Template(
    "sms_reachable", "reach", _("Reachable by SMS"),
    _("Has a phone number and has consented to marketing SMS."),
    lambda: {"and": [condition("sms_consent", "==", True),
                     condition("phone", "is_not_null")]}))
register(Template(
    "city", "reach", _("Customers in a city"),
    _("Customers whose city is exactly the one given."),
    lambda city: condition("city", "==", city),
    (Param("city", "string", _("City"), example="Shanghai"),)))


def describe_templates() -> list[dict[str, Any]]:
    """Every template as the API and the docs show it, named in English and Chinese."""
    described = []
    for template in TEMPLATES.values():
        rule = template.rule(template.example_params())
        described.append({
            "key": template.key,
            "category": template.category,
            "name": _in_languages(template.name),
            "description": _in_languages(template.description),
            "params": template.params_schema(),
            "rule": rule,
            "time_dependent": is_time_dependent(parse(rule)),
        })
    return described


def _in_languages(text: Promise) -> dict[str, str]:
    return {language: _translated(text, language) for language in LANGUAGES}


def _translated(text: Promise, language: str) -> str:
    with translation.override(language):
        return str(text)
