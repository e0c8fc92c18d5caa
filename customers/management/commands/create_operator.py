"""Create (or change) an operator: a login with a role (customers/roles.py)."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from customers.roles import Role, role_group


class Command(BaseCommand):
    help = ("Create an operator login with a role (viewer, marketer, manager, admin), or give "
            "an existing one that role. Prints the password of a new login.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=[role.group for role in Role], default="viewer")
        parser.add_argument("--password", help="default: a random one, printed")

    def handle(self, *args, username: str, role: str, password: str | None, **options):
        user, created = get_user_model().objects.get_or_create(username=username)
        chosen = Role[role.upper()]
        user.groups.remove(*Group.objects.filter(name__in=[r.group for r in Role]))
        user.groups.add(role_group(chosen))
        user.is_staff = chosen >= Role.ADMIN  # admins also get the Django admin
        if created or password:
            password = password or secrets.token_urlsafe(9)
            user.set_password(password)
        user.save()
        state = "created" if created else "updated"
        told = f" Password: {password}" if password else ""
        self.stdout.write(f"Operator {username} {state} with the {chosen.group} role.{told}")
