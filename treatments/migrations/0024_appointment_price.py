from django.core.validators import MinValueValidator
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def _prices_as_booked(apps, schema_editor):
    """Visits booked before prices were kept take their service's price now: the best there is."""
    Appointment = apps.get_model("treatments", "Appointment")
    Service = apps.get_model("treatments", "Service")
    Appointment.objects.update(
        price=Subquery(Service.objects.filter(pk=OuterRef("service_id")).values("price")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0023_lot_recall"),
    ]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="price",
            field=models.DecimalField(
                decimal_places=2, default=0, max_digits=8, validators=[MinValueValidator(0)]
            ),
            preserve_default=False,
        ),
        migrations.RunPython(_prices_as_booked, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.CheckConstraint(
                condition=models.Q(("price__gte", 0)),
                name="appointment_price_not_negative",
                violation_error_message="A price cannot be negative.",
            ),
        ),
    ]
