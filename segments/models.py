"""Segments: a named rule (JsonLogic, see segments/rules), its stored members, the log of who
entered and left, and one size point per full evaluation."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.models import Customer

# Auto refresh: time-dependent rules (birthdays, "within the last N days") move with the
# clock, so at least hourly; the others move only with data, which event-driven evaluation
# and the run after the nightly metrics recompute already follow.
TIME_DEPENDENT_REFRESH_MINUTES = 60
DATA_ONLY_REFRESH_MINUTES = 24 * 60


class Segment(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    rule = models.JSONField(_("rule"), help_text=_("JsonLogic; see GET /api/v1/segment-fields/"))
    template = models.CharField(_("copied from template"), max_length=64, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    refresh_minutes = models.PositiveIntegerField(
        _("re-evaluate every (minutes)"), null=True, blank=True,
        help_text=_("Empty: hourly when the rule depends on the time, daily otherwise."))
    # Derived from the rule when it is saved (services.segments).
    time_dependent = models.BooleanField(default=False, editable=False)
    size = models.IntegerField(_("members"), default=0)
    last_evaluated_at = models.DateTimeField(_("last evaluated at"), null=True, blank=True)
    last_duration_ms = models.IntegerField(_("last evaluation took (ms)"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def refresh_interval_minutes(self) -> int:
        if self.refresh_minutes:
            return self.refresh_minutes
        return TIME_DEPENDENT_REFRESH_MINUTES if self.time_dependent \
            else DATA_ONLY_REFRESH_MINUTES


class SegmentMembership(models.Model):
    pk = models.CompositePrimaryKey("segment_id", "customer_id")
    # The primary key leads with the segment; the customer's own index serves "my segments".
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships",
                                db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE,
                                 related_name="segment_memberships")
    entered_at = models.DateTimeField()

    class Meta:
        verbose_name = _("segment membership")
        verbose_name_plural = _("segment memberships")

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.segment_id}"


class SegmentChange(models.Model):
    """One customer entering or leaving one segment. Campaigns read this log in id order."""

    class Kind(models.TextChoices):
        ENTERED = "entered", _("Entered")
        EXITED = "exited", _("Exited")

    id = models.BigAutoField(primary_key=True)
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="changes",
                                db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE,
                                 related_name="segment_changes", db_index=False)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("segment change")
        verbose_name_plural = _("segment changes")
        indexes = [
            models.Index(fields=["segment", "id"], name="segmentchange_segment_id"),
            models.Index(fields=["customer", "at"], name="segmentchange_customer_at"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind} {self.segment_id}"


class SegmentEvaluation(models.Model):
    """One full evaluation: the segment's size history and how long each took."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="evaluations")
    evaluated_at = models.DateTimeField()
    size = models.IntegerField()
    entered = models.IntegerField()
    exited = models.IntegerField()
    duration_ms = models.IntegerField()

    class Meta:
        verbose_name = _("segment evaluation")
        verbose_name_plural = _("segment evaluations")
        indexes = [models.Index(fields=["segment", "evaluated_at"])]
        get_latest_by = "evaluated_at"

    def __str__(self) -> str:
        return f"{self.segment_id} at {self.evaluated_at:%Y-%m-%d %H:%M}: {self.size}"
