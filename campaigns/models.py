"""Campaigns: canvas graphs and their frozen versions, the journeys customers walk through
them, the coupons they issue, the messages they send, and the delivery controls every send
passes through.

State lives here, in the database, under unique keys: a journey step is unique per
(journey, step), and so are the coupon and the delivery it produced, so a task that runs twice
finds its work already done (campaigns/services/runner.py).
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from customers.models import Customer, SingletonModel


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        # "Active" is also a lifecycle stage, translated differently (成熟期).
        ACTIVE = "active", pgettext_lazy("campaign status", "Active")
        PAUSED = "paused", _("Paused")
        ARCHIVED = "archived", _("Archived")

    class Entry(models.TextChoices):
        ONCE = "once", _("Once ever")
        AGAIN_AFTER = "again_after", _("Again after a number of days")
        EVERY_TIME = "every_time", _("Every time the trigger fires")

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.DRAFT)
    # The graph being edited; publishing freezes a copy of it as the next CampaignVersion.
    draft_graph = models.JSONField(_("draft graph"), default=dict, blank=True)
    current_version = models.ForeignKey(
        "CampaignVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text=_("The published version new journeys start on."))
    entry = models.CharField(_("who may enter"), max_length=12, choices=Entry.choices,
                             default=Entry.ONCE)
    reentry_days = models.PositiveIntegerField(
        _("re-entry after (days)"), null=True, blank=True,
        help_text=_("With 'again after': days since the customer's previous entry."))
    holdout_percent = models.DecimalField(
        _("holdout (%)"), max_digits=5, decimal_places=2, default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("Share of entering customers deliberately left alone, to measure the "
                    "campaign against."))
    # {"kind": "order"} or {"kind": "event", "name": "signup"}, reached within goal_days of
    # entry: ends the journey early and counts as a conversion. Empty: no goal.
    goal = models.JSONField(_("goal"), default=dict, blank=True)
    goal_days = models.PositiveIntegerField(_("goal within (days)"), default=7)
    attribution_days = models.PositiveIntegerField(
        _("attribution window (days)"), default=7,
        help_text=_("Orders within this many days after a touch count as its revenue."))
    priority = models.IntegerField(
        _("priority"), default=0,
        help_text=_("When two campaigns want to message the same customer on the same day, "
                    "the higher priority sends and the other is skipped."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the campaign last became active: triggers ignore what happened before it.
    activated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CampaignVersion(models.Model):
    """A published, frozen graph. Journeys keep the version they started on."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    graph = models.JSONField()
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("campaign version")
        verbose_name_plural = _("campaign versions")
        constraints = [models.UniqueConstraint(fields=["campaign", "number"],
                                               name="campaignversion_unique_number")]
        ordering = ["campaign", "number"]

    def __str__(self) -> str:
        return f"{self.campaign} v{self.number}"


class TriggerCursor(models.Model):
    """How far a campaign's trigger has read its source (segment change log, lifecycle
    changes, events, schedule occurrences). Re-reading is harmless: journeys are unique per
    (campaign, customer, entry key)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="cursors")
    source = models.CharField(max_length=100)
    position = models.BigIntegerField(default=0)  # last id read, where the source has ids
    read_until = models.DateTimeField(null=True, blank=True)  # or the time read up to
    # A schedule whose audience enters in chunks: the occurrence under way (its members
    # entered up to customer id `position`).
    occurrence = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "source"],
                                               name="triggercursor_unique_source")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.source}"


class Journey(models.Model):
    """One customer's walk through one version. `node` is where it stands and `due_at` when
    the runner should look at it next: waiting is simply a due time in the future."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("On its way")
        PAUSED = "paused", _("Held while the campaign is paused")
        COMPLETED = "completed", _("Completed")
        CONVERTED = "converted", _("Reached the goal")
        EXITED = "exited", _("Stopped")
        FAILED = "failed", _("Failed")
        HOLDOUT = "holdout", _("Held out")

    id = models.BigAutoField(primary_key=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="journeys",
                                 db_index=False)
    version = models.ForeignKey(CampaignVersion, on_delete=models.PROTECT,
                                related_name="journeys", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="journeys",
                                 db_index=False)
    # What started it: "seg:<change id>", "event:<id>", "sched:<date>", or "once" when the
    # campaign admits a customer once ever; unique per campaign and customer.
    entry_key = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    node = models.CharField(max_length=64)
    step = models.PositiveIntegerField(default=0)  # steps taken; the next step's number
    due_at = models.DateTimeField(null=True)  # NULL once it has finished
    # When it reached `node`: waits count from here, "wait for event" looks from here.
    arrived_at = models.DateTimeField()
    entered_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    # The latest coupon this journey issued: what its messages mention. No constraint: every
    # step that moves the journey would pay for its check, and the coupon points back here.
    coupon = models.ForeignKey("Coupon", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+", db_index=False, db_constraint=False)

    class Meta:
        verbose_name = _("journey")
        verbose_name_plural = _("journeys")
        # Few indexes on purpose: every step moves due_at, so each update writes a new entry
        # in every index (bench/dispatch.py). The unique entry leads with the customer and
        # so serves "this customer's journeys" as well.
        constraints = [models.UniqueConstraint(fields=["customer", "campaign", "entry_key"],
                                               name="journey_unique_entry")]
        indexes = [
            # The runner's claim: due journeys in due order.
            models.Index(fields=["due_at"], condition=models.Q(status="active"),
                         name="journey_due"),
            models.Index(fields=["campaign", "entered_at"], name="journey_campaign"),
        ]

    def __str__(self) -> str:
        return f"journey {self.pk} of {self.customer_id} in {self.campaign_id}"


class JourneyStep(models.Model):
    """One node executed for one journey: its history, and the count of every node's way
    out. Its effects (coupon, delivery) carry the same (journey, step) key."""

    pk = models.CompositePrimaryKey("journey_id", "step")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="steps",
                                db_index=False)
    step = models.PositiveIntegerField()
    node = models.CharField(max_length=64)
    port = models.CharField(max_length=64, blank=True)  # the way out it took ("" at an end)
    note = models.CharField(max_length=200, blank=True)  # e.g. a skip reason or a wake time
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("journey step")
        verbose_name_plural = _("journey steps")

    def __str__(self) -> str:
        return f"{self.journey_id}#{self.step} {self.node} -> {self.port}"


