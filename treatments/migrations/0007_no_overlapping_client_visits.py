"""On PostgreSQL, refuse two active visits of one client whose times overlap (the client is one person).

Over tstzrange(start, end): the visit itself, not the held time with buffers, so a client's visits may
follow each other back to back with different practitioners. Same inactive statuses as 0004.
"""

from django.db import migrations

INACTIVE = "('cancelled', 'noshow', 'entered-in-error', 'waitlist')"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE treatments_appointment ADD CONSTRAINT appointment_client_no_overlap "
        "EXCLUDE USING gist (client_id WITH =, tstzrange(start, \"end\", '[)') WITH &&) "
        f"WHERE (status NOT IN {INACTIVE})"
    )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE treatments_appointment DROP CONSTRAINT IF EXISTS appointment_client_no_overlap"
    )


class Migration(migrations.Migration):
    dependencies = [("treatments", "0006_aftercare_steps")]
    operations = [migrations.RunPython(forward, backward)]
