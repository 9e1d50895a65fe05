"""A signed consent and a consent withdrawal stay unchangeable, but for one change: a merge of two records
of one client moves them to the record kept, and changes nothing else in them.

The database lets an UPDATE through only when the row's client changes to the record a `ClientMerge`
row says the old one became, and every other column stays as it was; anything else is refused as
before. (`refuse_updates_but_a_merge` is also used by the treatments layer for signed-off sessions.)
A later migration that rebuilds one of these tables on SQLite must make its trigger again with it.
"""

import importlib

from django.db import migrations

MERGE_MOVED_IT = (
    "EXISTS (SELECT 1 FROM clients_clientmerge m "
    "WHERE m.merged_client_id = OLD.client_id AND m.kept_id = NEW.client_id)"
)


def refuse_updates_but_a_merge(
    schema_editor, *, table, trigger, message, columns, refused_when="TRUE", moved_it=MERGE_MOVED_IT
):
    """Make the database refuse an UPDATE of `table` where `refused_when` holds, unless a merge moves
    the row: only its client_id changes, to the record the old one was merged into. `columns`: the
    table's columns (the merge changes none but client_id); `moved_it`: the SQL condition, on OLD and
    NEW, that a merge moves the row (clients 0015 adds: or an undone merge moves it back)."""
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in columns if c != "client_id")
        moved = f"NEW.client_id IS NOT OLD.client_id AND {moved_it} AND {unchanged}"
        when = "1" if refused_when == "TRUE" else refused_when
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger};")
        schema_editor.execute(
            f"CREATE TRIGGER {trigger} BEFORE UPDATE ON {table} WHEN ({when}) AND NOT ({moved}) "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END;"
        )
    elif vendor == "postgresql":
        function = f"{table}_refuse_update_but_a_merge"
        moved = (
            f"NEW.client_id IS DISTINCT FROM OLD.client_id AND {moved_it} "
            "AND (to_jsonb(NEW) - 'client_id') = (to_jsonb(OLD) - 'client_id')"
        )
        schema_editor.execute(
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$ BEGIN "
            f"IF ({refused_when}) AND NOT ({moved}) THEN "
            f"RAISE EXCEPTION '{message}' USING ERRCODE = 'integrity_constraint_violation'; "
            "END IF; RETURN NEW; END; $$ LANGUAGE plpgsql;"
        )
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table};")
        schema_editor.execute(
            f"CREATE TRIGGER {trigger} BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();"
        )
    else:
        raise NotImplementedError(f"No immutability trigger for {vendor}")


TABLES = [
    (
        "SignedConsent",
        "clients_signedconsent",
        "signed_consent_no_update",
        "a signed consent can never be changed",
    ),
    (
        "ConsentWithdrawal",
        "clients_consentwithdrawal",
        "consent_withdrawal_no_update",
        "a consent withdrawal can never be changed",
    ),
]


def forward(apps, schema_editor):
    for model, table, trigger, message in TABLES:
        columns = [f.column for f in apps.get_model("clients", model)._meta.concrete_fields]
        refuse_updates_but_a_merge(
            schema_editor, table=table, trigger=trigger, message=message, columns=columns
        )


def backward(apps, schema_editor):
    """Back to refusing every update (as 0002, 0005 and 0006 made it)."""
    refusal = importlib.import_module("clients.migrations.0005_consent_countersignature")
    for _, table, trigger, message in TABLES:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table};")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_refuse_update_but_a_merge();")
        refusal.create_refusal(schema_editor, table, trigger, message)


class Migration(migrations.Migration):
    dependencies = [("clients", "0012_client_merges_and_distinct_pairs")]

    operations = [migrations.RunPython(forward, backward)]
