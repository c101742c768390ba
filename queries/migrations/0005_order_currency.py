"""OrderSummary.currency (OrderPlaced v2). Existing rows were projected from v1 events, which
read as orders in the shop's SHOP_CURRENCY: the rows get the value a rebuild would give them."""

from django.db import migrations, models

import queries.models


class Migration(migrations.Migration):
    dependencies = [
        ("queries", "0004_ordersummary_status_choices"),
    ]

    operations = [
        migrations.AddField(
            model_name="ordersummary",
            name="currency",
            field=models.CharField(default=queries.models.shop_currency, max_length=3),
        ),
    ]
