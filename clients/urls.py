from django.urls import path

from clients import import_views, public_views, views

urlpatterns = [
    path("", views.client_list, name="client-list"),
    # A client's own page (client-detail) shows their visits, so the treatments layer serves it.
    path("import/", import_views.client_import_start, name="client-import-start"),
    path("import/<int:pk>/", import_views.client_import_detail, name="client-import"),
    path(
        "import/<int:pk>/not-imported.csv", import_views.client_import_left_out, name="client-import-left-out"
    ),
    path("<int:pk>/edit/", views.client_edit, name="client-edit"),
    path("<int:pk>/email-choices/", views.client_email_choices_view, name="client-email-choices"),
    path("<int:pk>/erase/", views.client_erase_view, name="client-erase"),
    path("<int:pk>/intake-and-consent/", views.client_intake_and_consent, name="client-intake-and-consent"),
    path(
        "<int:pk>/photo-consent/<str:scope>/withdraw/",
        views.photo_consent_withdraw_view,
        name="photo-consent-withdraw",
    ),
    path("consents/<int:pk>/countersign/", views.consent_countersign_view, name="consent-countersign"),
    path("outbox/<int:pk>/resend/", views.outbox_message_resend, name="outbox-resend"),
    path("forms/<str:token>/", public_views.forms, name="client-forms"),
    path("u/<str:token>/", public_views.unsubscribe, name="client-unsubscribe"),
]
