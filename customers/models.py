"""Customers, their orders and behaviour events, the storefronts that send them, and the
per-customer value metrics computed from them (see customers/services/metrics.py)."""

import datetime
import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import ExtractDay, ExtractMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())  # scans the tz database: ~4 ms


def is_time_zone(value: str) -> bool:
    return value in _time_zones()


def validate_time_zone(value: str) -> None:
    if value and not is_time_zone(value):
        raise ValidationError(_("%(value)s is not an IANA time zone."), params={"value": value})


class UtcDate(models.Func):
    """The date of a datetime in UTC, whatever the current time zone (an index expression
    must not depend on a setting)."""

    output_field = models.DateField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection,
                           template="((%(expressions)s AT TIME ZONE 'UTC')::date)", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="date(%(expressions)s)", **extra)


class MonthDay(models.Func):
    """MMDD of a date as a number. On PostgreSQL from date_part() (double precision): EXTRACT
    gives numeric, whose arithmetic costs more (building the index over 1M first orders 0.68 s
    -> 0.41 s, over 200,000 birthdays 0.12 s -> 0.08 s); elsewhere Django's Extract."""

    arity = 1
    output_field = models.IntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return (f"(date_part('month', {sql}) * 100 + date_part('day', {sql}))",
                (*params, *params))

    def as_sql(self, compiler, connection, **extra):
        [date] = self.source_expressions
        extracted = ExtractMonth(date) * models.Value(100) + ExtractDay(date)
        return compiler.compile(extracted.resolve_expression(compiler.query))


def month_day(date: str | models.Expression, tzinfo: datetime.tzinfo | None = None
              ) -> models.Expression:
    """MMDD of a date (or of a datetime's date in `tzinfo`) as a number. Birthdays and first
    orders (their UTC date) are indexed on it: segment rules on anniversaries narrow their
    scan with it."""
    if tzinfo is None:
        return MonthDay(date)
    return ExtractMonth(date, tzinfo=tzinfo) * models.Value(100) + ExtractDay(date, tzinfo=tzinfo)


class Storefront(models.Model):
    """A client of the storefront API: a web shop, a mini-program, a point of sale."""

    class Kind(models.TextChoices):
        WEB = "web", _("Web shop")
        MINI_PROGRAM = "mini_program", _("Mini-program")
        POS = "pos", _("Point of sale")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.WEB)
    currency = models.CharField(_("default currency"), max_length=3, default="USD")
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="UTC", validators=[validate_time_zone]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("storefront")
        verbose_name_plural = _("storefronts")

    def __str__(self) -> str:
        return self.name


class StorefrontKey(models.Model):
    """An API key. Only its SHA-256 is stored; the key itself is shown once, at creation."""

    storefront = models.ForeignKey(Storefront, on_delete=models.CASCADE, related_name="keys")
    prefix = models.CharField(_("prefix"), max_length=16, help_text=_("Identifies the key."))
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("storefront API key")
        verbose_name_plural = _("storefront API keys")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.storefront})"


class Gender(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")


class Customer(models.Model):
    # Unique through Meta.constraints: a plain constraint, without the extra LIKE index
    # PostgreSQL gets for unique=True on a CharField (every ingest pays for each index).
    # On PostgreSQL the column compares byte by byte (collation "C", migration 0015), so
    # that its unique index serves prefix searches too; an AlterField here would drop that.
    external_id = models.CharField(_("external id"), max_length=128)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    signup_at = models.DateTimeField(_("signed up at"), null=True, blank=True)
    acquisition_channel = models.CharField(_("acquisition channel"), max_length=50, blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, validators=[validate_time_zone]
    )
    # BCP 47 in lower case ("en", "zh-hans", "zh-hans-cn"): messages are rendered in it where
    # their template has a translation (the exact tag, then its base language).
    language = models.CharField(_("language"), max_length=16, blank=True)
    email_consent = models.BooleanField(_("email consent"), default=False)
    email_consent_at = models.DateTimeField(_("email consent changed at"), null=True, blank=True)
    sms_consent = models.BooleanField(_("SMS consent"), default=False)
    sms_consent_at = models.DateTimeField(_("SMS consent changed at"), null=True, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["acquisition_channel"]),
            models.Index(fields=["city"]),
            # "Birthday today / within N days" reads the few customers whose birthday falls
            # near the date instead of every customer (1M customers: ~400 ms -> ~20 ms).
            models.Index(month_day("birthday"), name="customer_birthday_month_day"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="customer_unique_external_id"),
        ]

    def __str__(self) -> str:
        return self.name or self.external_id

    @property
    def last_seen_at(self) -> datetime.datetime | None:
        """The time of the latest activity event (CustomerActivity); None before the first."""
        try:
            return self.activity.last_seen_at
        except CustomerActivity.DoesNotExist:
            return None

    last_seen_at.fget.short_description = _("last seen at")


