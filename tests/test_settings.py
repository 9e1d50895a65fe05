"""Configuration from the environment: production refuses to start unsafe, and passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic.env import env_bool, env_int

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x7#Kq9!vR2@mZp4$Lw8^Nt6&Yb3*Hd5(Jf1)Gs0-Ue+Ci=Ao_Ply~Xr;Tq:Vn<Mk>Bj",
    "ALLOWED_HOSTS": "clinic.example.com",
    "DATABASE_URL": "sqlite:///:memory:",
}


def _manage(*args, env):
    # Drop the suite's own relaxed test defaults so the child sees production defaults.
    relaxed = {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "STATIC_MANIFEST"}
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in relaxed and not k.startswith("SECURE_") and not k.endswith("_COOKIE_SECURE")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", env={"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_deploy_reports_nothing_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_development_starts_without_a_secret_key():
    result = _manage("check", env={"DEBUG": "true"})
    assert result.returncode == 0, result.stderr


def test_a_bad_boolean_is_refused_not_guessed(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG")


def test_a_bad_number_is_refused_not_guessed(monkeypatch):
    monkeypatch.setenv("SOME_PORT", "twenty-five")
    with pytest.raises(ImproperlyConfigured, match="SOME_PORT"):
        env_int("SOME_PORT", 25)


def test_every_variable_in_env_example_is_documented_in_the_readme():
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    names = [line.split("=", 1)[0].lstrip("# ").strip() for line in example.splitlines() if "=" in line]
    assert {
        "DATABASE_URL",
        "REDIS_URL",
        "EMAIL_HOST",
        "EMAIL_PORT",
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
    } <= set(names)
    missing = [name for name in names if f"`{name}`" not in readme]
    assert missing == []


@pytest.mark.parametrize("module", ["clinic.wsgi", "clinic.asgi"])
def test_the_web_process_keeps_its_start_up_objects_out_of_the_collectors_walks(module):
    # what start-up loaded is frozen once (gc.freeze), so a full collection walks only what requests made
    probe = f"import gc, {module}; print(gc.get_freeze_count())"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, **PRODUCTION},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 10_000  # Django, the apps and their models


def test_each_celery_worker_process_freezes_its_start_up_objects():
    import gc

    from celery.signals import worker_process_init

    frozen_before = gc.get_freeze_count()
    try:
        worker_process_init.send(sender=None)
        assert gc.get_freeze_count() > max(frozen_before, 10_000)
    finally:
        gc.unfreeze()
