from django.urls import path

from clients import public_views, views

urlpatterns = [
    path("", views.client_list, name="client-list"),
    path("<int:pk>/", views.client_detail, name="client-detail"),
    path("outbox/<int:pk>/resend/", views.outbox_message_resend, name="outbox-resend"),
    path("forms/<str:token>/", public_views.forms, name="client-forms"),
    path("u/<str:token>/", public_views.unsubscribe, name="client-unsubscribe"),
]
