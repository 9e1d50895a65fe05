"""The Celery application `clinic` (`celery -A clinic worker`, `celery -A clinic beat`)."""

import os

from celery import Celery
from celery.signals import worker_process_init

from clinic.memory import freeze_startup_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _prepare_filesystem_broker(sender, **kwargs):
    """Create the broker folder and turn off remote control, which the filesystem transport lacks."""
    if sender.conf.broker_url.startswith("filesystem"):
        folder = sender.conf.broker_transport_options.get("data_folder_in")
        if folder:
            os.makedirs(folder, exist_ok=True)
        sender.conf.worker_enable_remote_control = False


@worker_process_init.connect
def _freeze_startup_objects(**kwargs):
    """Each worker process, once started, keeps its start-up objects out of the collector's walks."""
    freeze_startup_objects()
