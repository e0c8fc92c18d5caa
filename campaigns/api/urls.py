"""Campaigns API, mounted at /api/v1/ (config/urls.py), before the customers routes so that
/customers/{external_id}/offers/ reaches the storefront offers view."""

from django.urls import path

from campaigns.api import results, views

urlpatterns = [
    path("campaigns/", views.CampaignListView.as_view(), name="api-campaigns"),
    path("campaigns/<int:pk>/", views.CampaignDetailView.as_view(), name="api-campaign"),
    path("campaigns/<int:pk>/publish/", views.CampaignPublishView.as_view(),
         name="api-campaign-publish"),
    path("campaigns/<int:pk>/pause/", views.CampaignPauseView.as_view(),
         name="api-campaign-pause"),
    path("campaigns/<int:pk>/resume/", views.CampaignResumeView.as_view(),
         name="api-campaign-resume"),
    path("campaigns/<int:pk>/archive/", views.CampaignArchiveView.as_view(),
         name="api-campaign-archive"),
    path("campaigns/<int:pk>/versions/", views.CampaignVersionsView.as_view(),
         name="api-campaign-versions"),
    path("campaigns/<int:pk>/journeys/", views.CampaignJourneysView.as_view(),
         name="api-campaign-journeys"),
    path("flow-graphs/check/", views.GraphCheckView.as_view(), name="api-flow-graphs-check"),
    path("campaigns/<int:pk>/results/", results.CampaignResultsView.as_view(),
         name="api-campaign-results"),
    path("campaigns/<int:pk>/simulate/", results.CampaignSimulateView.as_view(),
         name="api-campaign-simulate"),
    path("flow-graphs/check/", views.GraphCheckView.as_view(), name="api-flow-graphs-check"),
    path("flow-node-types/", views.NodeTypesView.as_view(), name="api-flow-node-types"),
]
