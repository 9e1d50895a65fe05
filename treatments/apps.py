from django.apps import AppConfig


class TreatmentsConfig(AppConfig):
    name = "treatments"
    verbose_name = "Protocols, services, appointments and sessions"

    def ready(self):
        from clinic.outbox import register_context_refresh, register_out_of_date_check
        from treatments.notifications import booking_messages_as_they_stand, out_of_date_booking_messages

        register_out_of_date_check(out_of_date_booking_messages)
        register_context_refresh(booking_messages_as_they_stand)
