"""Segments in the Django admin until the operator UI arrives: the rule is validated by the
same registry as the API, saving queues an evaluation, and the log is read-only."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers.admin import ModelAdmin, ReadOnlyAdmin
from segments.models import Segment, SegmentChange, SegmentEvaluation
from segments.rules import RuleError
from segments.services.segments import rule_check, segment_save


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ("name", "description", "rule", "is_active", "refresh_minutes")

    def clean_rule(self):
        rule = self.cleaned_data["rule"]
        try:
            rule_check(rule, segment=self.instance)
        except RuleError as exc:
            raise forms.ValidationError([str(problem) for problem in exc.problems]) from exc
        return rule


class SegmentEvaluationInline(admin.TabularInline):
    model = SegmentEvaluation
    fields = ("evaluated_at", "size", "entered", "exited", "duration_ms")
    readonly_fields = fields
    ordering = ("-evaluated_at",)
    extra = 0
    max_num = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("-evaluated_at")


@admin.register(Segment)
class SegmentAdmin(ModelAdmin):
    form = SegmentForm
    list_display = ("name", "size", "is_active", "time_dependent", "last_evaluated_at",
                    "last_duration_ms")
    list_filter = ("is_active", "time_dependent")
    search_fields = ("name",)
    readonly_fields = ("template", "time_dependent", "size", "last_evaluated_at",
                       "last_duration_ms", "created_at", "updated_at")
    inlines = [SegmentEvaluationInline]
    actions = ["evaluate_now"]

    def save_model(self, request, obj, form, change):
        if obj.created_by_id is None:
            obj.created_by = request.user
        segment_save(obj)

    @admin.action(description=_("Evaluate the selected segments now (in the background)"))
    def evaluate_now(self, request, queryset):
        from segments.tasks import evaluate_segment_task

        count = 0
        for segment in queryset:
            evaluate_segment_task.delay(segment.pk)
            count += 1
        self.message_user(request, ngettext(
            "%(count)d segment queued for evaluation.",
            "%(count)d segments queued for evaluation.", count) % {"count": count},
            messages.SUCCESS)


@admin.register(SegmentChange)
class SegmentChangeAdmin(ReadOnlyAdmin):
    list_display = ("at", "segment", "customer", "kind")
    list_filter = ("kind",)
    raw_id_fields = ("segment", "customer")
    show_full_result_count = False
    ordering = ("-id",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("segment", "customer")


