"""Channel backends as a receiver sees them: email in the outbox (in memory and in files)
with its headers, SMS through django-sms backends, and webhooks posted to a real local HTTP
server that checks the signature."""

import datetime as dt
import email
import email.policy
import hashlib
import hmac
import http.server
import json
import threading
import time
from pathlib import Path

import pytest
import sms
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from campaigns.channels import CHANNELS
from campaigns.channels.base import Outgoing
from campaigns.channels.email import campaign_email
from campaigns.models import Channel, Delivery
from campaigns.services.dispatch import deliveries_dispatch
from tests.campaigns.factories import (
    DeliveryFactory,
    MessageTemplateFactory,
    WebhookEndpointFactory,
)
from tests.customers.factories import CustomerFactory

NOW = dt.datetime(2026, 1, 14, 12, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.usefixtures("delivery_settings")


def test_every_channel_of_the_model_is_registered():
    assert set(CHANNELS) == set(Channel.values)


def parsed(message) -> email.message.EmailMessage:
    return email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)


# --- email -----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_email_carries_idempotency_and_one_click_unsubscribe_headers():
    delivery = DeliveryFactory(due_at=NOW)

    deliveries_dispatch(now=NOW)

    message = parsed(mail.outbox[0])
    assert message["X-Retentio-Delivery"] == str(delivery.pk)
    assert message["Message-ID"] == f"<delivery.{delivery.pk}@127.0.0.1>"
    assert message["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/u/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.django_db
def test_email_has_an_html_body_and_a_text_alternative():
    DeliveryFactory(due_at=NOW, template=MessageTemplateFactory(
        body='<p>Hi {{ customer.name }}</p><p><a href="https://s.example.com">Shop</a></p>'),
        customer=CustomerFactory(name="Ann", email_consent=True))

    deliveries_dispatch(now=NOW)

    message = parsed(mail.outbox[0])
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in message.iter_parts())
    assert text.startswith("Hi Ann\nShop (https://s.example.com)\n")
    assert html.startswith("<p>Hi Ann</p>")


@pytest.mark.django_db
def test_email_goes_to_files_with_the_file_backend(settings, tmp_path):
    settings.CAMPAIGNS_EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "email")
    for _ in range(3):
        DeliveryFactory(due_at=NOW)

    assert deliveries_dispatch(now=NOW).sent == 3

    [outbox_file] = Path(tmp_path / "email").iterdir()  # one connection for the batch
    content = outbox_file.read_text()
    assert content.count("X-Retentio-Delivery: ") == 3
    assert content.count("List-Unsubscribe-Post: List-Unsubscribe=One-Click") == 3


def test_the_prepared_mime_reads_back_like_djangos_own_for_non_ascii_and_long_lines():
    body = "Grüße, 李雷! " + "x" * 1200
    outgoing = Outgoing(7, "li@example.com", "优惠券 for Grüße", f"<p>{body}</p>", body,
                        "https://s.example.com/u/abc/")
    ours = campaign_email(outgoing, "Shop Ü <shop@example.com>")
    django = EmailMultiAlternatives(ours.subject, ours.body, ours.from_email, ours.to,
                                    headers=ours.extra_headers)
    django.attach_alternative(ours.alternatives[0][0], "text/html")

    for linesep in ("\n", "\r\n"):
        raw = ours.message().as_bytes(linesep=linesep)
        assert raw.isascii()
        assert max(map(len, raw.split(b"\n"))) <= 998
        mine = email.message_from_bytes(raw, policy=email.policy.default)
        theirs = parsed(django)
        for header in ("Subject", "From", "To", "Message-ID", "X-Retentio-Delivery",
                       "List-Unsubscribe"):
            assert str(mine[header]) == str(theirs[header])
        assert [p.get_content() for p in mine.iter_parts()] == \
            [p.get_content() for p in theirs.iter_parts()]


def test_a_newline_in_a_header_is_refused():
    outgoing = Outgoing(7, "li@example.com", "Hi\nBcc: x@evil.example", "<p>x</p>", "x")

    with pytest.raises(Exception, match="newlines"):
        campaign_email(outgoing, "shop@example.com").message()


@pytest.mark.django_db
def test_an_email_backend_that_cannot_open_is_retried_later(settings):
    settings.CAMPAIGNS_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1
    delivery = DeliveryFactory(due_at=NOW)

    result = deliveries_dispatch(now=NOW)

    delivery.refresh_from_db()
    assert (result.retried, delivery.status, delivery.attempts) == (1, "queued", 1)
    assert delivery.due_at == NOW + dt.timedelta(seconds=60)
    assert "ConnectionRefusedError" in delivery.error


# --- SMS -------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_sms_goes_through_the_django_sms_backend_as_plain_text():
    customer = CustomerFactory(name="A&B", phone="+86 138 0000 0000", sms_consent=True)
    delivery = DeliveryFactory(customer=customer, channel="sms", due_at=NOW,
                               template=MessageTemplateFactory(channel="sms",
                                                               body="Hi {{ customer.name }}"))

    deliveries_dispatch(now=NOW)

    [message] = sms.outbox
    assert message.recipients == ["+86 138 0000 0000"]
    assert message.body.startswith("Hi A&B\nUnsubscribe: http://127.0.0.1:8000/u/")
    assert message.idempotency_key == str(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.address) == ("sent", "+86 138 0000 0000")


