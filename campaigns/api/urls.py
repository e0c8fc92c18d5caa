"""Campaigns API, mounted at /api/v1/ (config/urls.py), before the customers routes so that
/customers/{external_id}/offers/ reaches the storefront offers view (an external id may hold
slashes, so the customers' `customers/<external_id:external_id>/` route would take it
otherwise)."""

from django.urls import path

from campaigns.api import coupons, messages, results, views

urlpatterns = [
    # Operator API: campaigns
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
    path("campaigns/<int:pk>/results/", results.CampaignResultsView.as_view(),
         name="api-campaign-results"),
    path("campaigns/<int:pk>/simulate/", results.CampaignSimulateView.as_view(),
         name="api-campaign-simulate"),
    path("flow-graphs/check/", views.GraphCheckView.as_view(), name="api-flow-graphs-check"),
    path("flow-node-types/", views.NodeTypesView.as_view(), name="api-flow-node-types"),
    # Operator API: messages
    path("message-templates/", messages.MessageTemplateListView.as_view(),
         name="api-message-templates"),
    path("message-templates/preview/", messages.MessageTemplateDraftPreviewView.as_view(),
         name="api-message-templates-preview"),
    path("message-templates/<int:pk>/", messages.MessageTemplateDetailView.as_view(),
         name="api-message-template"),
    path("message-templates/<int:pk>/preview/", messages.MessageTemplatePreviewView.as_view(),
         name="api-message-template-preview"),
    path("message-templates/<int:pk>/test-send/",
         messages.MessageTemplateTestSendView.as_view(),
         name="api-message-template-test-send"),
    path("webhook-endpoints/", messages.WebhookEndpointListView.as_view(),
         name="api-webhook-endpoints"),
    path("webhook-endpoints/<int:pk>/", messages.WebhookEndpointDetailView.as_view(),
         name="api-webhook-endpoint"),
    # Operator API: coupons
    path("coupon-definitions/", coupons.CouponDefinitionListView.as_view(),
         name="api-coupon-definitions"),
    path("coupon-definitions/<int:pk>/", coupons.CouponDefinitionDetailView.as_view(),
         name="api-coupon-definition"),
    path("coupon-definitions/<int:pk>/coupons/", coupons.CouponDefinitionCouponsView.as_view(),
         name="api-coupon-definition-coupons"),
    path("coupon-definitions/<int:pk>/issue/", coupons.CouponIssueView.as_view(),
         name="api-coupon-definition-issue"),
    # Storefront API
    path("coupons/validate/", coupons.CouponValidateView.as_view(), name="api-coupons-validate"),
    path("coupons/redeem/", coupons.CouponRedeemView.as_view(), name="api-coupons-redeem"),
    path("customers/<external_id:external_id>/offers/", messages.CustomerOffersView.as_view(),
         name="api-customer-offers"),
]
