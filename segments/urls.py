"""Operator pages for segments (included from config/urls.py)."""

from django.urls import path

from segments import views

urlpatterns = [
    path("segments/", views.segment_list, name="segment-list"),
    path("segments/new/", views.segment_new, name="segment-new"),
    path("segments/<int:pk>/", views.segment_detail, name="segment-detail"),
    path("segments/<int:pk>/edit/", views.segment_edit, name="segment-edit"),
    path("segments/<int:pk>/members.csv", views.segment_members_export,
         name="segment-members-csv"),
    path("segments/<int:pk>/delete/", views.segment_remove, name="segment-delete"),
]
