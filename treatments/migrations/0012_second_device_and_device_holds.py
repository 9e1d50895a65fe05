"""A service may need a second device, and a visit holds it; device holds refuse a device double-booked.

`Appointment.device` and `Appointment.second_device` are two columns, and one device can be a visit's
first and another's second, so an exclusion constraint on the appointment table cannot compare them.
`treatments_devicehold` has one row per device an active visit holds, with the visit's held time:

- triggers on the appointment table rewrite a visit's rows on insert and whenever its status, devices
  or held time change (inactive visits hold none), on PostgreSQL and on SQLite alike;
- on PostgreSQL an exclusion constraint refuses two rows of one device whose times overlap, so a race
  between two bookings of one device lands there, whichever column each visit holds it in.

The existing visits' devices are copied in.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Statuses that hold nothing (INACTIVE_STATUSES), written into the SQL below as they stand today.
WATCHED = "status, device_id, second_device_id, blocked_start, blocked_end"

POSTGRESQL_FORWARD = [
    """
    CREATE FUNCTION treatments_appointment_device_holds() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM treatments_devicehold WHERE appointment_id = NEW.id;
        IF NEW.status NOT IN ('cancelled', 'noshow', 'entered-in-error', 'waitlist') THEN
            INSERT INTO treatments_devicehold (appointment_id, device_id, blocked_start, blocked_end)
            SELECT NEW.id, held.device_id, NEW.blocked_start, NEW.blocked_end
            FROM unnest(ARRAY[NEW.device_id, NEW.second_device_id]) AS held(device_id)
            WHERE held.device_id IS NOT NULL;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    "CREATE TRIGGER appointment_device_holds_insert AFTER INSERT ON treatments_appointment "
    "FOR EACH ROW EXECUTE FUNCTION treatments_appointment_device_holds()",
    f"CREATE TRIGGER appointment_device_holds_update AFTER UPDATE OF {WATCHED} ON treatments_appointment "
    "FOR EACH ROW EXECUTE FUNCTION treatments_appointment_device_holds()",
    "ALTER TABLE treatments_devicehold ADD CONSTRAINT device_hold_no_overlap "
    "EXCLUDE USING gist (device_id WITH =, tstzrange(blocked_start, blocked_end, '[)') WITH &&)",
]
POSTGRESQL_BACKWARD = [
    "ALTER TABLE treatments_devicehold DROP CONSTRAINT IF EXISTS device_hold_no_overlap",
    "DROP TRIGGER IF EXISTS appointment_device_holds_update ON treatments_appointment",
    "DROP TRIGGER IF EXISTS appointment_device_holds_insert ON treatments_appointment",
    "DROP FUNCTION IF EXISTS treatments_appointment_device_holds()",
]
SQLITE_BODY = """
BEGIN
    DELETE FROM treatments_devicehold WHERE appointment_id = NEW.id;
    INSERT INTO treatments_devicehold (appointment_id, device_id, blocked_start, blocked_end)
    SELECT NEW.id, NEW.device_id, NEW.blocked_start, NEW.blocked_end
    WHERE NEW.device_id IS NOT NULL AND NEW.status NOT IN ('cancelled', 'noshow', 'entered-in-error', 'waitlist');
    INSERT INTO treatments_devicehold (appointment_id, device_id, blocked_start, blocked_end)
    SELECT NEW.id, NEW.second_device_id, NEW.blocked_start, NEW.blocked_end
    WHERE NEW.second_device_id IS NOT NULL AND NEW.status NOT IN ('cancelled', 'noshow', 'entered-in-error', 'waitlist');
END
"""
SQLITE_FORWARD = [
    f"CREATE TRIGGER appointment_device_holds_insert AFTER INSERT ON treatments_appointment {SQLITE_BODY}",
    f"CREATE TRIGGER appointment_device_holds_update AFTER UPDATE OF {WATCHED} ON treatments_appointment "
    f"{SQLITE_BODY}",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS appointment_device_holds_update",
    "DROP TRIGGER IF EXISTS appointment_device_holds_insert",
]
COPY_EXISTING = """
INSERT INTO treatments_devicehold (appointment_id, device_id, blocked_start, blocked_end)
SELECT id, device_id, blocked_start, blocked_end FROM treatments_appointment
WHERE device_id IS NOT NULL AND status NOT IN ('cancelled', 'noshow', 'entered-in-error', 'waitlist')
"""


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": POSTGRESQL_FORWARD, "sqlite": SQLITE_FORWARD}.get(vendor)
    if statements is None:
        raise NotImplementedError(f"Device holds need triggers written for {vendor}.")
    schema_editor.execute(COPY_EXISTING)
    for statement in statements:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRESQL_BACKWARD, "sqlite": SQLITE_BACKWARD}.get(vendor, []):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0004_constraint_messages"),
        ("clinic", "0006_outbox_address_refused"),
        ("treatments", "0011_session_addendum"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DeviceHold",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("blocked_start", models.DateTimeField()),
                ("blocked_end", models.DateTimeField()),
            ],
        ),
        migrations.AddField(
            model_name="appointment",
            name="second_device",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="second_device_appointments",
                to="clinic.device",
            ),
        ),
        migrations.AddField(
            model_name="service",
            name="second_device_kind",
            field=models.CharField(
                blank=True,
                choices=[
                    ("roller", "Dermaroller"),
                    ("stamp", "Derma stamp"),
                    ("pen", "Microneedling pen"),
                    ("rf_pen", "RF microneedling"),
                    ("microcurrent_unit", "Microcurrent unit"),
                    ("electroporation", "Electroporation (needle-free meso)"),
                    ("injector", "Mesotherapy injector"),
                ],
                help_text="A second device the service uses in the same visit, e.g. a microcurrent unit in a combined facial. It is booked with the first, so neither can be double-booked.",
                max_length=30,
            ),
        ),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("second_device__isnull", True),
                    models.Q(
                        ("device__isnull", False),
                        models.Q(("second_device", models.F("device")), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="appointment_second_device_is_another",
                violation_error_message="A visit's second device is another device than its first.",
            ),
        ),
        migrations.AddConstraint(
            model_name="service",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("second_device_kind", ""),
                    models.Q(
                        models.Q(("device_kind", ""), _negated=True),
                        models.Q(("second_device_kind", models.F("device_kind")), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="service_second_device_of_another_kind",
                violation_error_message="A second device is of another kind than the first, and the first is chosen first.",
            ),
        ),
        migrations.AddField(
            model_name="devicehold",
            name="appointment",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="device_holds",
                to="treatments.appointment",
            ),
        ),
        migrations.AddField(
            model_name="devicehold",
            name="device",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="holds", to="clinic.device"
            ),
        ),
        migrations.AddConstraint(
            model_name="devicehold",
            constraint=models.UniqueConstraint(
                fields=("appointment", "device"), name="device_hold_once_per_visit"
            ),
        ),
        migrations.RunPython(forward, backward),
    ]
