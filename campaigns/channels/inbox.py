"""The storefront inbox: nothing to call. A sent inbox delivery is what
GET /api/v1/customers/{external_id}/offers/ shows the storefront."""

from collections.abc import Sequence

from campaigns.channels.base import Outgoing, Result


def send_inbox(messages: Sequence[Outgoing], deadline: float) -> list[Result]:
    return [Result.sent(message.delivery_id) for message in messages]
