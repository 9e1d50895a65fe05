"""A signed-off treatment session stays unchangeable, but for a move of its client by a merge (0016) or
now back by an undone merge (clients 0015): nothing else in it ever changes."""

import importlib

from django.db import migrations

_clients_0013 = importlib.import_module("clients.migrations.0013_immutable_rows_follow_a_merge")
_clients_0015 = importlib.import_module("clients.migrations.0015_merge_can_be_undone")
_0010 = importlib.import_module("treatments.migrations.0010_signed_off_record_is_read_only")

TABLE, TRIGGER = "treatments_treatmentsession", "treatment_session_signed_no_update"


def _trigger(apps, schema_editor, moved_it):
    columns = [f.column for f in apps.get_model("treatments", "TreatmentSession")._meta.concrete_fields]
    _clients_0013.refuse_updates_but_a_merge(
        schema_editor,
        table=TABLE,
        trigger=TRIGGER,
        message=_0010.MESSAGE,
        columns=columns,
        refused_when="OLD.signed_off_at IS NOT NULL",
        moved_it=moved_it,
    )


def forward(apps, schema_editor):
    _trigger(apps, schema_editor, _clients_0015.MERGE_OR_UNDO_MOVED_IT)


def backward(apps, schema_editor):
    _trigger(apps, schema_editor, _clients_0013.MERGE_MOVED_IT)


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0020_visit_feedback"),
        ("clients", "0015_merge_can_be_undone"),
    ]

    operations = [migrations.RunPython(forward, backward)]
