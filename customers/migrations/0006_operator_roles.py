"""The operator roles' groups (customers/roles.py): viewer, marketer, manager, admin."""

from django.db import migrations

ROLES = ("viewer", "marketer", "manager", "admin")


def create_groups(apps, schema_editor):
    group = apps.get_model("auth", "Group")
    for name in ROLES:
        group.objects.get_or_create(name=name)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("customers", "0005_customer_language"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
