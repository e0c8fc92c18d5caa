"""Campaigns API, mounted at /api/v1/ (config/urls.py), before the customers routes so that
/customers/{external_id}/offers/ reaches the storefront offers view."""

from django.urls import path

from campaigns.api import results

urlpatterns: list = [
    path("campaigns/<int:pk>/results/", results.CampaignResultsView.as_view(),
         name="api-campaign-results"),
    path("campaigns/<int:pk>/simulate/", results.CampaignSimulateView.as_view(),
         name="api-campaign-simulate"),
]
