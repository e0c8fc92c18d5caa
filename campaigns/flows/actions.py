"""Action node types and the exit. Each action writes its effect for the whole batch at once,
under the (journey, step) key, in the runner's transaction: run twice, it finds the effect
already there and writes nothing new."""

from collections.abc import Sequence
from typing import Literal

from django.utils.translation import gettext_lazy as _
from pydantic import Field, field_validator, model_validator

from campaigns.flows.configs import ATTRIBUTE_KEY, Id, PropertyValue
from campaigns.flows.registry import (
    Category,
    Config,
    End,
    Go,
    NodeType,
    Outcome,
    Reference,
    Run,
    Walker,
    fixed_ports,
    register,
)

NEXT = fixed_ports("next")

# --- issue a coupon ----------------------------------------------------------------------------


class IssueCouponConfig(Config):
    definition: Id = Field(description="The coupon definition to issue a code of")


def _issue_coupon(node_id: str, config: IssueCouponConfig, walkers: Sequence[Walker],
                  run: Run) -> list[Outcome]:
    from campaigns.services.coupons import coupons_issue

    issued = coupons_issue(definition_id=config.definition, walkers=walkers, node=node_id,
                           now=run.now)
    return [Go("issued", note=issued[w.journey_id].code, coupon_id=issued[w.journey_id].coupon_id)
            if issued[w.journey_id].code else Go("not_issued", note=issued[w.journey_id].reason)
            for w in walkers]


ISSUE_COUPON = register(NodeType(
    key="issue_coupon", label=_("Issue a coupon"), category=Category.ACTION,
    config=IssueCouponConfig, ports=fixed_ports("issued", "not_issued"), execute=_issue_coupon,
    references=lambda config: [Reference("coupon_definition", config.definition, "definition",
                                         expect="personal")],
    description=_("Gives the customer a unique code of the coupon definition. 'not_issued' "
                  "when the budget is spent, the definition is inactive or the customer "
                  "already holds as many as allowed.")))


# --- send a message ----------------------------------------------------------------------------

MessageChannel = Literal["email", "sms", "inbox", "webhook"]


class SendMessageConfig(Config):
    channel: MessageChannel = Field(description="How the message goes out")
    template: Id = Field(description="A message template of the same channel")
    webhook: Id | None = Field(None, description="With channel webhook: the endpoint")

    @model_validator(mode="after")
    def _webhook(self):
        if (self.channel == "webhook") != (self.webhook is not None):
            raise ValueError("`webhook` is required with channel webhook, and only then")
        return self


def _message_refs(config: SendMessageConfig) -> list[Reference]:
    refs = [Reference("message_template", config.template, "template", expect=config.channel)]
    if config.webhook:
        refs.append(Reference("webhook", config.webhook, "webhook"))
    return refs


def _send_message(node_id: str, config: SendMessageConfig, walkers: Sequence[Walker],
                  run: Run) -> list[Outcome]:
    from campaigns.services.deliveries import deliveries_queue

    deliveries_queue(walkers=walkers, channel=config.channel, template_id=config.template,
                     webhook_id=config.webhook, node=node_id, now=run.now, outbox=run.outbox)
    return [Go("next") for _walker in walkers]


SEND_MESSAGE = register(NodeType(
    key="send_message", label=_("Send a message"), category=Category.ACTION,
    config=SendMessageConfig, ports=NEXT, execute=_send_message, references=_message_refs,
    description=_("Queues an email, SMS, storefront inbox message or webhook from a template. "
                  "It is sent within consent, frequency caps and quiet hours; a message that "
                  "is not sent records why.")))


class CallWebhookConfig(Config):
    webhook: Id = Field(description="The webhook endpoint's id")


def _call_webhook(node_id: str, config: CallWebhookConfig, walkers: Sequence[Walker],
                  run: Run) -> list[Outcome]:
    from campaigns.services.deliveries import deliveries_queue

    deliveries_queue(walkers=walkers, channel="webhook", template_id=None,
                     webhook_id=config.webhook, node=node_id, now=run.now, outbox=run.outbox)
    return [Go("next") for _walker in walkers]


CALL_WEBHOOK = register(NodeType(
    key="call_webhook", label=_("Call a webhook"), category=Category.ACTION,
    config=CallWebhookConfig, ports=NEXT, execute=_call_webhook,
    references=lambda config: [Reference("webhook", config.webhook, "webhook")],
    description=_("Posts the customer and the campaign to an endpoint of yours, signed with "
                  "HMAC-SHA256 and retried with backoff.")))


# --- tags and attributes -----------------------------------------------------------------------

class TagConfig(Config):
    tag: str = Field(min_length=1, max_length=64, description="The tag")


def _tag_action(add: bool):
    def execute(node_id: str, config: TagConfig, walkers: Sequence[Walker], run: Run
                ) -> list[Outcome]:
        from campaigns.services.profile import customers_tag

        customers_tag([w.customer_id for w in walkers], config.tag, add=add)
        return [Go("next") for _walker in walkers]

    return execute


ADD_TAG = register(NodeType(
    key="add_tag", label=_("Add a tag"), category=Category.ACTION, config=TagConfig,
    ports=NEXT, execute=_tag_action(add=True),
    description=_("Adds the tag to the customer (segments can select on it).")))

REMOVE_TAG = register(NodeType(
    key="remove_tag", label=_("Remove a tag"), category=Category.ACTION, config=TagConfig,
    ports=NEXT, execute=_tag_action(add=False),
    description=_("Removes the tag from the customer.")))


class SetAttributeConfig(Config):
    key: str = Field(description="The attribute: attributes.<key>")
    value: PropertyValue | None = Field(description="Its new value; null removes it")

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not ATTRIBUTE_KEY.match(value):
            raise ValueError("letters, digits and _, starting with a letter or _")
        return value


def _set_attribute(node_id: str, config: SetAttributeConfig, walkers: Sequence[Walker],
                   run: Run) -> list[Outcome]:
    from campaigns.services.profile import customers_set_attribute

    customers_set_attribute([w.customer_id for w in walkers], config.key, config.value)
    return [Go("next") for _walker in walkers]


SET_ATTRIBUTE = register(NodeType(
    key="set_attribute", label=_("Set an attribute"), category=Category.ACTION,
    config=SetAttributeConfig, ports=NEXT, execute=_set_attribute,
    description=_("Sets attributes.<key> of the customer (null removes it).")))


# --- exit ------------------------------------------------------------------------------------


class ExitConfig(Config):
    pass


def _exit(node_id: str, config: ExitConfig, walkers: Sequence[Walker], run: Run
          ) -> list[Outcome]:
    return [End() for _walker in walkers]


EXIT = register(NodeType(
    key="exit", label=_("Exit"), category=Category.EXIT, config=ExitConfig,
    ports=fixed_ports(), execute=_exit,
    description=_("Ends the journey here.")))
