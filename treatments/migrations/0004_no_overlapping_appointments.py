"""On PostgreSQL, refuse two active appointments whose held times overlap for one practitioner, room or device.

Exclusion constraints over tstzrange(blocked_start, blocked_end) with btree_gist for the id equality;
cancelled, no-show, entered-in-error and waitlist rows do not hold time. SQLite has no exclusion
constraints; there booking serialises writers (BEGIN IMMEDIATE) and checks overlaps inside the transaction.
"""

from django.db import migrations

INACTIVE = "('cancelled', 'noshow', 'entered-in-error', 'waitlist')"
RESOURCES = ("practitioner", "room", "device")


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for resource in RESOURCES:
        schema_editor.execute(
            f"ALTER TABLE treatments_appointment ADD CONSTRAINT appointment_{resource}_no_overlap "
            f"EXCLUDE USING gist ({resource}_id WITH =, tstzrange(blocked_start, blocked_end, '[)') WITH &&) "
            f"WHERE (status NOT IN {INACTIVE})"
        )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for resource in RESOURCES:
        schema_editor.execute(
            f"ALTER TABLE treatments_appointment DROP CONSTRAINT IF EXISTS appointment_{resource}_no_overlap"
        )


class Migration(migrations.Migration):
    dependencies = [("treatments", "0003_appointment_blocked_range")]
    operations = [migrations.RunPython(forward, backward)]
