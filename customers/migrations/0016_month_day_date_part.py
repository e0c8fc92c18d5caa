"""The month-day indexes of birthdays and first orders computed with date_part() on
PostgreSQL (customers.models.MonthDay): the same values, cheaper to compute."""

import customers.models
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0015_external_ids_bytewise'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='customer',
            name='customer_birthday_month_day',
        ),
        migrations.RemoveIndex(
            model_name='customermetrics',
            name='metrics_first_order_month_day',
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(customers.models.MonthDay('birthday'), name='customer_birthday_month_day'),
        ),
        migrations.AddIndex(
            model_name='customermetrics',
            index=models.Index(customers.models.MonthDay(customers.models.UtcDate('first_order_at')), name='metrics_first_order_month_day'),
        ),
    ]
