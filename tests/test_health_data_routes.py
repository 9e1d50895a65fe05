"""Every page and API route of the app is said to show a client's health data or not: those that do
note each read in the client's access log (`clients.access_log`), tested one by one in
`test_health_data_access` and `test_client_photos`. A new route fails here until it is said which it
is, so a page of health data cannot come without its read being kept."""

import pytest
from django.test import Client as BrowserClient
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from clients.models import HealthDataAccess, HealthDataRead, IntakeQuestionnaire, IntakeResponse
from tests import test_client_photos
from tests.booking_world import local
from treatments.booking import BookingRequest, appointment_book
from treatments.models import BodyArea, TreatmentSession

# route name → what its read is noted as
SHOWS_HEALTH_DATA = {
    "client-detail": HealthDataRead.TREATMENT_HISTORY,
    "client-intake-and-consent": HealthDataRead.INTAKE_AND_CONSENT,
    "appointment-detail": HealthDataRead.VISIT_INTAKE,
    "session-record": HealthDataRead.TREATMENT_RECORD,
    "session-photo": HealthDataRead.PHOTO,
    "client-photos": HealthDataRead.PHOTO,
    "client-photo": HealthDataRead.PHOTO,
    "lot-recall": HealthDataRead.LOT_RECALL,
    "api-client-fhir": HealthDataRead.EXPORT,
    "client-everything": HealthDataRead.EXPORT,
    "api-treatment-record-list": HealthDataRead.TREATMENT_RECORD,
    "api-treatment-record-detail": HealthDataRead.TREATMENT_RECORD,
    "api-treatment-record-fhir": HealthDataRead.EXPORT,
}

# why each of the others shows none
# fmt: off
SHOWS_NONE = {
    "the schedule: who comes when, for which service (a visit's flags say only that forms are missing)": {
        "home", "day-version", "running-late", "forms-ahead", "chase-forms", "calendar", "my-calendar",
        "calendar-feed", "book", "book-course", "course-cancel", "appointment-action", "waitlist",
        "waitlist-remove", "waitlist-move", "keep-clock-times", "report",
        "api-appointment-list", "api-appointment-detail", "api-appointment-cancel",
        "api-appointment-check-in", "api-appointment-complete", "api-appointment-no-show",
        "api-appointment-reschedule", "api-appointment-undo-status", "api-appointment-fhir",
        "api-course-list", "api-course-check", "api-course-detail", "api-course-cancel",
        "api-waitlist-list", "api-waitlist-detail", "api-waitlist-free-times", "api-waitlist-remove",
        "availability", "visit-import-start", "visit-import", "visit-import-sample",
        # a session had before, as a visit here is listed: which service, which day
        "earlier-session-add", "earlier-session-remove", "api-earlier-session-list",
        "api-earlier-session-detail", "api-earlier-session-remove",
    },
    "the clinic's products: lots, what is left of them, write-offs; no client named": {
        "stock", "lot-write-off", "lot-count",
    },
    "money taken for visits: amounts, how paid, who took it, a refund's reason": {
        "payment-take", "payment-refund", "course-pay", "takings", "vouchers", "voucher-detail",
        "api-voucher-list", "api-voucher-detail",
        "api-appointment-payments", "api-payment-detail", "api-payment-refund", "api-appointment-price",
    },
    "the clinic's rota, rooms, devices, staff and settings": {
        "time-off", "time-off-remove", "closure-remove", "out-of-service", "out-of-service-remove",
        "extra-hours", "extra-hours-remove", "time-off-hand-over", "off-hours-hand-over",
        "staff", "staff-email", "staff-two-step-off", "staff-devices-forget", "staff-leave",
        "staff-return", "clinic-two-step", "clinic-idle-sign-out", "staff-password", "staff-unpause",
        "message-templates", "message-template-edit", "outbox", "mailbox",
        "api-practitioner-list", "api-practitioner-detail", "api-service-list", "api-service-detail",
        "api-me", "api-schema", "api-docs", "healthz",
    },
    "a client's contact details, what records they hold counted, not read": {
        "client-list", "client-edit", "client-erase", "records-past-keeping", "export", "export-file",
        "client-duplicates", "client-import-start", "client-import", "client-import-left-out",
        "news", "news-detail", "client-email-choices",
        "client-same-as", "merge-undo", "api-client-list", "api-client-detail", "api-client-erase",
        "outbox-resend",
    },
    "writes only (POST), answered by a redirect to a page that notes its read": {
        "consent-withdrawal", "consent-plan-changed", "photo-consent-withdraw", "consent-countersign",
        "session-record-start", "lot-recall-record", "lot-recall-notify",
    },
    "the client's own links: they read their own forms and visits, not staff": {
        "public-services", "public-times", "public-details", "public-waitlist-join", "public-manage",
        "public-calendar-file", "public-waitlist", "public-visits", "public-photos-withdraw",
        "public-consent-withdraw", "public-feedback", "client-forms", "client-unsubscribe",
    },
    "signing in and out, one's own password and two-step sign-in": {
        "login", "two-step-code", "two-step", "still-here", "logout", "own-password",
        "password-forgotten", "password-link",
    },
}
# fmt: on


