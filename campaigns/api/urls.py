"""Campaigns API, mounted at /api/v1/ (config/urls.py), before the customers routes so that
/customers/{external_id}/offers/ reaches the storefront offers view."""

from django.urls import path

from campaigns.api import coupons

urlpatterns = [
    # Operator API
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
]
