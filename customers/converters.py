"""The URL converter of external ids: `<external_id:external_id>` in the URL patterns.

A brand's external ids may hold any character but NUL (config.middleware answers those
addresses with a 400), slashes and line breaks included: Django's `path` converter (`.+`)
matches no line break, so a page linking to a customer whose id held one failed to render
(an id a storefront had sent through the API broke the customer list for everyone). Importing
this module's register() (from CustomersConfig.ready) makes it available to every URL
pattern."""

from django.urls import register_converter


class ExternalIdConverter:
    regex = "[^\x00]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


def register() -> None:
    register_converter(ExternalIdConverter, "external_id")
