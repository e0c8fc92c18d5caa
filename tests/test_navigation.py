"""The main navigation offers each operator the pages their role opens."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from customers.roles import Role, role_group

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("role", "sees_settings"), [
    (Role.VIEWER, False), (Role.MARKETER, False), (Role.MANAGER, False), (Role.ADMIN, True)])
def test_only_admins_are_offered_the_settings_page(client, role, sees_settings):
    user = get_user_model().objects.create_user(f"op-{role.group}")
    user.groups.add(role_group(role))
    client.force_login(user)

    page = client.get(reverse("dashboard")).content.decode()

    assert (f'href="{reverse("settings")}"' in page) is sees_settings
    assert f'href="{reverse("segment-list")}"' in page
    assert f'href="{reverse("value-model")}"' in page
