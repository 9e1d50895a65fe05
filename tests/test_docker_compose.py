"""docker-compose.yml describes the whole stack with real commands (Docker itself cannot run here)."""

import importlib
import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _command(name) -> list[str]:
    command = SERVICES[name]["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_it_runs_the_whole_stack():
    assert {"postgres", "redis", "web", "worker", "beat", "mail"} <= set(SERVICES)


def test_web_worker_and_beat_share_one_image():
    images = {SERVICES[name].get("image") for name in ("web", "worker", "beat")}
    assert len(images) == 1 and None not in images
    assert SERVICES["web"]["build"]["dockerfile"] == "Dockerfile"
    assert (ROOT / "Dockerfile").exists()


def test_web_runs_gunicorn_on_the_real_wsgi_module():
    command = _command("web")
    assert command[0] == "gunicorn"
    target = next(arg for arg in command if re.fullmatch(r"[\w.]+:\w+", arg))
    module_name, attribute = target.split(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute))


def test_worker_and_beat_run_the_clinic_celery_app():
    from clinic.celery import app

    for name, role in (("worker", "worker"), ("beat", "beat")):
        command = _command(name)
        assert command[:3] == ["celery", "-A", "clinic"], command
        assert role in command
    assert app.main == "clinic"


def test_the_app_talks_to_the_composed_postgres_redis_and_mail():
    env = SERVICES["web"]["environment"]
    assert env["DATABASE_URL"].startswith("postgres://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379")
    assert env["EMAIL_HOST"] == "mail"
    mail_ports = " ".join(str(p) for p in SERVICES["mail"]["ports"])
    assert str(env["EMAIL_PORT"]) in mail_ports or str(env["EMAIL_PORT"]) == "1025"
    for name in ("worker", "beat"):
        assert SERVICES[name]["environment"] == env


def test_migrations_run_before_web_starts():
    assert _command("migrate") == ["python", "manage.py", "migrate", "--noinput"]
    assert SERVICES["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_dockerfile_installs_from_the_lock_and_collects_static_files():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "constraints.txt" in dockerfile
    assert "collectstatic" in dockerfile
