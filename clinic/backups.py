"""A copy of everything the clinic holds, taken while it runs: the database and the uploaded files.

`python manage.py backup [--to DIR] [--keep N]` (`make backup`) writes one folder
`clinic-backup-<UTC time>/` holding
- the database: `database.sqlite3` (SQLite's online backup API: a consistent copy while the app keeps
  writing) or `database.dump` (PostgreSQL's `pg_dump --format=custom`, restored with `pg_restore`);
- `media.tar.gz`: the photos and every other uploaded file;
- `manifest.json`: when, which database, the latest migration of each app, how many rows each table
  holds, and each file's SHA-256, so a restore can be checked before it is trusted.
The folder is written under another name and renamed once complete, so a backup cut short (a full
disk, a crash) never looks whole; then the oldest beyond `keep` are removed. Restoring is in the
README ("Backups"). Health records are in it: keep backups where the database is kept, encrypted.
"""

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from clinic.errors import ClinicError

PREFIX = "clinic-backup-"
KEEP_DEFAULT = 14


def default_folder() -> Path:
    return Path(settings.VAR_DIR) / "backups"


def backup_write(to: Path | None = None, *, keep: int = KEEP_DEFAULT, now: dt.datetime | None = None) -> Path:
    """Write a backup into `to` (default `var/backups`) and keep the `keep` newest; return its folder.
    Raise ClinicError, in words, when it cannot be taken (no `pg_dump` for PostgreSQL, say)."""
    if keep < 1:
        raise ClinicError("Keep at least one backup.")
    to = Path(to or default_folder())
    stamp = (now or timezone.now()).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    final, partial = to / f"{PREFIX}{stamp}", to / f".partial-{PREFIX}{stamp}"
    if final.exists():
        raise ClinicError(f"A backup of this second is there already: {final}")
    partial.mkdir(parents=True)
    try:
        database = _database_copy(partial)
        media = partial / "media.tar.gz"
        with tarfile.open(media, "w:gz") as archive:
            if Path(settings.MEDIA_ROOT).is_dir():
                archive.add(settings.MEDIA_ROOT, arcname="media")
        manifest = {
            "taken_at": (now or timezone.now()).isoformat(),
            "database": connection.vendor,
            "migrations": _latest_migrations(),
            "counts": _counts(),
            "files": {path.name: _sha256(path) for path in (database, media)},
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    for old in sorted(path for path in to.iterdir() if path.is_dir() and path.name.startswith(PREFIX))[
        :-keep
    ]:
        shutil.rmtree(old)
    return final


def _database_copy(folder: Path) -> Path:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        copy = folder / "database.sqlite3"
        source = sqlite3.connect(db["NAME"])
        target = sqlite3.connect(copy)
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
        return copy
    if connection.vendor == "postgresql":
        dump = folder / "database.dump"
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise ClinicError(
                "pg_dump is not installed: install PostgreSQL's client tools (postgresql-client)."
            )
        command = [pg_dump, "--format=custom", "--no-owner", f"--file={dump}", "--dbname", db["NAME"]]
        for option, value in (
            ("--host", db.get("HOST")),
            ("--port", db.get("PORT")),
            ("--username", db.get("USER")),
        ):
            if value:
                command += [option, str(value)]
        env = {**os.environ, **({"PGPASSWORD": db["PASSWORD"]} if db.get("PASSWORD") else {})}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise ClinicError(f"pg_dump failed: {done.stderr.strip() or done.returncode}")
        return dump
    raise ClinicError(f"Backups know SQLite and PostgreSQL, not {connection.vendor}.")


def _latest_migrations() -> dict[str, str]:
    latest: dict[str, str] = {}
    for app, name in (
        MigrationRecorder(connection).migration_qs.order_by("app", "name").values_list("app", "name")
    ):
        latest[app] = name
    return latest


def _counts() -> dict[str, int]:
    """Every table's rows, by model ("clients.client"): what a restored database must hold too."""
    return {model._meta.label_lower: model._base_manager.count() for model in apps.get_models()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
