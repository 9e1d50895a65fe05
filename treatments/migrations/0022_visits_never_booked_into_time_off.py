"""The database refuses a visit booked or moved into its practitioner's time off, or into a time its
room or a device of it is out of service (`treatments.schedule_guard`)."""

from django.db import migrations


def forward(apps, schema_editor):
    from treatments.schedule_guard import create_schedule_guard

    create_schedule_guard(schema_editor.connection)


def backward(apps, schema_editor):
    from treatments.schedule_guard import TRIGGERS

    on_table = " ON treatments_appointment" if schema_editor.connection.vendor == "postgresql" else ""
    for trigger in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}{on_table}")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS treatments_appointment_schedule_guard()")


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0021_signed_off_session_follows_an_undone_merge"),
        ("clinic", "0022_staff_leaving"),
    ]

    operations = [migrations.RunPython(forward, backward)]
