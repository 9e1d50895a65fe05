import datetime as dt

from django.db import migrations, models
from django.db.models import F, Q


def fill_blocked_range(apps, schema_editor):
    """Give existing appointments a blocked range from their service's buffers."""
    Appointment = apps.get_model("treatments", "Appointment")
    for appointment in Appointment.objects.select_related("service").iterator():
        service = appointment.service
        Appointment.objects.filter(pk=appointment.pk).update(
            blocked_start=appointment.start - dt.timedelta(minutes=service.buffer_before_minutes),
            blocked_end=appointment.end + dt.timedelta(minutes=service.buffer_after_minutes),
        )


class Migration(migrations.Migration):
    dependencies = [("treatments", "0002_body_areas")]

    operations = [
        migrations.AddField("appointment", "blocked_start", models.DateTimeField(null=True)),
        migrations.AddField("appointment", "blocked_end", models.DateTimeField(null=True)),
        migrations.RunPython(fill_blocked_range, migrations.RunPython.noop),
        migrations.AlterField("appointment", "blocked_start", models.DateTimeField()),
        migrations.AlterField("appointment", "blocked_end", models.DateTimeField()),
        migrations.AddConstraint(
            "appointment",
            models.CheckConstraint(
                condition=Q(blocked_start__lte=F("start"), blocked_end__gte=F("end")),
                name="appointment_blocked_covers_visit",
            ),
        ),
    ]
