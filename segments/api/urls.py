"""Operator API for segments, mounted at /api/v1/ (config/urls.py)."""

from django.urls import path

from segments.api import views

urlpatterns = [
    path("segments/", views.SegmentListView.as_view(), name="api-segments"),
    path("segments/preview/", views.SegmentPreviewView.as_view(), name="api-segments-preview"),
    path("segments/<int:pk>/", views.SegmentDetailView.as_view(), name="api-segment"),
    path("segments/<int:pk>/members/", views.SegmentMembersView.as_view(),
         name="api-segment-members"),
    path("segments/<int:pk>/changes/", views.SegmentChangesView.as_view(),
         name="api-segment-changes"),
    path("segments/<int:pk>/explain/<external_id:external_id>/", views.SegmentExplainView.as_view(),
         name="api-segment-explain"),
    path("segment-templates/", views.SegmentTemplatesView.as_view(),
         name="api-segment-templates"),
    path("segment-fields/", views.SegmentFieldsView.as_view(), name="api-segment-fields"),
]
