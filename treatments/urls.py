from django.urls import path

from treatments.views import booking, calendar, clients, courses, day, public, sessions, time_off, zone

urlpatterns = [
    path("", day.home, name="home"),
    path("day/chase-forms/", day.chase_forms, name="chase-forms"),
    path("visits/forms-missing/", day.forms_ahead, name="forms-ahead"),
    path("calendar/", calendar.calendar, name="calendar"),
    path("time-off/", time_off.time_off, name="time-off"),
    path("time-off/<int:pk>/remove/", time_off.time_off_delete, name="time-off-remove"),
    path("time-off/<int:pk>/hand-over/", time_off.time_off_hand_over, name="time-off-hand-over"),
    path("time-off/hours/<int:pk>/hand-over/", time_off.off_hours_hand_over, name="off-hours-hand-over"),
    path("book/", booking.book, name="book"),
    path("book/course/", courses.book_course, name="book-course"),
    path("courses/<int:pk>/cancel/", courses.cancel_remaining, name="course-cancel"),
    path("clients/<int:pk>/", clients.client_detail, name="client-detail"),
    path("clients/<int:pk>/consent-withdrawal/", clients.consent_withdrawal, name="consent-withdrawal"),
    path("clients/<int:pk>/consent-plan-changed/", clients.consent_plan_changed, name="consent-plan-changed"),
    path("appointments/<int:pk>/", booking.appointment_detail, name="appointment-detail"),
    # the treatment record, before the visit's generic actions (whose <action> would take "record")
    path("appointments/<int:pk>/record/", sessions.session_record, name="session-record"),
    path("appointments/<int:pk>/record/start/", sessions.record_start, name="session-record-start"),
    path("appointments/<int:pk>/record/photos/<int:photo_id>/", sessions.session_photo, name="session-photo"),
    path(
        "appointments/<int:pk>/<str:action>/",
        booking.appointment_action,
        name="appointment-action",
    ),
    path("records/lots/", sessions.lot_recall, name="lot-recall"),
    path("visits/keep-clock-times/", zone.keep_clock_times, name="keep-clock-times"),
    path("p/<slug:slug>/", public.public_services, name="public-services"),
    path("p/<slug:slug>/book/<int:service_id>/", public.public_times, name="public-times"),
    path("p/<slug:slug>/book/<int:service_id>/details/", public.public_details, name="public-details"),
    path("p/manage/<str:token>/", public.public_manage, name="public-manage"),
]
