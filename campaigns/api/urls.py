"""Campaigns API, mounted at /api/v1/ (config/urls.py), before the customers routes so that
/customers/{external_id}/offers/ reaches the storefront offers view."""

from django.urls import path  # noqa: F401 - the routes arrive with their views

urlpatterns: list = []
