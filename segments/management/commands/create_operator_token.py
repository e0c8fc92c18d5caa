from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = ("Print the operator API token of a staff user (creating it if needed). Send it as "
            "`Authorization: Token <token>`.")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true",
                            help="replace the user's token with a new one (the old one stops "
                                 "working)")

    def handle(self, *args, username, rotate, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}; create one with "
                               f"`manage.py createsuperuser` or in the admin.")
        if not (user.is_staff and user.is_active):
            raise CommandError(f"{username!r} is not an active staff user; the operator API "
                               f"is for staff only.")
        if rotate:
            Token.objects.filter(user=user).delete()
        token, created = Token.objects.get_or_create(user=user)
        state = "New" if created else "Existing"
        self.stderr.write(f"{state} operator token for {username!r} (keep it secret):")
        self.stdout.write(token.key)
