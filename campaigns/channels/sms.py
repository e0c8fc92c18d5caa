"""SMS through django-sms backends (settings.SMS_BACKEND): the file outbox by default,
Twilio, MessageBird or your own by setting. One connection per batch.

django-sms messages have no idempotency field; each carries the delivery id as
`message.idempotency_key`, for a backend of yours that can pass it to its provider."""

from collections.abc import Sequence

import sms
from django.conf import settings

from campaigns.channels.base import Outgoing, Result, all_failed, each


def send_sms(messages: Sequence[Outgoing], deadline: float) -> list[Result]:
    try:
        connection = sms.get_connection(settings.SMS_BACKEND)
        connection.open()
    except Exception as exc:  # a provider or a folder that is not there: try again later
        return all_failed(messages, exc)

    def send_one(outgoing: Outgoing) -> None:
        message = sms.Message(outgoing.body, settings.DEFAULT_FROM_SMS, [outgoing.address],
                              connection=connection)
        message.idempotency_key = str(outgoing.delivery_id)
        if message.send() != 1:
            raise RuntimeError("the SMS backend did not accept the message")

    try:
        return each(messages, deadline, send_one)
    finally:
        connection.close()
