"""Pages of the campaigns app, mounted at the site root (config/urls.py)."""

from django.urls import path

from campaigns import pages, views

urlpatterns = [
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("campaigns/", pages.campaign_list, name="campaign-list"),
    path("campaigns/new/", pages.campaign_create, name="campaign-create"),
    path("campaigns/<int:pk>/", pages.campaign_canvas, name="campaign-canvas"),
]
