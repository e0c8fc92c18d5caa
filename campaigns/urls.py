"""Pages of the campaigns app, mounted at the site root (config/urls.py)."""

from django.urls import path

from campaigns import (
    views,
    views_campaigns,
    views_coupons,
    views_messages,
    views_results,
    views_settings,
)

urlpatterns = [
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("campaigns/", views_campaigns.campaign_list, name="campaign-list"),
    path("campaigns/new/", views_campaigns.campaign_create, name="campaign-create"),
    path("campaigns/<int:pk>/", views_campaigns.campaign_canvas, name="campaign-canvas"),
    path("coupons/", views_coupons.coupon_list, name="coupon-list"),
    path("coupons/new/", views_coupons.coupon_new, name="coupon-new"),
    path("coupons/<int:pk>/", views_coupons.coupon_detail, name="coupon-detail"),
    path("coupons/<int:pk>/edit/", views_coupons.coupon_edit, name="coupon-edit"),
    path("coupons/<int:pk>/issue/", views_coupons.coupon_issue, name="coupon-issue"),
    path("coupons/<int:pk>/delete/", views_coupons.coupon_remove, name="coupon-delete"),
    path("messages/", views_messages.template_list, name="template-list"),
    path("messages/new/", views_messages.template_new, name="template-new"),
    path("messages/preview/", views_messages.template_preview_fragment, name="template-preview"),
    path("messages/customers/", views_messages.customer_options,
         name="template-customer-options"),
    path("messages/<int:pk>/", views_messages.template_edit, name="template-edit"),
    path("messages/<int:pk>/test-send/", views_messages.template_test_send_view,
         name="template-test-send"),
    path("messages/<int:pk>/delete/", views_messages.template_remove, name="template-delete"),
    path("messages/webhooks/", views_messages.webhook_list, name="webhook-list"),
    path("messages/webhooks/<int:pk>/toggle/", views_messages.webhook_toggle,
         name="webhook-toggle"),
    path("messages/webhooks/<int:pk>/delete/", views_messages.webhook_remove,
         name="webhook-delete"),
    path("settings/", views_settings.settings_page, name="settings"),
    path("campaigns/<int:pk>/results/", views_results.campaign_results_page,
         name="campaign-results"),
    path("campaigns/<int:pk>/results/figures/", views_results.campaign_results_figures,
         name="campaign-results-figures"),
]
