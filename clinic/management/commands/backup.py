"""`python manage.py backup [--to DIR] [--keep N]`: see `clinic.backups`."""

from django.core.management.base import BaseCommand, CommandError

from clinic.backups import KEEP_DEFAULT, backup_write, default_folder
from clinic.errors import ClinicError


class Command(BaseCommand):
    help = "Copy the database and the uploaded files (photos) into a dated folder; keep the newest N."

    def add_arguments(self, parser):
        parser.add_argument("--to", help=f"the folder to write backups in (default {default_folder()})")
        parser.add_argument("--keep", type=int, default=KEEP_DEFAULT, help="how many backups to keep")

    def handle(self, *args, to=None, keep=KEEP_DEFAULT, **options):
        try:
            folder = backup_write(to, keep=keep)
        except ClinicError as refusal:
            raise CommandError(refusal.message) from refusal
        self.stdout.write(self.style.SUCCESS(f"Backup written: {folder}"))
