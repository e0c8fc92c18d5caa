"""Pages of the campaigns app, mounted at the site root (config/urls.py)."""

from django.urls import path

from campaigns import views

urlpatterns = [
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
