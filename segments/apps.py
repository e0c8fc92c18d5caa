from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "segments"
    verbose_name = _("Segments")

    def ready(self) -> None:
        from segments import pages, receivers
        from segments.api import customer_profile

        receivers.connect()
        customer_profile.register()
        pages.register()  # customer page section, RFM cell links
