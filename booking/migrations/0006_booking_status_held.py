from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("booking", "0005_booking_no_overlap_held")]

    operations = [
        migrations.RemoveConstraint(model_name="booking", name="booking_status_valid"),
        migrations.AddConstraint(
            model_name="booking",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    status__in=[
                        "pending",
                        "approved",
                        "rejected",
                        "cancelled",
                        "checked_in",
                        "completed",
                        "no_show",
                        "held",
                    ]
                ),
                name="booking_status_valid",
            ),
        ),
    ]
