from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from customers import converters, pages

        pages.register_own()  # orders and events on the customer page's timeline
        converters.register()  # <external_id:...> in every app's URL patterns
