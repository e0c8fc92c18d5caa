from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.cache import cache_page
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.errors import API_NOT_FOUND, api_not_found
from config.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("campaigns.api.urls")),
    path("api/v1/", include("customers.api.urls")),
    path("api/v1/", include("segments.api.urls")),
    re_path(r"^api(?:/|$)", api_not_found, name=API_NOT_FOUND),  # after every endpoint
    path("i18n/", include("django.conf.urls.i18n")),
    # The islands' strings (makemessages -d djangojs), cached: they change with a deploy only.
    path("jsi18n/", cache_page(3600)(JavaScriptCatalog.as_view()), name="javascript-catalog"),
    path("", include("campaigns.urls")),
    path("", include("customers.urls")),
    path("", include("segments.urls")),
]

handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
