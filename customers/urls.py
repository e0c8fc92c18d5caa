from django.urls import path

from customers import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
