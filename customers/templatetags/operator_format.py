"""Money for the operator's language and the shop's currency: {{ amount|money }} (the shop's
currency) or {{ amount|money:"EUR" }}. Numbers are grouped and separated as the active
language writes them (Django's formats: 1,234.50 in English and Chinese, 1 234,50 in
Russian); the currency's symbol goes where that language puts it."""

from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.core.cache import cache
from django.utils import formats, translation

from customers.models import Storefront

register = template.Library()

SYMBOLS = {"USD": "$", "CNY": "¥", "EUR": "€", "GBP": "£", "JPY": "¥", "RUB": "₽",
           "HKD": "HK$", "TWD": "NT$", "KRW": "₩", "SGD": "S$", "AUD": "A$", "CAD": "C$"}
SYMBOL_AFTER = {"ru", "de", "fr"}  # languages writing "1 234,50 ₽"
CURRENCY_CACHE_SECONDS = 300


def shop_currency() -> str:
    """SHOP_CURRENCY when set, else the first storefront's default currency, else USD."""
    configured = getattr(settings, "SHOP_CURRENCY", "")
    if configured:
        return configured.upper()

    def first_storefront() -> str:
        return Storefront.objects.order_by("pk").values_list("currency", flat=True).first() \
            or "USD"

    return cache.get_or_set("operator:shop-currency", first_storefront, CURRENCY_CACHE_SECONDS)


@register.filter
def money(value, currency: str = "") -> str:
    """The amount with two decimals and the currency's symbol ("—" for nothing)."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    code = (currency or shop_currency()).upper()
    number = formats.number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)
    symbol = SYMBOLS.get(code, code + "\u00a0")
    language = (translation.get_language() or "en").split("-")[0]
    if language in SYMBOL_AFTER:
        return f"{number}\u00a0{symbol.strip()}"
    if amount < 0:
        return f"-{symbol}{number.lstrip('-')}"
    return f"{symbol}{number}"


@register.filter
def percent(value) -> str:
    """A rate (0..1) as a percentage with one decimal, in the language's notation."""
    if value is None or value == "":
        return "—"
    return formats.number_format(float(value) * 100, decimal_pos=1, use_l10n=True) + "%"


@register.simple_tag
def shop_currency_code() -> str:
    return shop_currency()
