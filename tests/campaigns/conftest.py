import datetime as dt

import pytest
import sms
from django.core import mail
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services.campaigns import campaign_publish, campaign_save
from campaigns.services.triggers import triggers_consume
from tests.campaigns.builders import advance

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
    advance(now)
    return started


@pytest.fixture(autouse=True)
def outboxes(settings, tmp_path):
    """Campaign email and SMS land in the in-memory outboxes (django.core.mail.outbox,
    sms.outbox), never in var/outbox."""
    settings.CAMPAIGNS_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SMS_BACKEND = "sms.backends.locmem.SmsBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "outbox" / "email")
    settings.SMS_FILE_PATH = str(tmp_path / "outbox" / "sms")
    mail.outbox = []
    sms.outbox = []


@pytest.fixture
def delivery_settings(db):
    """No cap and no quiet hours unless a test sets them."""
    from campaigns.models import DeliverySettings

    return DeliverySettings.objects.create(pk=1, cap_messages=0, quiet_channels=[])