# --- Coupons ---------------------------------------------------------------------------------


class CouponDefinition(models.Model):
    class Kind(models.TextChoices):
        PERCENTAGE = "percentage", _("Percentage off")
        FIXED = "fixed", _("Fixed amount off")

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2,
                                validators=[MinValueValidator(0)],
                                help_text=_("Percent (0-100) or an amount in the currency."))
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    min_order_amount = models.DecimalField(_("minimum order amount"), max_digits=12,
                                           decimal_places=2, default=0)
    # Percentage coupons: the most one order may take off (empty: no cap).
    max_discount = models.DecimalField(_("maximum discount per order"), max_digits=12,
                                       decimal_places=2, null=True, blank=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveIntegerField(
        _("valid for (days from issue)"), null=True, blank=True)
    per_customer_limit = models.PositiveIntegerField(
        _("codes per customer"), default=1,
        help_text=_("How many codes of this definition one customer may hold."))
    # A shared code (e.g. SUMMER20) that any customer may use, up to shared_limit times.
    shared_code = models.CharField(_("shared code"), max_length=32, blank=True)
    shared_limit = models.PositiveIntegerField(_("shared code uses"), null=True, blank=True)
    max_codes = models.PositiveIntegerField(_("budget: maximum codes"), null=True, blank=True)
    max_discount_total = models.DecimalField(_("budget: maximum total discount"),
                                             max_digits=14, decimal_places=2, null=True,
                                             blank=True)
    stackable = models.BooleanField(_("may be combined with other coupons"), default=False)
    code_prefix = models.CharField(_("code prefix"), max_length=8, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # The discount granted so far, kept while max_discount_total is set (redeems lock this row
    # to hold the budget) and recounted from the redemptions whenever the definition is saved.
    discount_total = models.DecimalField(max_digits=14, decimal_places=2, default=0,
                                         editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # The version an editor read (customers.versions); redeems move discount_total by an
    # UPDATE of their own, which leaves it alone.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("coupon definition")
        verbose_name_plural = _("coupon definitions")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Coupon(models.Model):
    """One code: a customer's own (issued by a journey or by hand) or a shared one."""

    class Status(models.TextChoices):
        ACTIVE = "active", pgettext_lazy("coupon status", "Active")
        REDEEMED = "redeemed", _("Used up")
        VOID = "void", _("Void")

    id = models.BigAutoField(primary_key=True)
    definition = models.ForeignKey(CouponDefinition, on_delete=models.PROTECT,
                                   related_name="coupons")
    code = models.CharField(max_length=32)  # canonical: upper case, no separators
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="coupons", db_index=False)
    campaign = models.ForeignKey(Campaign, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="coupons", db_index=False)
    journey = models.ForeignKey(Journey, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="coupons", db_index=False)
    step = models.PositiveIntegerField(null=True, blank=True)
    node = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # NULL: no limit (a shared code without shared_limit).
    max_redemptions = models.PositiveIntegerField(null=True, blank=True, default=1)
    redemptions = models.PositiveIntegerField(default=0)
    issued_at = models.DateTimeField()
    starts_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        constraints = [
            models.UniqueConstraint(fields=["code"], name="coupon_unique_code"),
            models.UniqueConstraint(fields=["journey", "step"], name="coupon_unique_step"),
        ]
        indexes = [
            models.Index(fields=["customer", "expires_at"], name="coupon_customer"),
            # The segment rule "coupon expiring within D days" over all customers.
            models.Index(fields=["expires_at"], condition=models.Q(status="active"),
                         name="coupon_active_expiry"),
            # A definition's codes, newest first, a page at a time (the coupon page).
            models.Index(fields=["definition", "-id"], name="coupon_definition_newest"),
            # Uses per definition (the coupon list's stats) without reading every code; only
            # used codes are in it, so issuing codes does not write to it.
            models.Index(fields=["definition", "id", "redemptions"],
                         condition=models.Q(redemptions__gt=0), name="coupon_definition_used"),
        ]

    def __str__(self) -> str:
        return self.code


class CouponRedemption(models.Model):
    id = models.BigAutoField(primary_key=True)
    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="redemptions_made")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+",
                                 db_index=False)
    order_external_id = models.CharField(max_length=128)
    order_amount = models.DecimalField(max_digits=14, decimal_places=2)
    discount = models.DecimalField(max_digits=14, decimal_places=2)
    redeemed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("coupon redemption")
        verbose_name_plural = _("coupon redemptions")
        constraints = [models.UniqueConstraint(fields=["coupon", "order_external_id"],
                                               name="redemption_unique_order")]
        indexes = [
            models.Index(fields=["customer", "redeemed_at"], name="redemption_customer"),
            # Redeem checks what else the same order used (stacking); a cancelled order
            # releases what it used.
            models.Index(fields=["order_external_id"], name="redemption_order"),
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} on {self.order_external_id}"