@pytest.mark.django_db
def test_sms_goes_to_files_with_the_default_file_backend(settings, tmp_path):
    settings.SMS_BACKEND = "sms.backends.filebased.SmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    DeliveryFactory(channel="sms", due_at=NOW,
                    template=MessageTemplateFactory(channel="sms", body="Code 123"))

    assert deliveries_dispatch(now=NOW).sent == 1

    [outbox_file] = Path(tmp_path / "sms").iterdir()
    assert "to: +1 555 0100\nCode 123" in outbox_file.read_text()


# --- webhooks --------------------------------------------------------------------------------

class Receiver(http.server.ThreadingHTTPServer):
    """A local webhook receiver: answers with the scripted statuses in turn (then 200) and
    keeps what it was sent."""

    def __init__(self, statuses=()):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.statuses, self.requests = list(statuses), []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((dict(self.headers), body))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"try later")

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    servers = []

    def start(*statuses):
        server = Receiver(statuses)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def verified(secret: str, headers: dict, body: bytes) -> bool:
    """What a receiver does with X-Retentio-Signature."""
    parts = dict(item.split("=", 1) for item in headers["X-Retentio-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    fresh = abs(time.time() - int(parts["t"])) < 300
    return fresh and hmac.compare_digest(expected.hexdigest(), parts["v1"])


def webhook_delivery(url, **fields):
    endpoint = WebhookEndpointFactory(url=url, secret="a-long-shared-secret")
    fields.setdefault("template", None)
    return DeliveryFactory(channel="webhook", webhook=endpoint, node="n3", due_at=NOW,
                           **fields)


@pytest.mark.django_db
def test_a_webhook_is_signed_with_hmac_sha256_and_carries_the_delivery_id(receiver):
    server = receiver()
    delivery = webhook_delivery(server.url, customer=CustomerFactory(external_id="ann"))

    assert deliveries_dispatch(now=NOW).sent == 1

    [(headers, body)] = server.requests
    assert verified("a-long-shared-secret", headers, body)
    assert not verified("another-secret-entirely", headers, body)
    assert headers["X-Retentio-Delivery"] == headers["Idempotency-Key"] == str(delivery.pk)
    payload = json.loads(body)
    assert (payload["delivery_id"], payload["node"], payload["customer"]["external_id"]) == (
        delivery.pk, "n3", "ann")


@pytest.mark.django_db
def test_a_webhook_template_body_is_posted_as_rendered(receiver):
    server = receiver()
    webhook_delivery(server.url, template=MessageTemplateFactory(
        channel="webhook", body='{"who": "{{ customer.external_id }}"}'),
        customer=CustomerFactory(external_id='a"b'))

    deliveries_dispatch(now=NOW)

    assert json.loads(server.requests[0][1]) == {"who": 'a"b'}


@pytest.mark.django_db
def test_a_failing_webhook_is_retried_with_backoff_then_succeeds(receiver):
    server = receiver(500, 503)
    delivery = webhook_delivery(server.url)

    first = deliveries_dispatch(now=NOW)
    delivery.refresh_from_db()
    assert (first.retried, delivery.status, delivery.attempts) == (1, "queued", 1)
    assert delivery.due_at == NOW + dt.timedelta(seconds=60)
    assert delivery.error.startswith("HTTP 500")
    assert deliveries_dispatch(now=NOW + dt.timedelta(seconds=59)).claimed == 0

    second_try = NOW + dt.timedelta(seconds=60)
    deliveries_dispatch(now=second_try)
    delivery.refresh_from_db()
    assert delivery.due_at == second_try + dt.timedelta(seconds=120)

    deliveries_dispatch(now=delivery.due_at)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(server.requests)) == ("sent", 3, 3)
    assert {headers["X-Retentio-Delivery"] for headers, _body in server.requests} == {
        str(delivery.pk)}


@pytest.mark.django_db
def test_a_webhook_fails_for_good_after_the_maximum_attempts(receiver, settings):
    settings.CAMPAIGNS_MAX_ATTEMPTS = 2
    server = receiver(500, 500, 500)
    delivery = webhook_delivery(server.url)

    deliveries_dispatch(now=NOW)
    deliveries_dispatch(now=NOW + dt.timedelta(minutes=1))

    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason, delivery.attempts) == ("failed", "send_error", 2)
    assert len(server.requests) == 2


@pytest.mark.django_db
def test_a_webhook_refused_with_a_client_error_is_not_retried(receiver):
    delivery = webhook_delivery(receiver(404).url)

    deliveries_dispatch(now=NOW)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == ("failed", "HTTP 404: try later")


@pytest.mark.django_db
def test_a_webhook_to_an_inactive_endpoint_is_skipped(receiver):
    server = receiver()
    delivery = webhook_delivery(server.url)
    delivery.webhook.is_active = False
    delivery.webhook.save()

    deliveries_dispatch(now=NOW)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.reason, server.requests) == (
        "skipped", "webhook_inactive", [])


@pytest.mark.django_db
def test_an_inbox_message_is_sent_without_any_provider():
    customer = CustomerFactory(email_consent=False)
    delivery = DeliveryFactory(customer=customer, channel="inbox", due_at=NOW,
                               template=MessageTemplateFactory(
                                   channel="inbox", subject="For you", body="<b>{{ x }}</b>"))

    deliveries_dispatch(now=NOW)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.subject, delivery.body) == ("sent", "For you",
                                                                  "<b></b>")
    assert Delivery.objects.filter(status="sent").count() == 1
