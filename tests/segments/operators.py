"""Operator API clients for the tests: operators (users with a role) and their tokens."""

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from customers.roles import Role, role_group


def staff_user(username: str = "operator", *, is_staff: bool = True,
               role: Role | None = None):
    """An operator: admin unless `role` says otherwise; is_staff=False, a user with no role
    at all."""
    user = get_user_model().objects.create_user(username, password="pw-for-tests",
                                                is_staff=is_staff)
    chosen = role or (Role.ADMIN if is_staff else None)
    if chosen is not None:
        user.groups.add(role_group(chosen))
    return user


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def errors(response) -> dict[str, str]:
    """{field: message} of a 400, for asserting which part was named."""
    assert response.status_code == 400, response.content
    return {error["field"]: error["message"] for error in response.json()["errors"]}
