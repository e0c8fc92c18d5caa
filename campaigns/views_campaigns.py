"""Operator pages of the campaigns app: the campaign list, the new-campaign form and the
canvas page that mounts the canvas island (campaigns/frontend/canvas/). The island talks to
the operator API (/api/v1/campaigns/...), which checks the same roles again."""

from django import forms
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from campaigns.services.campaigns import campaign_save
from customers.models import LifecycleStage
from customers.roles import Role, has_role, role_of, role_required

CAMPAIGNS_PER_PAGE = 25


class CampaignFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label=_("Search campaigns"))
    status = forms.ChoiceField(required=False, label=_("Status"),
                               choices=[("", _("All statuses")), *Campaign.Status.choices])


class CampaignCreateForm(forms.Form):
    name = forms.CharField(max_length=200, label=_("Campaign name"))
    description = forms.CharField(required=False, max_length=2000, label=_("Description"),
                                  widget=forms.Textarea(attrs={"rows": 3}))

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Campaign.objects.filter(name=name).exists():
            raise forms.ValidationError(_("A campaign with this name already exists."))
        return name


def _filtered(form: CampaignFilterForm):
    campaigns = Campaign.objects.select_related("current_version").order_by("-updated_at", "id")
    query = form.cleaned_data.get("q", "").strip()
    if query:
        campaigns = campaigns.filter(Q(name__icontains=query) | Q(description__icontains=query))
    if form.cleaned_data.get("status"):
        campaigns = campaigns.filter(status=form.cleaned_data["status"])
    return campaigns


@role_required(Role.VIEWER)
def campaign_list(request):
    form = CampaignFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "campaigns/campaign_list.html",
                      {"form": form, "page": None}, status=400)
    page = Paginator(_filtered(form), CAMPAIGNS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(),
               "can_create": has_role(request.user, Role.MARKETER)}
    # htmx search swaps only the table; htmx restoring history it has no copy of gets the
    # whole page.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "campaigns/_campaign_table.html" if partial else "campaigns/campaign_list.html"
    return render(request, template, context)


@role_required(Role.MARKETER)
def campaign_create(request):
    form = CampaignCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        campaign = campaign_save(Campaign(created_by=request.user), **form.cleaned_data)
        return redirect("campaign-canvas", pk=campaign.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "campaigns/campaign_create.html", {"form": form}, status=status)


def _canvas_props(request, campaign: Campaign) -> dict:
    role = role_of(request.user)
    return {
        "campaignId": campaign.pk,
        "role": role.group,
        "canEdit": role >= Role.MARKETER and campaign.status != Campaign.Status.ARCHIVED,
        "canPublish": role >= Role.MANAGER and campaign.status != Campaign.Status.ARCHIVED,
        "labels": {"statuses": {str(k): str(v) for k, v in Campaign.Status.choices},
                   "stages": {str(k): str(v) for k, v in LifecycleStage.choices}},
        "urls": {
            "list": reverse("campaign-list"),
            "campaign": reverse("api-campaign", args=[campaign.pk]),
            "segments": reverse("api-segments"),
        },
    }


@role_required(Role.VIEWER)
def campaign_canvas(request, pk: int):
    campaign = get_object_or_404(Campaign.objects.select_related("current_version"), pk=pk)
    return render(request, "campaigns/campaign_canvas.html",
                  {"campaign": campaign, "props": _canvas_props(request, campaign)})
