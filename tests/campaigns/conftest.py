import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services.campaigns import campaign_publish, campaign_save
from campaigns.services.runner import journeys_advance
from campaigns.services.triggers import triggers_consume

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def publish(db):
    """Save and publish a campaign with this graph (activated at `at`)."""
    def make(graph: dict, *, at: dt.datetime = T0, **fields) -> Campaign:
        campaign = campaign_save(Campaign(name=fields.pop("name", f"c-{Campaign.objects.count()}")),
                                 draft_graph=graph, **fields)
        campaign_publish(campaign, now=at)
        campaign.refresh_from_db()
        return campaign

    return make


def run(now: dt.datetime | None = None) -> int:
    """Read the triggers and advance every due journey, as the sweep and the runner's
    tasks would at `now`. Returns the journeys started."""
    now = now or timezone.now()
    started = triggers_consume(now=now)
    while journeys_advance(now=now).claimed:
        pass
    return started