# --- Messages --------------------------------------------------------------------------------


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    WEBHOOK = "webhook", _("Webhook")
    INBOX = "inbox", _("Storefront inbox")


class MessageTemplate(models.Model):
    """Subject and body for one channel, with variables ({{ customer.name }},
    {{ coupon.code }}, {{ unsubscribe_url }}, ...); translations by language code."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"))
    # {"zh-hans": {"subject": "...", "body": "..."}}
    translations = models.JSONField(_("translations"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookEndpoint(models.Model):
    """Where webhook messages and "call webhook" actions go; requests are signed with the
    secret (HMAC-SHA256)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=128)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)  # the version an editor read

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.name


class Delivery(models.Model):
    """One message to one customer on one channel. Queued by a journey in the same
    transaction as its step; sent (or skipped with a reason) by the dispatcher. Its id is the
    provider's idempotency key."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")

    id = models.BigAutoField(primary_key=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="deliveries", db_index=False)
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, null=True, blank=True,
                                related_name="deliveries", db_index=False)
    step = models.PositiveIntegerField(null=True, blank=True)
    node = models.CharField(max_length=64, blank=True)
    # Empty only for a test send rendered for a sample customer.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="deliveries",
                                 db_index=False, null=True, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="+")
    webhook = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, null=True,
                                blank=True, related_name="+")
    # Indexed: deleting a customer's coupons sets this to NULL on their deliveries.
    coupon = models.ForeignKey(Coupon, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(max_length=32, blank=True)  # why skipped or failed
    error = models.TextField(blank=True)
    due_at = models.DateTimeField()  # not before (quiet hours and retries move it)
    lease_until = models.DateTimeField(null=True, blank=True)  # while a dispatcher holds it
    attempts = models.PositiveSmallIntegerField(default=0)
    address = models.CharField(max_length=320, blank=True)  # where it went, once sent
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    test = models.BooleanField(default=False)  # a test send from the template editor

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [models.UniqueConstraint(fields=["journey", "step"],
                                               name="delivery_unique_step")]
        indexes = [
            models.Index(fields=["due_at"], condition=models.Q(status__in=["queued", "sending"]),
                         name="delivery_pending"),
            # The sweep's reclaim: deliveries whose dispatcher's lease ran out (few rows).
            models.Index(fields=["lease_until"], condition=models.Q(status="sending"),
                         name="delivery_leased"),
            models.Index(fields=["customer", "created_at"], name="delivery_customer"),
            models.Index(fields=["campaign", "node", "status"], name="delivery_campaign_node"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.pk} to {self.customer_id}"


class Suppression(models.Model):
    """An address that must not be messaged: unsubscribed, bounced or complained."""

    class Reason(models.TextChoices):
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Complained")

    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=320)  # lower-cased email or the phone as stored
    reason = models.CharField(max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")
        constraints = [models.UniqueConstraint(fields=["channel", "address"],
                                               name="suppression_unique_address")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.address} ({self.reason})"


class DeliverySettings(SingletonModel):
    """Operator-editable delivery controls (one row, edited in the admin)."""

    cap_messages = models.PositiveIntegerField(
        _("frequency cap: messages"), default=3,
        help_text=_("At most this many messages per customer, across campaigns and channels "
                    "(0: no cap)..."))
    cap_days = models.PositiveIntegerField(_("frequency cap: per days"), default=7)
    # {"sms": [1, 7]}: at most 1 SMS per 7 days, on top of the overall cap.
    channel_caps = models.JSONField(_("per-channel caps"), default=dict, blank=True)
    quiet_start = models.TimeField(_("quiet hours start"), null=True, blank=True,
                                   default="21:00")
    quiet_end = models.TimeField(_("quiet hours end"), null=True, blank=True, default="09:00")
    quiet_channels = models.JSONField(_("channels with quiet hours"), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("delivery settings")
        verbose_name_plural = _("delivery settings")

    def __str__(self) -> str:
        return str(_("Delivery settings"))

    @classmethod
    def initial(cls) -> dict:
        return {"quiet_channels": [Channel.EMAIL, Channel.SMS]}

