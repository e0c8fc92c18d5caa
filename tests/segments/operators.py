"""Operator API clients for the segment tests: a staff user with an operator token."""

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def staff_user(username: str = "operator", *, is_staff: bool = True):
    return get_user_model().objects.create_user(username, password="pw-for-tests",
                                                is_staff=is_staff)


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def errors(response) -> dict[str, str]:
    """{field: message} of a 400, for asserting which part was named."""
    assert response.status_code == 400, response.content
    return {error["field"]: error["message"] for error in response.json()["errors"]}
