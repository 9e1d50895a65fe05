"""`manage.py backup`: the database copied while the app runs (SQLite's backup API, or pg_dump on
PostgreSQL), the photos archived, a manifest to check a restore against, the newest kept, and a
backup cut short leaving nothing that looks whole."""

import datetime as dt
import hashlib
import io
import json
import shutil
import sqlite3
import subprocess
import tarfile

import pytest
from django.core.management import call_command
from django.db import connection

from clients.models import Client
from clinic.backups import backup_write
from tests.booking_world import build_world

pytestmark = pytest.mark.django_db(transaction=True)  # committed, as the copy reads it


def at(hour):
    return dt.datetime(2026, 12, 1, hour, tzinfo=dt.UTC)


def test_a_backup_holds_the_database_and_the_photos_and_the_newest_are_kept(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    (tmp_path / "media" / "session-photos").mkdir(parents=True)
    (tmp_path / "media" / "session-photos" / "olivia.jpg").write_bytes(b"\xff\xd8\xff photo")
    world = build_world()
    world.client(first_name="Olivia", last_name="Smith")
    backups = tmp_path / "backups"

    folder = backup_write(backups, keep=2, now=at(2))
    assert folder.name == "clinic-backup-20261201T020000Z"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["database"] == connection.vendor
    assert manifest["counts"]["clients.client"] == Client.objects.count() == 1
    assert manifest["migrations"]["clients"] == "0022_client_import_visits"
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    with tarfile.open(folder / "media.tar.gz") as archive:
        assert archive.extractfile("media/session-photos/olivia.jpg").read() == b"\xff\xd8\xff photo"
    if connection.vendor == "sqlite":
        copy = sqlite3.connect(folder / "database.sqlite3")
        assert copy.execute("SELECT first_name, last_name FROM clients_client").fetchall() == [
            ("Olivia", "Smith")
        ]
        copy.close()
    else:
        listed = subprocess.run(
            ["pg_restore", "--list", str(folder / "database.dump")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "TABLE DATA public clients_client" in listed

    backup_write(backups, keep=2, now=at(3))
    call_command("backup", "--to", str(backups), "--keep", "2", stdout=io.StringIO())
    kept = sorted(path.name for path in backups.iterdir())
    assert len(kept) == 2 and "clinic-backup-20261201T030000Z" in kept and folder.name not in kept


def test_a_backup_cut_short_leaves_nothing_that_looks_whole(tmp_path, settings, monkeypatch):
    settings.MEDIA_ROOT = tmp_path / "media"

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tarfile, "open", full_disk)
    with pytest.raises(OSError, match="No space left"):
        backup_write(tmp_path / "backups", now=at(4))
    assert list((tmp_path / "backups").iterdir()) == []


def test_postgresql_needs_pg_dump(tmp_path, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump backs up PostgreSQL only (this run is on SQLite)")
    from clinic.errors import ClinicError

    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ClinicError, match="pg_dump is not installed"):
        backup_write(tmp_path / "backups", now=at(5))
    assert list((tmp_path / "backups").iterdir()) == []
