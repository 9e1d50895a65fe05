"""A merge of two records can be undone (two people taken for one): the merge keeps which rows moved and
what the kept record said, and an undone merge lets the database move them back.

A signed consent and a consent withdrawal (and, in treatments 0021, a signed-off session) still refuse
every update but a move of their client: to the record a merge kept, as 0013 made it, or now back from
it to the record an undone merge restored. Nothing else in them ever changes.
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

_0013 = importlib.import_module("clients.migrations.0013_immutable_rows_follow_a_merge")

# A merge moved the row to the record kept, or an undone merge moves it back to the one restored.
MERGE_OR_UNDO_MOVED_IT = (
    "EXISTS (SELECT 1 FROM clients_clientmerge m WHERE "
    "(m.undone_at IS NULL AND m.merged_client_id = OLD.client_id AND m.kept_id = NEW.client_id) OR "
    "(m.undone_at IS NOT NULL AND m.kept_id = OLD.client_id AND m.merged_client_id = NEW.client_id))"
)


def _triggers(apps, schema_editor, moved_it):
    for model, table, trigger, message in _0013.TABLES:
        columns = [f.column for f in apps.get_model("clients", model)._meta.concrete_fields]
        _0013.refuse_updates_but_a_merge(
            schema_editor, table=table, trigger=trigger, message=message, columns=columns, moved_it=moved_it
        )


# SQLite rebuilds clients_clientmerge for the new columns and constraints, and refuses to rename the
# rebuilt table while a trigger (these, and treatments' signed-off session's) reads it: they are set
# aside, with their SQL, for the rebuild and made again after it.
_set_aside: list[str] = []


def _set_triggers_aside(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%clients_clientmerge%'"
        )
        triggers = cursor.fetchall()
    for name, sql in triggers:
        _set_aside.append(sql)
        schema_editor.execute(f"DROP TRIGGER {name};")


def _triggers_back(schema_editor):
    while _set_aside:
        schema_editor.execute(_set_aside.pop())


def forward(apps, schema_editor):
    _triggers_back(schema_editor)
    _triggers(apps, schema_editor, MERGE_OR_UNDO_MOVED_IT)


def backward(apps, schema_editor):
    _triggers_back(schema_editor)
    _triggers(apps, schema_editor, _0013.MERGE_MOVED_IT)


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0014_health_data_access"),
        ("clinic", "0022_staff_leaving"),
    ]

    operations = [
        migrations.RunPython(_set_triggers_aside, backward),
        migrations.RemoveConstraint(
            model_name="clientmerge",
            name="client_merged_once",
        ),
        migrations.AddField(
            model_name="clientmerge",
            name="cancelled_messages",
            field=models.JSONField(
                default=list,
                help_text="The emails the merge cancelled (the client unsubscribed on one record).",
            ),
        ),
        migrations.AddField(
            model_name="clientmerge",
            name="kept_details",
            field=models.JSONField(
                default=dict, help_text="The kept record's id, and its details before and after the merge."
            ),
        ),
        migrations.AddField(
            model_name="clientmerge",
            name="moved_rows",
            field=models.JSONField(
                default=dict, help_text='The rows that moved, to move back: {"app.Model.field": [ids]}.'
            ),
        ),
        migrations.AddField(
            model_name="clientmerge",
            name="undone_at",
            field=models.DateTimeField(
                blank=True, help_text="Set when the two records were found to be two people.", null=True
            ),
        ),
        migrations.AddField(
            model_name="clientmerge",
            name="undone_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="clinic.staffmember",
            ),
        ),
        migrations.AddConstraint(
            model_name="clientmerge",
            constraint=models.UniqueConstraint(
                condition=models.Q(("undone_at__isnull", True)),
                fields=("merged_client_id",),
                name="client_merged_once",
            ),
        ),
        migrations.AddConstraint(
            model_name="clientmerge",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("undone_at__isnull", True), ("undone_at__gte", models.F("merged_at")), _connector="OR"
                ),
                name="client_merge_undone_after_it",
            ),
        ),
        migrations.RunPython(forward, _set_triggers_aside),
    ]
