"""Storefront API, mounted at /api/v1/ (config/urls.py)."""

from django.urls import path

from customers.api import views

urlpatterns = [
    # Before the detail route, which would otherwise read "batch" as an external id.
    path("customers/batch/", views.CustomerBatchView.as_view(), name="api-customers-batch"),
    path("customers/<external_id:external_id>/", views.CustomerDetailView.as_view(),
         name="api-customer"),
    # Not under customers/: an external id may hold slashes, and the detail route takes them.
    path("personal-data/<external_id:external_id>/", views.CustomerPersonalDataView.as_view(),
         name="api-customer-personal-data"),
    path("orders/", views.OrderView.as_view(), name="api-orders"),
    path("orders/batch/", views.OrderBatchView.as_view(), name="api-orders-batch"),
    path("events/", views.EventView.as_view(), name="api-events"),
    path("events/batch/", views.EventBatchView.as_view(), name="api-events-batch"),
]
