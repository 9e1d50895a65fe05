from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self):
        # sign_in connects the sign-in signals; staff registers its outbox check (password links)
        from clinic import sign_in, staff  # noqa: F401
