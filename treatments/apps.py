from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TreatmentsConfig(AppConfig):
    name = "treatments"
    verbose_name = "Protocols, services, appointments and sessions"

    def ready(self):
        from clinic.outbox import register_context_refresh, register_out_of_date_check
        from treatments.notifications import booking_messages_as_they_stand, out_of_date_booking_messages
        from treatments.waitlist import out_of_date_waitlist_messages, waitlist_offers_as_they_stand

        register_out_of_date_check(out_of_date_booking_messages)
        register_context_refresh(booking_messages_as_they_stand)
        register_out_of_date_check(out_of_date_waitlist_messages)
        register_context_refresh(waitlist_offers_as_they_stand)

        from treatments.news import out_of_date_news

        register_out_of_date_check(out_of_date_news)

        from clients.merging import register_after_merge, register_after_undo, register_merge_check
        from treatments.aftercare import rebooking_after_merge, rebooking_after_undo
        from treatments.booking import merge_refusal, visits_after_undo

        register_merge_check(merge_refusal)
        register_after_merge(rebooking_after_merge)
        register_after_undo(visits_after_undo)  # first: the emails about those visits follow them
        register_after_undo(rebooking_after_undo)

        from clients.erasure import (
            register_after_erasure,
            register_erasure_check,
            register_latest_health_record,
        )
        from treatments.booking import (
            erasure_refusal_for_visits,
            latest_treatment_record,
            visits_after_erasure,
        )

        register_erasure_check(erasure_refusal_for_visits)
        register_latest_health_record(latest_treatment_record)
        register_after_erasure(visits_after_erasure)

        from treatments.vouchers import vouchers_after_erasure

        register_after_erasure(vouchers_after_erasure)

        from treatments.device_holds import repair_device_hold_triggers

        # A migration that rebuilt the appointment table (SQLite) dropped its triggers: put them back.
        post_migrate.connect(repair_device_hold_triggers, sender=self, dispatch_uid="device_hold_triggers")

        from treatments.schedule_guard import repair_schedule_guard

        # The same for the triggers that keep visits out of time off and out of service.
        post_migrate.connect(repair_schedule_guard, sender=self, dispatch_uid="schedule_guard")
