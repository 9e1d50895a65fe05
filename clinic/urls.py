from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from clinic import messages_views, staff_views, two_step_views, views

# Higher layers are included by dotted path, so the clinic package never imports them.
urlpatterns = [
    path("", include("treatments.urls")),
    path("clients/", include("clients.urls")),
    path("accounts/login/", two_step_views.SignInView.as_view(), name="login"),
    path("accounts/login/code/", two_step_views.two_step_code, name="two-step-code"),
    path("accounts/two-step/", two_step_views.two_step_settings, name="two-step"),
    path("accounts/still-here/", views.still_here, name="still-here"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", staff_views.OwnPasswordView.as_view(), name="own-password"),
    path("accounts/password/forgotten/", staff_views.password_forgotten, name="password-forgotten"),
    path(
        "accounts/password/link/<uidb64>/<token>/",
        staff_views.PasswordLinkView.as_view(),
        name="password-link",
    ),
    path("manage/staff/", staff_views.staff_list, name="staff"),
    path("manage/staff/<int:pk>/email/", staff_views.staff_email, name="staff-email"),
    path("manage/staff/<int:pk>/two-step-off/", staff_views.staff_two_step_off, name="staff-two-step-off"),
    path(
        "manage/staff/<int:pk>/forget-devices/",
        staff_views.staff_devices_forget,
        name="staff-devices-forget",
    ),
    path("manage/staff/<int:pk>/leave/", staff_views.staff_leave, name="staff-leave"),
    path("manage/staff/<int:pk>/return/", staff_views.staff_return, name="staff-return"),
    path("manage/staff/two-step/", staff_views.clinic_two_step, name="clinic-two-step"),
    path("manage/staff/idle-sign-out/", staff_views.clinic_idle_sign_out, name="clinic-idle-sign-out"),
    path("manage/staff/<int:pk>/password/", staff_views.staff_password, name="staff-password"),
    path("manage/staff/<int:pk>/unpause/", staff_views.staff_unpause, name="staff-unpause"),
    path("mailbox/", views.mailbox, name="mailbox"),
    path("manage/emails/", messages_views.message_template_list, name="message-templates"),
    path("manage/emails/<str:key>/", messages_views.message_template_edit, name="message-template-edit"),
    path("manage/outbox/", messages_views.outbox_list, name="outbox"),
    path("healthz", views.healthz, name="healthz"),
    # The admin signs in through the clinic's sign-in, so its code is asked for there too.
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("clinic.api_urls")),
    path("api/v1/", include("clients.api_urls")),
    path("api/v1/", include("treatments.api_urls")),
]

handler404 = "clinic.views.page_not_found"
handler500 = "clinic.views.server_error"
