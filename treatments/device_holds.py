"""The triggers that keep `DeviceHold` rows, put back after any `migrate` that lost them.

Migration 0012 creates the triggers. Django rebuilds a SQLite table for many column changes (a new
table, the rows copied, the old one dropped), and the old table's triggers go with it. A later
migration that changes the appointment table on SQLite would then leave visits booked without their
device holds, silently. So after every `migrate` (Django's `post_migrate` signal, also sent when a
test database is made or flushed) `repair_device_hold_triggers` checks that both triggers exist. If
one is missing, it creates both with the SQL below, which follows the current model, and rebuilds
every hold from the appointments, in one transaction.

The migration keeps its own copy of this SQL, as migrations are frozen: it must create what its
columns allow, whatever this module says later.
"""

from django.db import connections, transaction
from django.db.migrations.recorder import MigrationRecorder

from treatments.models import INACTIVE_STATUSES

TRIGGERS = ("appointment_device_holds_insert", "appointment_device_holds_update")
# The migration that adds the columns and the table this SQL uses; before it, there is nothing to keep.
NEEDS_MIGRATION = ("treatments", "0012_second_device_and_device_holds")
WATCHED = "status, device_id, second_device_id, blocked_start, blocked_end"
# Fixed values of the model (no input), written into the SQL: a trigger cannot take parameters.
HOLDS_NOTHING = "(" + ", ".join(f"'{status}'" for status in INACTIVE_STATUSES) + ")"

POSTGRESQL = [
    f"""
    CREATE OR REPLACE FUNCTION treatments_appointment_device_holds() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM treatments_devicehold WHERE appointment_id = NEW.id;
        IF NEW.status NOT IN {HOLDS_NOTHING} THEN
            INSERT INTO treatments_devicehold (appointment_id, device_id, blocked_start, blocked_end)
            SELECT NEW.id, held.device_id, NEW.blocked_start, NEW.blocked_end
            FROM unnest(ARRAY[NEW.device_id, NEW.second_device_id]) AS held(device_id)
            WHERE held.device_id IS NOT NULL;
        END IF;
        RETURN NULL;
    END
    $$
    """,  # noqa: S608 (fixed model values, no input)
    f"DROP TRIGGER IF EXISTS {TRIGGERS[0]} ON treatments_appointment",
    f"DROP TRIGGER IF EXISTS {TRIGGERS[1]} ON treatments_appointment",
    f"CREATE TRIGGER {TRIGGERS[0]} AFTER INSERT ON treatments_appointment "
    "FOR EACH ROW EXECUTE FUNCTION treatments_appointment_device_holds()",
    f"CREATE TRIGGER {TRIGGERS[1]} AFTER UPDATE OF {WATCHED} ON treatments_appointment "
    "FOR EACH ROW EXECUTE FUNCTION treatments_appointment_device_holds()",
]
SQLITE_BODY = f"""
BEGIN
    DELETE FROM treatments_devicehold WHERE appointment_id = NEW.id;
    INSERT INTO treatments_devicehold (appointment_id, device_id, blocked_start, blocked_end)
    SELECT NEW.id, NEW.device_id, NEW.blocked_start, NEW.blocked_end
    WHERE NEW.device_id IS NOT NULL AND NEW.status NOT IN {HOLDS_NOTHING};
    INSERT INTO treatments_devicehold (appointment_id, device_id, blocked_start, blocked_end)
    SELECT NEW.id, NEW.second_device_id, NEW.blocked_start, NEW.blocked_end
    WHERE NEW.second_device_id IS NOT NULL AND NEW.status NOT IN {HOLDS_NOTHING};
END
"""  # noqa: S608 (fixed model values, no input)
SQLITE = [
    f"DROP TRIGGER IF EXISTS {TRIGGERS[0]}",
    f"DROP TRIGGER IF EXISTS {TRIGGERS[1]}",
    f"CREATE TRIGGER {TRIGGERS[0]} AFTER INSERT ON treatments_appointment {SQLITE_BODY}",
    f"CREATE TRIGGER {TRIGGERS[1]} AFTER UPDATE OF {WATCHED} ON treatments_appointment {SQLITE_BODY}",
]
REBUILD = [
    "DELETE FROM treatments_devicehold",
    *(
        f"""
        INSERT INTO treatments_devicehold (appointment_id, device_id, blocked_start, blocked_end)
        SELECT id, {column}, blocked_start, blocked_end FROM treatments_appointment
        WHERE {column} IS NOT NULL AND status NOT IN {HOLDS_NOTHING}
        """  # noqa: S608 (fixed column names and model values, no input)
        for column in ("device_id", "second_device_id")
    ),
]
TRIGGERS_PRESENT = {
    "postgresql": "SELECT tgname FROM pg_trigger WHERE tgrelid = 'treatments_appointment'::regclass "
    "AND NOT tgisinternal",
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'treatments_appointment'",
}


def appointment_triggers(connection) -> set[str]:
    """The names of the triggers on the appointment table now (this module's and `schedule_guard`'s)."""
    with connection.cursor() as cursor:
        cursor.execute(TRIGGERS_PRESENT[connection.vendor])
        return {name for (name,) in cursor.fetchall()}


def device_hold_triggers_present(connection) -> bool:
    return set(TRIGGERS) <= appointment_triggers(connection)


def repair_device_hold_triggers(*, using: str = "default", **_signal) -> bool:
    """Create the triggers and rebuild every hold if a trigger is missing; return whether it was.

    Connected to `post_migrate` (`TreatmentsConfig.ready`), so it runs after every `migrate`.
    """
    connection = connections[using]
    if connection.vendor not in TRIGGERS_PRESENT:
        raise NotImplementedError(f"Device holds need triggers written for {connection.vendor}.")
    if NEEDS_MIGRATION not in MigrationRecorder(connection).applied_migrations():
        return False
    if device_hold_triggers_present(connection):
        return False
    statements = {"postgresql": POSTGRESQL, "sqlite": SQLITE}[connection.vendor]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for statement in [*statements, *REBUILD]:
            cursor.execute(statement)
    return True
