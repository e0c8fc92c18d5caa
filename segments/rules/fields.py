"""Every rule field, registered once. Operators per field type are listed here, not guessed."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from customers.models import Gender, LifecycleStage, RfmClass
from segments.rules.registry import ATTRIBUTE_PREFIX, Field, FieldType, Group, register_field

EQUALITY = ("==", "!=", "in", "not_in")
ORDER = ("<", "<=", ">", ">=", "between")
NULLS = ("is_null", "is_not_null")
TEXT = (*EQUALITY, "contains", "starts_with", "ends_with", *NULLS)
NUMBER = ("==", "!=", *ORDER, *NULLS)
METRIC = (*NUMBER, "top_percent")
DAYS = ("==", "!=", *ORDER, *NULLS)
CHOICE = (*EQUALITY, *NULLS)


def _text(name, label, path=None, group=Group.PROFILE):
    register_field(Field(name, label, FieldType.STRING, group, TEXT, path=path or name))


def _days(name, label, path, description=""):
    register_field(Field(name, label, FieldType.DAYS_SINCE, Group.VALUE, DAYS, path=path,
                         description=description))


def _metric(name, label, kind=FieldType.NUMBER, ranked=True):
    register_field(Field(name, label, kind, Group.VALUE, METRIC if ranked else NUMBER,
                         path=f"metrics__{name}"))


# Profile
_text("external_id", _("External id"))
_text("email", _("Email"))
_text("phone", _("Phone"))
_text("name", pgettext_lazy("customer", "Name"))
_text("city", _("City"))
_text("acquisition_channel", _("Acquisition channel"))
_text("time_zone", _("Time zone"))
register_field(Field("gender", _("Gender"), FieldType.ENUM, Group.PROFILE, CHOICE, path="gender",
                     choices=tuple(Gender.choices)))
register_field(Field(
    "birthday", _("Birthday"), FieldType.DATE, Group.PROFILE,
    ("birthday_today", "birthday_within_days", "birthday_this_month", *ORDER, *NULLS),
    path="birthday"))
_days("days_since_signup", _("Days since sign-up"), "signup_at")
_days("days_since_last_seen", _("Days since last seen"), "activity__last_seen_at",
      _("Whole days since the last activity event."))
register_field(Field("tags", _("Tags"), FieldType.TAGS, Group.PROFILE,
                     ("has_tag", "has_any_tag", "has_all_tags"), path="tags"))
register_field(Field(
    ATTRIBUTE_PREFIX + "*", _("Attribute"), FieldType.ATTRIBUTE, Group.PROFILE,
    (*EQUALITY, *ORDER, "contains", "starts_with", "ends_with", *NULLS), path="attributes",
    description=_("attributes.<key>: one key of the free-form attributes. The value's JSON "
                  "type (text, number, true/false) decides what it is compared with.")))

# Consent
register_field(Field("email_consent", _("Email consent"), FieldType.BOOLEAN, Group.CONSENT,
                     ("==",), path="email_consent"))
register_field(Field("sms_consent", _("SMS consent"), FieldType.BOOLEAN, Group.CONSENT,
                     ("==",), path="sms_consent"))

# Value metrics (customers/services/metrics)
_days("recency_days", _("Recency (days since last paid order)"), "metrics__last_order_at")
_days("days_since_first_order", _("Days since first paid order"), "metrics__first_order_at")
_metric("frequency", _("Frequency (paid orders in the window)"), FieldType.INTEGER)
_metric("monetary", _("Monetary (spend in the window)"))
_metric("ltv", _("Historical LTV"))
_metric("aov", _("Average order value"))
_metric("order_count", _("Paid orders (all time)"), FieldType.INTEGER)
for _score, _label in [("r_score", _("R score")), ("f_score", _("F score")),
                       ("m_score", _("M score"))]:
    _metric(_score, _label, FieldType.INTEGER, ranked=False)
register_field(Field("rfm_class", _("RFM class"), FieldType.ENUM, Group.VALUE, CHOICE,
                     path="metrics__rfm_class", choices=tuple(RfmClass.choices)))
register_field(Field("lifecycle_stage", _("Lifecycle stage"), FieldType.ENUM, Group.VALUE,
                     (*CHOICE, "stage_changed_to"), path="metrics__lifecycle_stage",
                     choices=tuple(LifecycleStage.choices)))
register_field(Field("first_order", _("First paid order"), FieldType.BEHAVIOUR, Group.VALUE,
                     ("anniversary_today", "anniversary_within_days", "first_order_no_repeat"),
                     path="metrics__first_order_at"))

# Predictions (customers/services/prediction): NULL without a paid order to predict from
_PREDICTIONS = [
    ("predicted_clv", _("Predicted CLV (next horizon)"), METRIC,
     _("Expected revenue over the model's horizon (90 days by default).")),
    ("expected_purchases", _("Expected purchases (next horizon)"), METRIC, ""),
    ("churn_probability", _("Churn probability"), METRIC,
     _("1 - P(alive) from the BG/NBD fit, between 0 and 1.")),
    ("value_coefficient", _("Value coefficient"), METRIC,
     _("0-100: weighted percentiles of predicted CLV, repurchase rate, engagement and "
       "referrals.")),
]
for _name, _label, _operators, _description in _PREDICTIONS:
    register_field(Field(_name, _label, FieldType.NUMBER, Group.VALUE, _operators,
                         path=f"prediction__{_name}", description=_description))
for _name, _label in [("predicted_clv_percentile", _("Predicted CLV percentile")),
                      ("expected_purchases_percentile", _("Expected purchases percentile")),
                      ("churn_probability_percentile", _("Churn probability percentile")),
                      ("value_coefficient_percentile", _("Value coefficient percentile"))]:
    register_field(Field(_name, _label, FieldType.NUMBER, Group.VALUE, NUMBER,
                         path=f"prediction__{_name}",
                         description=_("0-100: the share of customers with a prediction "
                                       "at or below this one.")))

# Behaviour
register_field(Field("events", _("Events"), FieldType.BEHAVIOUR, Group.BEHAVIOUR,
                     ("did_event", "did_not_event")))
register_field(Field("orders", _("Orders"), FieldType.BEHAVIOUR, Group.BEHAVIOUR,
                     ("orders_within", "unpaid_order")))
register_field(Field("cart", _("Cart"), FieldType.BEHAVIOUR, Group.BEHAVIOUR,
                     ("cart_abandoned",)))

# Membership
register_field(Field("segment", _("Segment"), FieldType.SEGMENT, Group.MEMBERSHIP,
                     ("in_segment", "not_in_segment")))
