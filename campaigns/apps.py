from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from campaigns import (
            customer_panels,
            flows,  # noqa: F401 - registers the node types
            receivers,
            rules,
        )

        receivers.connect()
        rules.register()  # segment rule fields that read campaigns' tables
        customer_panels.register()  # dashboard figures and customer page sections
