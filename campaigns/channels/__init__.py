"""Channels, each declared once: what consent and address a message on it needs, whether it
counts against frequency caps, how its body is rendered, and the sender that delivers a
batch. The delivery controls, the renderer, the dispatcher and the API all read CHANNELS.

    CHANNELS["email"].send(outgoing_messages, deadline) -> [Result, ...]
"""

import dataclasses

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from campaigns.channels.base import Outgoing, Result, Sender
from campaigns.channels.email import send_email
from campaigns.channels.inbox import send_inbox
from campaigns.channels.sms import send_sms
from campaigns.channels.webhook import send_webhooks


@dataclasses.dataclass(frozen=True, slots=True)
class ChannelType:
    key: str  # stored in Delivery.channel and MessageTemplate.channel; never renamed
    label: str | Promise
    send: Sender
    consent: str = ""  # the customer's consent field; "" needs none
    address: str = ""  # the customer's field the message goes to; "" has none
    capped: bool = True  # counts against frequency caps and campaign priority
    html: bool = False  # the body is HTML, its variables escaped
    json: bool = False  # the body must render to JSON
    unsubscribe: bool = False  # carries an unsubscribe link (and needs one)


CHANNELS: dict[str, ChannelType] = {}


def register(channel: ChannelType) -> ChannelType:
    if channel.key in CHANNELS:
        raise ValueError(f"duplicate channel {channel.key}")
    CHANNELS[channel.key] = channel
    return channel


EMAIL = register(ChannelType(
    key="email", label=_("Email"), send=send_email, consent="email_consent", address="email",
    html=True, unsubscribe=True))
SMS = register(ChannelType(
    key="sms", label=_("SMS"), send=send_sms, consent="sms_consent", address="phone",
    unsubscribe=True))
INBOX = register(ChannelType(key="inbox", label=_("Storefront inbox"), send=send_inbox))
WEBHOOK = register(ChannelType(
    key="webhook", label=_("Webhook"), send=send_webhooks, capped=False, json=True))

__all__ = ["CHANNELS", "EMAIL", "INBOX", "SMS", "WEBHOOK", "ChannelType", "Outgoing", "Result",
           "register"]
