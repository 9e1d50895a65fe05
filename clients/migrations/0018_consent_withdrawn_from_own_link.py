"""A client withdraws a treatment consent from their own link: the withdrawal records itself, with no
staff member, and says so (`told` = "own_link")."""

import importlib

import django.db.models.deletion
from django.db import migrations, models

# SQLite rebuilds clients_consentwithdrawal for the new column and constraints, and its trigger goes with
# it: made again, as clients 0015 made it (refuse every update but a merge's or an undone merge's move).
_0015 = importlib.import_module("clients.migrations.0015_merge_can_be_undone")


def triggers_again(apps, schema_editor):
    _0015._triggers(apps, schema_editor, _0015.MERGE_OR_UNDO_MOVED_IT)


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0017_client_erased"),
        ("clinic", "0024_public_writes"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="consentwithdrawal",
            name="withdrawal_channel_known",
        ),
        migrations.AlterField(
            model_name="consentwithdrawal",
            name="recorded_by",
            field=models.ForeignKey(
                blank=True,
                help_text="Empty when the client withdrew it themselves, from their own link.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="clinic.staffmember",
            ),
        ),
        migrations.AlterField(
            model_name="consentwithdrawal",
            name="told",
            field=models.CharField(
                blank=True,
                choices=[
                    ("in_person", "In person"),
                    ("phone", "By phone"),
                    ("email", "By email"),
                    ("letter", "In writing"),
                    ("own_link", "From their own link"),
                ],
                help_text="When the client withdrew it; empty when the practitioner asks again.",
                max_length=20,
                verbose_name="How the client said so",
            ),
        ),
        migrations.AddConstraint(
            model_name="consentwithdrawal",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("because", "withdrawn"),
                        ("told__in", ["in_person", "phone", "email", "letter", "own_link"]),
                    ),
                    models.Q(("because", "plan_changed"), ("told", "")),
                    _connector="OR",
                ),
                name="withdrawal_channel_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="consentwithdrawal",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("recorded_by__isnull", False),
                        ("told__in", ["in_person", "phone", "email", "letter", ""]),
                    ),
                    models.Q(("recorded_by__isnull", True), ("told", "own_link")),
                    _connector="OR",
                ),
                name="withdrawal_recorded_by_staff_or_client",
            ),
        ),
        migrations.RunPython(triggers_again, triggers_again),
    ]
