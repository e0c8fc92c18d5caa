"""What every operator page's template may read."""

from customers.roles import Role, role_of


def operator_role(request) -> dict:
    """`role`: the signed-in operator's role (None without one) and `Role` to compare it
    with, e.g. {% if role >= Role.MANAGER %} for a publish button."""
    user = getattr(request, "user", None)
    return {"role": role_of(user), "Role": Role}