def _route_names(patterns, namespace=None) -> set[str]:
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":  # Django's admin: managers' settings, scoped by clinic
                continue
            names |= _route_names(pattern.url_patterns, pattern.namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def test_every_route_is_said_to_show_health_data_or_not():
    none = [name for names in SHOWS_NONE.values() for name in names]
    assert len(none) == len(set(none)), "a route is listed twice"
    assert not set(none) & set(SHOWS_HEALTH_DATA), "a route is said to show health data and none"
    routes = _route_names(get_resolver().url_patterns)
    unsaid = routes - set(none) - set(SHOWS_HEALTH_DATA)
    assert not unsaid, f"say whether these show a client's health data (and note their reads): {unsaid}"
    gone = (set(none) | set(SHOWS_HEALTH_DATA)) - routes
    assert not gone, f"these routes are gone: take them off the lists: {gone}"


def test_every_health_data_route_names_a_kind_of_read():
    assert set(SHOWS_HEALTH_DATA.values()) <= set(HealthDataRead)


world, olivia, media = test_client_photos.world, test_client_photos.olivia, test_client_photos.media


@pytest.fixture
def olivia_treated(world, olivia):
    """Olivia: intake answered, a record with a photo signed off on 2 December, a visit on the 20th."""
    IntakeResponse.objects.create(
        client=olivia,
        questionnaire=IntakeQuestionnaire.objects.create(
            clinic=world.clinic, version=1, title="Health", questions=[], is_current=True
        ),
        answers={},
    )
    [photo] = test_client_photos._treated(world, olivia, 2, [(BodyArea.objects.first(), "Before")])
    ahead = appointment_book(
        BookingRequest(
            client=olivia,
            service=world.microcurrent,
            practitioner=world.dr_lee,
            start=local(world, 2026, 12, 20, 10),
        )
    )
    return {
        "client": olivia.pk,
        "record": TreatmentSession.objects.get(client=olivia).pk,
        "visit": photo.session.appointment_id,
        "ahead": ahead.pk,
        "photo": photo.pk,
    }


# how each page is reached; the lot recall's read is in test_health_data_access
ROUTE_ARGS = {
    "client-detail": lambda ids: [ids["client"]],
    "client-intake-and-consent": lambda ids: [ids["client"]],
    "appointment-detail": lambda ids: [ids["ahead"]],
    "session-record": lambda ids: [ids["visit"]],
    "session-photo": lambda ids: [ids["visit"], ids["photo"]],
    "client-photos": lambda ids: [ids["client"]],
    "client-photo": lambda ids: [ids["client"], ids["photo"]],
    "api-client-fhir": lambda ids: [ids["client"]],
    "client-everything": lambda ids: [ids["client"]],
    "api-treatment-record-list": lambda ids: [],
    "api-treatment-record-detail": lambda ids: [ids["record"]],
    "api-treatment-record-fhir": lambda ids: [ids["record"]],
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(ROUTE_ARGS))
def test_each_health_data_route_keeps_its_read(world, olivia_treated, name):
    HealthDataAccess.objects.all().delete()
    url = reverse(name, args=ROUTE_ARGS[name](olivia_treated))
    if name.startswith("api-") or name == "client-everything":
        reader = APIClient()
        reader.force_authenticate(world.dr_lee.user)
    else:
        reader = BrowserClient()
        reader.force_login(world.dr_lee.user)
    assert reader.get(url).status_code == 200
    assert list(HealthDataAccess.objects.values_list("client_id", "staff_member_id", "what")) == [
        (olivia_treated["client"], world.dr_lee.pk, SHOWS_HEALTH_DATA[name])
    ]


def test_every_health_data_route_is_read_in_a_test():
    assert set(ROUTE_ARGS) | {"lot-recall"} == set(SHOWS_HEALTH_DATA)
