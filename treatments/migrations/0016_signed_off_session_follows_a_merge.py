"""A signed-off treatment session stays unchangeable, but for a merge of two records of one client: the
merge moves it to the record kept and changes nothing else (see clients 0013). Its treated areas and
addenda refer to the session, not the client, and are not touched."""

import importlib

from django.db import migrations

_clients_0013 = importlib.import_module("clients.migrations.0013_immutable_rows_follow_a_merge")
_0010 = importlib.import_module("treatments.migrations.0010_signed_off_record_is_read_only")

TABLE, TRIGGER = "treatments_treatmentsession", "treatment_session_signed_no_update"


def forward(apps, schema_editor):
    columns = [f.column for f in apps.get_model("treatments", "TreatmentSession")._meta.concrete_fields]
    _clients_0013.refuse_updates_but_a_merge(
        schema_editor,
        table=TABLE,
        trigger=TRIGGER,
        message=_0010.MESSAGE,
        columns=columns,
        refused_when="OLD.signed_off_at IS NOT NULL",
    )


def backward(apps, schema_editor):
    """Back to 0010's trigger, which refuses every update of a signed-off session."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE};")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {TABLE}_refuse_update_but_a_merge();")
        schema_editor.execute(
            f"CREATE TRIGGER {TRIGGER} BEFORE UPDATE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION treatments_signed_session_refuse_update();"
        )
    else:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER};")
        schema_editor.execute(_0010.sqlite_forward()[0])


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0015_waitlist_visit_to_move"),
        ("clients", "0013_immutable_rows_follow_a_merge"),
    ]

    operations = [migrations.RunPython(forward, backward)]
