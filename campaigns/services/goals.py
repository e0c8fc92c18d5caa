"""Campaign goals: an order (or an event) within `goal_days` of entering ends the journey
early and counts as a conversion. Checked by the runner before every step, and right after a
customer's orders or events arrive (journeys_convert), so a waiting journey stops at once."""

import datetime
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction

from campaigns.flows.lookups import activity_times
from campaigns.models import Campaign, Journey

HELD = (Journey.Status.ACTIVE, Journey.Status.PAUSED)  # journeys not finished yet
# (journey id, campaign id, customer id, entered at)
JourneyKey = tuple[int, int, int, datetime.datetime]


def goals_reached(journeys: Iterable[JourneyKey], now: datetime.datetime
                  ) -> dict[int, datetime.datetime]:
    """Journey id -> when its customer reached the campaign's goal, for those who did: one
    query per campaign with a goal, whatever the number of journeys."""
    by_campaign: dict[int, list[JourneyKey]] = defaultdict(list)
    for journey in journeys:
        by_campaign[journey[1]].append(journey)
    goals = dict(Campaign.objects.filter(pk__in=by_campaign).exclude(goal={})
                 .values_list("pk", "goal"))
    days = dict(Campaign.objects.filter(pk__in=goals).values_list("pk", "goal_days"))
    reached: dict[int, datetime.datetime] = {}
    for campaign_id, goal in goals.items():
        members = by_campaign[campaign_id]
        window = datetime.timedelta(days=days[campaign_id])
        times = activity_times([m[2] for m in members], min(m[3] for m in members),
                               kind=goal.get("kind", "order"), name=goal.get("name", ""),
                               properties=goal.get("properties"))
        for journey_id, _campaign, customer_id, entered_at in members:
            hits = [t for t in times.get(customer_id, ())
                    if entered_at <= t <= min(entered_at + window, now)]
            if hits:
                reached[journey_id] = min(hits)
    return reached


def journeys_convert(customer_ids: Iterable[int], *, now: datetime.datetime) -> int:
    """End the journeys of these customers that reached their goal (after an order or an
    event of theirs arrived). Returns how many converted."""
    with transaction.atomic():
        active = list(Journey.objects.select_for_update(skip_locked=True, of=("self",))
                      .filter(customer_id__in=set(customer_ids), status__in=HELD)
                      .exclude(campaign__goal={})
                      .values_list("id", "campaign_id", "customer_id", "entered_at"))
        reached = goals_reached(active, now)
        for journey_id, moment in reached.items():
            Journey.objects.filter(pk=journey_id, status__in=HELD).update(
                status=Journey.Status.CONVERTED, converted_at=moment, finished_at=now,
                due_at=None)
    return len(reached)