class Erasure(models.Model):
    """A customer whose personal data was erased on request (the right to erasure): when, and
    who asked. The customer's row stays, emptied of everything personal, so that its orders
    keep counting in the revenue figures; segments and campaigns leave erased customers out
    (customers.services.erasure)."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, primary_key=True, related_name="erasure"
    )
    erased_at = models.DateTimeField(_("erased at"))
    requested_by = models.CharField(_("requested by"), max_length=200)

    class Meta:
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")

    def __str__(self) -> str:
        return f"customer {self.customer_id} erased {self.erased_at:%Y-%m-%d %H:%M}"


class CustomerActivity(models.Model):
    """When a customer was last seen: the time of their latest activity event (see
    MetricsSettings.activity_events), kept on ingest so that the nightly recompute never
    scans the events table. A row of its own, not a column of the customer: events arrive
    all day, and each one rewrote the wide customer row through its nine indexes (a CSV
    load of 1M events naming 200,000 customers spent 3.1 s of 10.3 s on it). No row: never
    seen."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, primary_key=True, related_name="activity"
    )
    last_seen_at = models.DateTimeField(_("last seen at"))

    class Meta:
        verbose_name = _("customer activity")
        verbose_name_plural = _("customer activity")

    def __str__(self) -> str:
        return f"activity of customer {self.customer_id}"


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Pending payment")
    PAID = "paid", _("Paid")
    REFUNDED = "refunded", _("Refunded")
    CANCELLED = "cancelled", _("Cancelled")


