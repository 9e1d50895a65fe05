"""The database refuses a visit booked or moved into its practitioner's time off, or into a time its
room or one of its devices is out of service, whatever writes it.

`treatments.booking` checks both before it writes, in words; these triggers are the invariant under
that check, as the exclusion constraints are under the check for double bookings: a write that
skips the service, or a time off recorded between the check and the write, is refused by the
database, and the booking turns the refusal into the same words (`booking._conflict_from_integrity_error`).

Only what a booking decides is checked: a visit inserted active, or an active visit whose times,
practitioner, room or device change, or one made active again. A visit booked before its
practitioner's time off was recorded (it is then flagged to move) can still be checked in, noted,
completed or cancelled.

Migration 0022 creates the triggers with `create_schedule_guard`: the SQL follows the current model,
so a later migration that renames a column this SQL reads must drop the triggers before and call
`create_schedule_guard` after it. Django rebuilds a SQLite table for many column changes and the
triggers go with it, so after every `migrate` `repair_schedule_guard` puts them back if one is
missing, as `device_holds` does for its own.
"""

from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

from treatments.device_holds import appointment_triggers
from treatments.models import INACTIVE_STATUSES

# The names the database gives its refusals; `booking` matches them to say why in words.
PRACTITIONER_OFF = "appointment_practitioner_off"
ROOM_OUT_OF_SERVICE = "appointment_room_out_of_service"
DEVICE_OUT_OF_SERVICE = "appointment_device_out_of_service"

TRIGGERS = ("appointment_schedule_guard_insert", "appointment_schedule_guard_update")
NEEDS_MIGRATION = ("treatments", "0022_visits_never_booked_into_time_off")
# Fixed values of the model (no input), written into the SQL: a trigger cannot take parameters.
INACTIVE = "(" + ", ".join(f"'{status}'" for status in INACTIVE_STATUSES) + ")"
WATCHED = "status, practitioner_id, room_id, device_id, second_device_id, blocked_start, blocked_end"

OVERLAPS = 'start < NEW.blocked_end AND "end" > NEW.blocked_start'
OFF = f"EXISTS (SELECT 1 FROM clinic_timeoff WHERE staff_member_id = NEW.practitioner_id AND {OVERLAPS})"  # noqa: S608


def _out_of_service(what: str, column: str) -> str:
    """The SQL naming `NEW.<column>` out of service, for a room (`room_id`) or a device."""
    return f"EXISTS (SELECT 1 FROM clinic_outofservice WHERE {what} = NEW.{column} AND {OVERLAPS})"  # noqa: S608


# What a change checks: (the refusal, the columns whose change asks for it, the condition refused).
CHECKS = [
    (PRACTITIONER_OFF, ("practitioner_id",), OFF),
    (ROOM_OUT_OF_SERVICE, ("room_id",), _out_of_service("room_id", "room_id")),
    (DEVICE_OUT_OF_SERVICE, ("device_id",), _out_of_service("device_id", "device_id")),
    (DEVICE_OUT_OF_SERVICE, ("second_device_id",), _out_of_service("device_id", "second_device_id")),
]
MOVED = "NEW.blocked_start IS NOT OLD.blocked_start OR NEW.blocked_end IS NOT OLD.blocked_end"


def _changed(columns, *, distinct: str) -> str:
    """SQL: the visit was made active again, moved, or one of `columns` changed."""
    return " OR ".join(
        [f"OLD.status IN {INACTIVE}", MOVED.replace("IS NOT", distinct)]
        + [f"NEW.{c} {distinct} OLD.{c}" for c in columns]
    )


def postgresql() -> list[str]:
    checks = "\n".join(
        f"""
        IF (TG_OP = 'INSERT' OR {_changed(columns, distinct="IS DISTINCT FROM")}) AND {condition} THEN
            RAISE EXCEPTION '{refusal}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;"""
        for refusal, columns, condition in CHECKS
    )
    return [
        f"""
        CREATE OR REPLACE FUNCTION treatments_appointment_schedule_guard() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.status IN {INACTIVE} THEN
                RETURN NEW;
            END IF;
            {checks}
            RETURN NEW;
        END
        $$
        """,  # noqa: S608 (fixed model values, no input)
        f"DROP TRIGGER IF EXISTS {TRIGGERS[0]} ON treatments_appointment",
        f"DROP TRIGGER IF EXISTS {TRIGGERS[1]} ON treatments_appointment",
        f"CREATE TRIGGER {TRIGGERS[0]} BEFORE INSERT ON treatments_appointment "
        "FOR EACH ROW EXECUTE FUNCTION treatments_appointment_schedule_guard()",
        f"CREATE TRIGGER {TRIGGERS[1]} BEFORE UPDATE OF {WATCHED} ON treatments_appointment "
        "FOR EACH ROW EXECUTE FUNCTION treatments_appointment_schedule_guard()",
    ]


def sqlite() -> list[str]:
    on_insert = "\n".join(
        f"SELECT RAISE(ABORT, '{refusal}') WHERE {condition};" for refusal, _, condition in CHECKS
    )
    on_update = "\n".join(
        f"SELECT RAISE(ABORT, '{refusal}') WHERE ({_changed(columns, distinct='IS NOT')}) AND {condition};"
        for refusal, columns, condition in CHECKS
    )
    return [
        f"DROP TRIGGER IF EXISTS {TRIGGERS[0]}",
        f"DROP TRIGGER IF EXISTS {TRIGGERS[1]}",
        f"CREATE TRIGGER {TRIGGERS[0]} BEFORE INSERT ON treatments_appointment "
        f"WHEN NEW.status NOT IN {INACTIVE} BEGIN {on_insert} END",
        f"CREATE TRIGGER {TRIGGERS[1]} BEFORE UPDATE OF {WATCHED} ON treatments_appointment "
        f"WHEN NEW.status NOT IN {INACTIVE} BEGIN {on_update} END",
    ]


def create_schedule_guard(connection) -> None:
    statements = {"postgresql": postgresql, "sqlite": sqlite}[connection.vendor]()
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def schedule_guard_present(connection) -> bool:
    return set(TRIGGERS) <= appointment_triggers(connection)


def repair_schedule_guard(*, using: str = "default", **_signal) -> bool:
    """Create the triggers if one is missing (a rebuilt SQLite table); return whether it was.

    Connected to `post_migrate` (`TreatmentsConfig.ready`), so it runs after every `migrate`.
    """
    connection = connections[using]
    if NEEDS_MIGRATION not in MigrationRecorder(connection).applied_migrations():
        return False
    if schedule_guard_present(connection):
        return False
    create_schedule_guard(connection)
    return True
