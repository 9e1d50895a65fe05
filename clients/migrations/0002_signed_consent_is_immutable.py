"""Make the database itself refuse any UPDATE of a signed consent, on SQLite and PostgreSQL."""

from django.db import migrations

SQLITE_FORWARD = """
CREATE TRIGGER signed_consent_no_update
BEFORE UPDATE ON clients_signedconsent
BEGIN
    SELECT RAISE(ABORT, 'a signed consent can never be changed');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS signed_consent_no_update;"

POSTGRES_FORWARD = """
CREATE OR REPLACE FUNCTION clients_signed_consent_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a signed consent can never be changed' USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER signed_consent_no_update
BEFORE UPDATE ON clients_signedconsent
FOR EACH ROW EXECUTE FUNCTION clients_signed_consent_refuse_update();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS signed_consent_no_update ON clients_signedconsent;
DROP FUNCTION IF EXISTS clients_signed_consent_refuse_update();
"""


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)
    elif vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD)
    else:
        raise NotImplementedError(f"No immutability trigger for {vendor}")


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    schema_editor.execute(SQLITE_BACKWARD if vendor == "sqlite" else POSTGRES_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("clients", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
