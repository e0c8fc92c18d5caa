import pytest
import sms
from django.core import mail


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
