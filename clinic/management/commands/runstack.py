"""Run web, Celery worker and Celery beat together in the foreground; Ctrl-C stops all three."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand

COLOURS = {"web": "\033[36m", "worker": "\033[35m", "beat": "\033[33m"}
RESET = "\033[0m"


class Command(BaseCommand):
    help = "Start web + Celery worker + beat, print the URL and demo logins, stop all on Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, host, port, **options):
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "clinic"]
        schedule = str(settings.VAR_DIR / "celerybeat-schedule")
        commands = {
            "web": [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
            # Four processes on two cores: delivery mostly waits on SMTP and the database.
            "worker": [*celery, "worker", "-l", "info", "--concurrency", "4", "-n", "worker@%h"],
            "beat": [*celery, "beat", "-l", "info", "-s", schedule],
        }
        processes = {
            name: subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
            )
            for name, command in commands.items()
        }
        for name, process in processes.items():
            threading.Thread(target=self._relay, args=(name, process), daemon=True).start()

        stopping = threading.Event()

        def stop(*_):
            stopping.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        if self._wait_for_port(host, port, processes["web"]):
            self._banner(host, port)
        while not stopping.is_set():
            exited = [name for name, p in processes.items() if p.poll() is not None]
            if exited:
                self.stderr.write(f"{', '.join(exited)} stopped; stopping the others.")
                break
            time.sleep(0.5)
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.stdout.write("Stopped web, worker and beat.")

    def _relay(self, name, process):
        colour = COLOURS.get(name, "") if sys.stdout.isatty() else ""
        reset = RESET if colour else ""
        for line in process.stdout:
            sys.stdout.write(f"{colour}{name:>6}{reset} | {line}")
            sys.stdout.flush()

    @staticmethod
    def _wait_for_port(host, port, process, timeout=60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.3)
        return False

    def _banner(self, host, port):
        from django.core.management import call_command

        line = "=" * 64
        self.stdout.write(f"\n{line}\n  Clinic is running at  http://{host}:{port}/\n")
        self.stdout.write(f"  API docs:             http://{host}:{port}/api/docs/")
        if settings.EMAIL_BACKEND == "clinic.mail.MailDirBackend":
            self.stdout.write(
                f"  Mail (no SMTP set):   http://{host}:{port}/mailbox/  and {settings.MAIL_DIR}"
            )
        call_command("seed_demo", "--quiet-if-present", stdout=self.stdout)
        self.stdout.write(f"  Ctrl-C stops web, worker and beat.\n{line}\n")