class Order(models.Model):
    """A storefront order. Refunds and cancellations are status updates of the same order;
    a partial refund keeps status `paid` and sets `refunded_amount`."""

    # Unique: Meta. Compared byte by byte on PostgreSQL, as Customer.external_id.
    external_id = models.CharField(_("external id"), max_length=128)
    # No index of its own: the (customer, placed_at) covering index serves every lookup.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="orders", db_index=False
    )
    storefront = models.ForeignKey(Storefront, on_delete=models.PROTECT, related_name="orders")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    refunded_amount = models.DecimalField(
        _("refunded amount"), max_digits=14, decimal_places=2, default=0
    )
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=10, choices=OrderStatus.choices)
    placed_at = models.DateTimeField(_("placed at"))
    coupon_code = models.CharField(_("coupon code"), max_length=64, blank=True)
    items = models.JSONField(_("line items"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            # Carries what the metrics aggregate reads, so the recompute streams every
            # customer's paid orders in customer order from this index alone
            # (bench/metrics.py: 4-6 s instead of 9-13 s sorting the table). PostgreSQL only:
            # other databases build it without the included columns.
            models.Index(fields=["customer", "placed_at"],
                         include=["status", "amount", "refunded_amount"],
                         name="order_customer_placed_cover"),
            # Orders in a time range ("spent X within the last 30 days", attribution, the
            # dashboards) read from this index alone, wherever the rows lie in the table: an
            # imported history is not in time order, and "big spenders lately" visited
            # 123,000 heap pages for 274,000 orders (a 2 s preview; 0.4 s from the index).
            models.Index(fields=["placed_at"],
                         include=["customer", "status", "amount", "refunded_amount"],
                         name="order_placed_cover"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="order_unique_external_id"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="order_amount_gte_0"),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__gte=0)
                & models.Q(refunded_amount__lte=models.F("amount")),
                name="order_refund_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class Event(models.Model):
    """A behaviour event (visit, login, cart_add, ...). A client-supplied event_id makes
    re-sending harmless: it is unique per storefront."""

    # No index of its own: the (customer, occurred_at) index serves every lookup.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    # No index of its own either: the client-id constraint's index starts with it.
    storefront = models.ForeignKey(
        Storefront, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    # On PostgreSQL the name compares byte by byte (collation "C", migration 0017): names are
    # the storefronts' identifiers (visit, cart_add), only ever matched whole; an AlterField
    # here would drop that.
    name = models.CharField(_("name"), max_length=64)
    occurred_at = models.DateTimeField(_("occurred at"))
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    # NULL, not "", so events without a client id never collide in the unique constraint
    # (NULLs are distinct in it).
    event_id = models.CharField(_("event id"), max_length=128, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["customer", "occurred_at"]),
            models.Index(fields=["name", "occurred_at"]),
        ]
        constraints = [
            # Whole rather than partial (WHERE event_id IS NOT NULL), so that its index also
            # serves lookups by storefront alone (migration 0017).
            models.UniqueConstraint(fields=["storefront", "event_id"],
                                    name="event_unique_client_id"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class RfmClass(models.TextChoices):
    """The eight RFM classes: (R, F, M) each high or low against the population."""

    IMPORTANT_VALUE = "important_value", _("Important value (champions)")
    IMPORTANT_DEVELOPMENT = "important_development", _("Important development")
    IMPORTANT_RETENTION = "important_retention", _("Important retention")
    IMPORTANT_WINBACK = "important_winback", _("Important win-back")
    GENERAL_VALUE = "general_value", _("General value")
    GENERAL_DEVELOPMENT = "general_development", _("General development")
    GENERAL_RETENTION = "general_retention", _("General retention")
    GENERAL_WINBACK = "general_winback", _("General win-back")


# (R high, F high, M high) -> class, straight from the table in shared/DOMAIN.md.
RFM_CLASS_BY_HIGHS: dict[tuple[bool, bool, bool], RfmClass] = {
    (True, True, True): RfmClass.IMPORTANT_VALUE,
    (True, False, True): RfmClass.IMPORTANT_DEVELOPMENT,
    (False, True, True): RfmClass.IMPORTANT_RETENTION,
    (False, False, True): RfmClass.IMPORTANT_WINBACK,
    (True, True, False): RfmClass.GENERAL_VALUE,
    (True, False, False): RfmClass.GENERAL_DEVELOPMENT,
    (False, True, False): RfmClass.GENERAL_RETENTION,
    (False, False, False): RfmClass.GENERAL_WINBACK,
}


class LifecycleStage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    NEW = "new", _("New")
    ACTIVE = "active", _("Active")
    DORMANT = "dormant", _("Dormant")
    CHURNED = "churned", _("Churned")


class CustomerMetrics(models.Model):
    """Value metrics of one customer, rewritten set-based by the recompute."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, primary_key=True, related_name="metrics"
    )
    order_count = models.IntegerField(_("paid orders"), default=0)
    first_order_at = models.DateTimeField(_("first paid order"), null=True)
    last_order_at = models.DateTimeField(_("last paid order"), null=True)
    frequency = models.IntegerField(_("frequency"), default=0)
    monetary = models.DecimalField(_("monetary"), max_digits=16, decimal_places=2, default=0)
    ltv = models.DecimalField(_("historical LTV"), max_digits=16, decimal_places=2, default=0)
    aov = models.DecimalField(_("AOV"), max_digits=16, decimal_places=2, null=True)
    r_score = models.SmallIntegerField(_("R score"), null=True)
    f_score = models.SmallIntegerField(_("F score"), null=True)
    m_score = models.SmallIntegerField(_("M score"), null=True)
    # NULL: no paid order, so no class (prospects), distinct from any class in SQL.
    rfm_class = models.CharField(  # noqa: DJ001
        _("RFM class"), max_length=24, choices=RfmClass.choices, null=True, blank=True
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=10, choices=LifecycleStage.choices
    )
    # Cutoff of the run that last changed this row: a recompute leaves unchanged rows alone
    # (MetricsRun.cutoff says when everything was last checked).
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("customer metrics")
        verbose_name_plural = _("customer metrics")
        indexes = [
            # With the customer: "newest customers of a stage / class" (the operator list, a
            # dashboard cell's fallback) reads 50 index entries instead of joining every row.
            models.Index(fields=["lifecycle_stage", "customer"], name="metrics_stage_customer"),
            models.Index(fields=["rfm_class", "customer"], name="metrics_rfm_customer"),
            # First-order anniversaries, as customer_birthday_month_day (in UTC: the shop's
            # date is within a day of it, whatever the shop's time zone).
            models.Index(month_day(UtcDate("first_order_at")),
                         name="metrics_first_order_month_day"),
        ]

    def __str__(self) -> str:
        return f"metrics of customer {self.customer_id}"

    # Recency is derived, not stored: a stored value would go stale within a day, and keeping
    # it current made the nightly recompute rewrite every buyer's row.
    def recency_days_at(self, moment: datetime.datetime) -> int | None:
        """Whole days from the last paid order to `moment` (None without a paid order)."""
        if self.last_order_at is None:
            return None
        return (moment - self.last_order_at) // datetime.timedelta(days=1)

    @property
    def recency_days(self) -> int | None:
        """Whole days since the last paid order, as of now."""
        return self.recency_days_at(timezone.now())

    recency_days.fget.short_description = _("recency (days)")


class LifecycleChange(models.Model):
    """One stage change of one customer; campaigns start on these ("became dormant")."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="lifecycle_changes"
    )
    # NULL: the customer's first classification.
    from_stage = models.CharField(  # noqa: DJ001
        max_length=10, choices=LifecycleStage.choices, null=True
    )
    to_stage = models.CharField(max_length=10, choices=LifecycleStage.choices)
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("lifecycle change")
        verbose_name_plural = _("lifecycle changes")
        indexes = [models.Index(fields=["to_stage", "changed_at"])]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.from_stage} -> {self.to_stage}"


class SingletonModel(models.Model):
    """A table of one row (pk 1): settings operators edit in the admin. load() makes the row
    on first use, with initial() as its values beyond the fields' defaults."""

    class Meta:
        abstract = True

    @classmethod
    def initial(cls) -> dict:
        return {}

    @classmethod
    def load(cls):
        obj, _created = cls.objects.get_or_create(pk=1, defaults=cls.initial())
        return obj


class MetricsSettings(SingletonModel):
    """Operator-editable thresholds (one row, edited in the admin). Defaults follow
    shared/DOMAIN.md."""

    class Scoring(models.TextChoices):
        QUINTILES = "quintiles", _("Quintiles of the population")
        FIXED = "fixed", _("Fixed business thresholds")

    class HighRule(models.TextChoices):
        MEAN = "mean", _("Above the mean score")
        MEDIAN = "median", _("Above the median score")

    window_days = models.PositiveIntegerField(
        _("analysis window (days)"), default=365,
        help_text=_("Frequency and monetary count paid orders in this window."),
    )
    new_days = models.PositiveIntegerField(
        _("new: first order within (days)"), default=90)
    active_days = models.PositiveIntegerField(
        _("active: last order within (days)"), default=60)
    churn_days = models.PositiveIntegerField(
        _("churned: no order and no activity for (days)"), default=180)
    scoring = models.CharField(
        _("RFM scoring"), max_length=10, choices=Scoring.choices, default=Scoring.QUINTILES)
    fixed_thresholds = models.JSONField(
        _("fixed thresholds"), default=dict, blank=True,
        help_text=_('With fixed scoring: {"recency": [d5, d4, d3, d2], "frequency": [f2, f3, '
                    'f4, f5], "monetary": [m2, m3, m4, m5]}: the least value earning each '
                    'score (for recency, the most days).'),
    )
    high_rule = models.CharField(
        _("a score is high when"), max_length=10, choices=HighRule.choices,
        default=HighRule.MEAN)
    activity_events = models.JSONField(
        _("activity events"), default=list, blank=True,
        help_text=_("Event names that count as activity (churn, ARPU). Empty: every event."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("metrics settings")
        verbose_name_plural = _("metrics settings")

    def __str__(self) -> str:
        return str(_("Metrics settings"))


class MetricsRun(models.Model):
    """One full recompute: its cutoff, the score thresholds it derived and how long it took.
    The incremental per-customer update scores against the latest run's thresholds."""

    cutoff = models.DateTimeField()
    # Least value earning scores 2..5 (recency: the most days earning 2..5), and the value a
    # score must exceed to count as high.
    thresholds = models.JSONField(default=dict)
    high_marks = models.JSONField(default=dict)
    customers = models.IntegerField(default=0)
    buyers = models.IntegerField(default=0)
    stage_changes = models.IntegerField(default=0)
    # Metrics rows inserted or changed; rows whose values did not move are not rewritten.
    rows_written = models.IntegerField(default=0)
    duration_ms = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("metrics run")
        verbose_name_plural = _("metrics runs")
        get_latest_by = "cutoff"

    def __str__(self) -> str:
        return f"metrics run at {self.cutoff:%Y-%m-%d %H:%M}"


# --- Value predictions (customers/services/prediction) -----------------------------------------


class ValueModelSettings(SingletonModel):
    """Operator-editable settings of the value model (one row, edited in the admin)."""

    horizon_days = models.PositiveIntegerField(
        _("prediction horizon (days)"), default=90,
        help_text=_("Predicted CLV and expected purchases cover this many days ahead."))
    annual_discount_rate = models.DecimalField(
        _("annual discount rate"), max_digits=5, decimal_places=4, default=0,
        help_text=_("0.10 discounts revenue a year ahead by 10%; 0: no discounting."))
    min_repeat_buyers = models.PositiveIntegerField(
        _("least repeat buyers to fit"), default=30,
        help_text=_("With fewer customers who bought twice, the model is not fitted and the "
                    "last good fit stays in use."))
    weight_clv = models.PositiveSmallIntegerField(_("weight: predicted CLV"), default=40)
    weight_repurchase = models.PositiveSmallIntegerField(_("weight: repurchase rate"),
                                                         default=30)
    weight_engagement = models.PositiveSmallIntegerField(_("weight: engagement"), default=20)
    weight_referrals = models.PositiveSmallIntegerField(_("weight: referrals"), default=10)
    engagement_days = models.PositiveIntegerField(
        _("engagement window (days)"), default=90,
        help_text=_("Engagement: events per active day over this many days."))
    referral_attribute = models.CharField(
        _("referral attribute"), max_length=64, default="referred_by",
        help_text=_("attributes.<this> of a customer names the external id of whoever "
                    "referred them."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("value model settings")
        verbose_name_plural = _("value model settings")

    def __str__(self) -> str:
        return str(_("Value model settings"))


class ValueModelFit(models.Model):
    """One fit of BG/NBD and Gamma-Gamma to the paid orders up to `cutoff` (time in days)."""

    class Status(models.TextChoices):
        OK = "ok", _("Fitted")
        INSUFFICIENT = "insufficient", _("Too little data")
        FAILED = "failed", _("Did not converge")

    fitted_at = models.DateTimeField()
    cutoff = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices)
    message = models.TextField(blank=True)
    customers = models.IntegerField(default=0)  # with a paid order
    repeat_buyers = models.IntegerField(default=0)
    histories = models.IntegerField(default=0)  # distinct (x, t_x, T): rows the fit saw
    bgnbd = models.JSONField(default=dict, blank=True)  # r, alpha, a, b (per day)
    gamma_gamma = models.JSONField(default=dict, blank=True)  # p, q, gamma
    log_likelihood = models.FloatField(null=True, blank=True)
    horizon_days = models.PositiveIntegerField(default=90)
    scored = models.IntegerField(default=0)  # customers written by the scoring
    duration_ms = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("value model fit")
        verbose_name_plural = _("value model fits")
        get_latest_by = "fitted_at"

    def __str__(self) -> str:
        return f"value model fit at {self.fitted_at:%Y-%m-%d %H:%M}: {self.status}"


class ValueModelCheck(models.Model):
    """A holdout check: fitted on orders up to `cutoff`, predictions for (cutoff, end]
    compared with what customers actually bought."""

    created_at = models.DateTimeField()
    cutoff = models.DateTimeField()
    end = models.DateTimeField()
    report = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("value model check")
        verbose_name_plural = _("value model checks")
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"holdout check {self.cutoff:%Y-%m-%d} -> {self.end:%Y-%m-%d}"


class CustomerPrediction(models.Model):
    """What a customer will be worth, from the latest good fit; rewritten set-based by the
    scoring. Model figures are NULL without a paid order (nothing to predict from); every
    customer has a value coefficient."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, primary_key=True,
                                    related_name="prediction")
    fit = models.ForeignKey(ValueModelFit, on_delete=models.SET_NULL, null=True,
                            related_name="+", db_index=False)
    expected_purchases = models.FloatField(_("expected purchases"), null=True)
    p_alive = models.FloatField(_("P(alive)"), null=True)
    churn_probability = models.FloatField(_("churn probability"), null=True)
    predicted_clv = models.DecimalField(_("predicted CLV"), max_digits=16, decimal_places=2,
                                        null=True)
    value_coefficient = models.FloatField(_("value coefficient"), default=0)
    # Percentile ranks (0-100) among the customers that have the figure.
    expected_purchases_percentile = models.FloatField(null=True)
    churn_probability_percentile = models.FloatField(null=True)
    predicted_clv_percentile = models.FloatField(null=True)
    value_coefficient_percentile = models.FloatField(null=True)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("customer prediction")
        verbose_name_plural = _("customer predictions")

    def __str__(self) -> str:
        return f"prediction of customer {self.customer_id}"


# --- Dashboard (customers/services/dashboard.py) -----------------------------------------------


class DashboardFigure(models.Model):
    """One precomputed figure of the operator dashboard, rewritten set-based after the metrics
    run and the value model scoring, so the page reads a handful of rows and never scans the
    customers. `value` is the figure's JSON (a number, a list of rows, ...)."""

    key = models.CharField(max_length=64)  # "trend", "rfm_grid", "top_campaigns", ...
    dimension = models.CharField(max_length=32, blank=True)  # "", "acquisition_channel", ...
    period = models.CharField(max_length=16, blank=True)  # "", "2026-05", ...
    value = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("dashboard figure")
        verbose_name_plural = _("dashboard figures")
        constraints = [
            models.UniqueConstraint(fields=["key", "dimension", "period"],
                                    name="dashboard_figure_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.key}/{self.dimension or '-'}/{self.period or '-'}"


# --- Operators ------------------------------------------------------------------------------


class OperatorPreference(models.Model):
    """An operator's own choices, kept on the server so they follow them to every device.
    (Customer.language is the customer's; this is the person using the operator UI.)"""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                primary_key=True, related_name="operator_preference")
    language = models.CharField(_("language"), max_length=16, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("operator preference")
        verbose_name_plural = _("operator preferences")

    def __str__(self) -> str:
        return f"preferences of user {self.user_id}"
