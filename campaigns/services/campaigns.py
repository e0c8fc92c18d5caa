"""Campaigns and their versions: save a draft graph (validated), publish it as a frozen
version, pause, resume, archive.

A published version never changes: journeys under way finish the version they started, and a
newly published one applies to new entries only.
"""

import datetime
from collections import defaultdict
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from campaigns.flows import Graph, GraphError, Problem, Reference, parse_graph
from campaigns.models import (
    Campaign,
    CampaignVersion,
    CouponDefinition,
    Delivery,
    Journey,
    MessageTemplate,
    WebhookEndpoint,
)
from campaigns.services.triggers import triggers_start
from segments.models import Segment

GOAL_KINDS = ("order", "event")


def references_check(references: list[Reference]) -> dict[Reference, str]:
    """What is wrong with each reference that is not fine: missing, or not what the node
    needs (an SMS template in an email node, a shared-code coupon in an issue node)."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for ref in references:
        wanted[ref.kind].add(ref.id)
    found = {
        "segment": _ids(Segment, wanted["segment"]),
        "coupon_definition": {pk: "shared" if shared else "personal" for pk, shared in
                              CouponDefinition.objects.filter(pk__in=wanted["coupon_definition"])
                              .values_list("pk", "shared_code")},
        "message_template": dict(MessageTemplate.objects.filter(
            pk__in=wanted["message_template"]).values_list("pk", "channel")),
        "webhook": _ids(WebhookEndpoint, wanted["webhook"]),
    }
    bad: dict[Reference, str] = {}
    for ref in references:
        name = ref.kind.replace("_", " ")
        actual = found[ref.kind].get(ref.id)
        if actual is None:
            bad[ref] = f"{name} {ref.id} does not exist"
        elif ref.expect and actual != ref.expect:
            bad[ref] = (f"{name} {ref.id} is a {actual} one; this node needs a(n) "
                        f"{ref.expect} one")
    return bad


def _ids(model, ids: set[int]) -> dict[int, str]:
    return dict.fromkeys(model.objects.filter(pk__in=ids).values_list("pk", flat=True), "")


def graph_check(data: Any) -> Graph:
    """The graph validated in full, references included; GraphError names every problem."""
    return parse_graph(data, references_exist=references_check)


def goal_problems(goal: dict) -> list[Problem]:
    if not goal:
        return []
    if not isinstance(goal, dict) or goal.get("kind") not in GOAL_KINDS \
            or set(goal) - {"kind", "name", "properties"}:
        return [Problem("goal", '{"kind": "order"} or {"kind": "event", "name": "..."}')]
    if goal["kind"] == "event" and not (isinstance(goal.get("name"), str) and goal["name"]):
        return [Problem("goal.name", "name the event that counts as the goal")]
    return []


def campaign_save(campaign: Campaign, **changes: Any) -> Campaign:
    """Create or change a campaign. A graph is validated in full (GraphError names the node
    and the problem) and becomes the draft; a published version is never changed."""
    if changes.get("draft_graph"):
        graph_check(changes["draft_graph"])
    problems = goal_problems(changes.get("goal", campaign.goal))
    if problems:
        raise GraphError(problems)
    if campaign.status == Campaign.Status.ARCHIVED and campaign.pk:
        raise CampaignStateError("an archived campaign cannot be changed")
    for name, value in changes.items():
        setattr(campaign, name, value)
    campaign.save()
    return campaign


class CampaignStateError(Exception):
    """The campaign's status does not allow this (publishing an archived one, ...)."""


def campaign_publish(campaign: Campaign, *, user=None,
                     now: datetime.datetime | None = None) -> CampaignVersion:
    """Freeze the draft graph as the next version and make the campaign active on it."""
    now = now or timezone.now()
    if campaign.status == Campaign.Status.ARCHIVED:
        raise CampaignStateError("an archived campaign cannot be published")
    graph_check(campaign.draft_graph)
    with transaction.atomic():
        campaign = _locked(campaign)
        number = (campaign.versions.aggregate(Max("number"))["number__max"] or 0) + 1
        version = CampaignVersion.objects.create(campaign=campaign, number=number,
                                                 graph=campaign.draft_graph,
                                                 published_at=now, published_by=user)
        was_active = campaign.status == Campaign.Status.ACTIVE
        campaign.current_version = version
        campaign.status = Campaign.Status.ACTIVE
        if not was_active:
            campaign.activated_at = now
        campaign.save(update_fields=["current_version", "status", "activated_at",
                                     "updated_at"])
        triggers_start(campaign, now)
    return version


def campaign_pause(campaign: Campaign) -> Campaign:
    """No new entries; journeys hold where they stand until it is resumed."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status != Campaign.Status.ACTIVE:
            raise CampaignStateError(f"only an active campaign can be paused (it is "
                                     f"{campaign.status})")
        campaign.status = Campaign.Status.PAUSED
        campaign.save(update_fields=["status", "updated_at"])
        Journey.objects.filter(campaign=campaign, status=Journey.Status.ACTIVE).update(
            status=Journey.Status.PAUSED)
    return campaign


def _locked(campaign: Campaign) -> Campaign:
    """The campaign row, locked: trigger reading and state changes take turns."""
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def campaign_resume(campaign: Campaign, *, now: datetime.datetime | None = None) -> Campaign:
    """Active again: journeys go on; triggers start from now (what happened while paused
    starts nothing)."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status != Campaign.Status.PAUSED:
            raise CampaignStateError(f"only a paused campaign can be resumed (it is "
                                     f"{campaign.status})")
        campaign.status, campaign.activated_at = Campaign.Status.ACTIVE, now
        campaign.save(update_fields=["status", "activated_at", "updated_at"])
        Journey.objects.filter(campaign=campaign, status=Journey.Status.PAUSED).update(
            status=Journey.Status.ACTIVE)
        triggers_start(campaign, now)
    from campaigns.tasks import advance_on_commit

    advance_on_commit()
    return campaign


def campaign_archive(campaign: Campaign, *, now: datetime.datetime | None = None) -> Campaign:
    """Stop for good: journeys under way end, messages not yet sent are skipped."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign)
        campaign.status = Campaign.Status.ARCHIVED
        campaign.save(update_fields=["status", "updated_at"])
        Journey.objects.filter(campaign=campaign, status__in=[
            Journey.Status.ACTIVE, Journey.Status.PAUSED]).update(
            status=Journey.Status.EXITED, finished_at=now, due_at=None)
        Delivery.objects.filter(campaign=campaign, status=Delivery.Status.QUEUED).update(
            status=Delivery.Status.SKIPPED, reason="campaign_archived")
    return campaign


def campaign_delete(campaign: Campaign) -> None:
    """Only a campaign that was never published; archive the others (their results stay)."""
    if campaign.versions.exists():
        raise CampaignStateError("a published campaign cannot be deleted; archive it")
    campaign.delete()
