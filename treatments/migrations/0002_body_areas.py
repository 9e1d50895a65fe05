"""Seed the catalogue of treatable areas, with SNOMED CT body-site codes where DOMAIN.md gives one."""

from django.db import migrations

AREAS = [
    # code, name, SNOMED CT body site, body (not face)
    ("face", "Full face", "89545001", False),
    ("forehead", "Forehead", "52795006", False),
    ("cheeks", "Cheeks", "60819002", False),
    ("nose", "Nose", "45206002", False),
    ("periorbital", "Periorbital / under-eye", "", False),
    ("perioral", "Perioral / upper lip", "", False),
    ("chin-jawline", "Chin and jawline", "30291003", False),
    ("brow", "Frontalis / brow", "", False),
    ("neck", "Neck", "45048000", False),
    ("decolletage", "Décolletage", "", True),
    ("scalp", "Scalp", "41695006", False),
    ("acne-scars", "Acne scars (face)", "", False),
    ("stretch-marks", "Stretch marks", "", True),
    ("buttocks", "Buttocks / cellulite", "46862004", True),
    ("thighs", "Thighs", "68367000", True),
    ("abdomen", "Abdomen", "818983003", True),
    ("submental", "Under-chin", "", False),
]


def forward(apps, schema_editor):
    BodyArea = apps.get_model("treatments", "BodyArea")
    for code, name, snomed, is_body in AREAS:
        BodyArea.objects.update_or_create(
            code=code, defaults={"name": name, "snomed_code": snomed, "is_body": is_body}
        )


def backward(apps, schema_editor):
    apps.get_model("treatments", "BodyArea").objects.filter(code__in=[a[0] for a in AREAS]).delete()


class Migration(migrations.Migration):
    dependencies = [("treatments", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
