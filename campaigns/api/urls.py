"""Campaigns API, mounted at /api/v1/ (config/urls.py), before the customers routes so that
/customers/{external_id}/offers/ reaches the storefront offers view (an external id may hold
slashes, so the customers' `customers/<path:external_id>/` route would take it otherwise)."""

from django.urls import path

from campaigns.api import views

urlpatterns = [
    path("customers/<path:external_id>/offers/", views.CustomerOffersView.as_view(),
         name="api-customer-offers"),
    path("message-templates/", views.MessageTemplateListView.as_view(),
         name="api-message-templates"),
    path("message-templates/preview/", views.MessageTemplateDraftPreviewView.as_view(),
         name="api-message-templates-preview"),
    path("message-templates/<int:pk>/", views.MessageTemplateDetailView.as_view(),
         name="api-message-template"),
    path("message-templates/<int:pk>/preview/", views.MessageTemplatePreviewView.as_view(),
         name="api-message-template-preview"),
    path("message-templates/<int:pk>/test-send/", views.MessageTemplateTestSendView.as_view(),
         name="api-message-template-test-send"),
    path("webhook-endpoints/", views.WebhookEndpointListView.as_view(),
         name="api-webhook-endpoints"),
    path("webhook-endpoints/<int:pk>/", views.WebhookEndpointDetailView.as_view(),
         name="api-webhook-endpoint"),
]
