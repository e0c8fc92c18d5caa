from django.contrib.auth import views as auth_views
from django.urls import path

from customers import operators, value_model_views, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),  # POST only
    path("value-model/", value_model_views.value_model, name="value-model"),
    path("value-model/fit/", value_model_views.value_model_fit_now, name="value-model-fit"),
    path("value-model/check/", value_model_views.value_model_check_now,
         name="value-model-check"),
    path("accounts/language/", operators.language_switch, name="language-switch"),
    path("customers/", views.customer_list, name="customer-list"),
    path("customers/<external_id:external_id>/", views.customer_detail, name="customer-detail"),
    # No trailing slash: the detail's pattern, whose id may hold slashes, never takes it.
    path("customers/<external_id:external_id>/personal-data.json",
         views.customer_personal_data_download, name="customer-personal-data"),
]
