"""Make the database itself refuse changes to a signed-off treatment record, on SQLite and PostgreSQL.

Once a session is signed off, its row cannot be updated, and no treated area can be added to it or
changed in it. The services refuse first, in words (taking an area out as well); this is the backstop.
Deletion is left to the services and the read-only admin: `manage.py flush` on SQLite deletes rows,
and must still empty a database.
"""

from django.db import migrations

RECORD_TABLES = ("microneedlingrecord", "microcurrentrecord", "mesotherapyrecord")
MESSAGE = "a signed-off treatment record can never be changed"
SESSION_IS_SIGNED = (
    "(SELECT signed_off_at FROM treatments_treatmentsession WHERE id = {row}.session_id) IS NOT NULL"
)


def sqlite_forward() -> list[str]:
    statements = [
        f"""CREATE TRIGGER treatment_session_signed_no_update BEFORE UPDATE ON treatments_treatmentsession
        WHEN OLD.signed_off_at IS NOT NULL
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"""
    ]
    for table in RECORD_TABLES:
        for event, rows in (("INSERT", ("NEW",)), ("UPDATE", ("OLD", "NEW"))):
            when = " OR ".join(SESSION_IS_SIGNED.format(row=row) for row in rows)
            statements.append(
                f"""CREATE TRIGGER {table}_signed_no_{event.lower()} BEFORE {event} ON treatments_{table}
                WHEN {when}
                BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"""
            )
    return statements


def sqlite_backward() -> list[str]:
    names = ["treatment_session_signed_no_update"] + [
        f"{table}_signed_no_{event}" for table in RECORD_TABLES for event in ("insert", "update")
    ]
    return [f"DROP TRIGGER IF EXISTS {name};" for name in names]


POSTGRES_FUNCTIONS = """
CREATE OR REPLACE FUNCTION treatments_signed_session_refuse_update() RETURNS trigger AS $$
BEGIN
    IF OLD.signed_off_at IS NOT NULL THEN
        RAISE EXCEPTION 'a signed-off treatment record can never be changed' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION treatments_signed_record_refuse_change() RETURNS trigger AS $$
BEGIN
    IF (TG_OP = 'UPDATE' AND EXISTS (
            SELECT 1 FROM treatments_treatmentsession WHERE id = OLD.session_id AND signed_off_at IS NOT NULL))
       OR (EXISTS (
            SELECT 1 FROM treatments_treatmentsession WHERE id = NEW.session_id AND signed_off_at IS NOT NULL))
    THEN
        RAISE EXCEPTION 'a signed-off treatment record can never be changed' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def postgres_forward() -> list[str]:
    statements = [
        POSTGRES_FUNCTIONS,
        """CREATE TRIGGER treatment_session_signed_no_update BEFORE UPDATE ON treatments_treatmentsession
        FOR EACH ROW EXECUTE FUNCTION treatments_signed_session_refuse_update();""",
    ]
    for table in RECORD_TABLES:
        statements.append(
            f"""CREATE TRIGGER {table}_signed_no_change BEFORE INSERT OR UPDATE ON treatments_{table}
            FOR EACH ROW EXECUTE FUNCTION treatments_signed_record_refuse_change();"""
        )
    return statements


def postgres_backward() -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS treatment_session_signed_no_update ON treatments_treatmentsession;",
        *(
            f"DROP TRIGGER IF EXISTS {table}_signed_no_change ON treatments_{table};"
            for table in RECORD_TABLES
        ),
        "DROP FUNCTION IF EXISTS treatments_signed_session_refuse_update();",
        "DROP FUNCTION IF EXISTS treatments_signed_record_refuse_change();",
    ]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        statements = sqlite_forward()
    elif vendor == "postgresql":
        statements = postgres_forward()
    else:
        raise NotImplementedError(f"No read-only trigger for {vendor}")
    for statement in statements:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in sqlite_backward() if vendor == "sqlite" else postgres_backward():
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("treatments", "0009_record_outside_protocol_reason")]
    operations = [migrations.RunPython(forward, backward)]
