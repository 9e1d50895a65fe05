from django.urls import path

from clients import public_views, views

urlpatterns = [
    path("", views.client_list, name="client-list"),
    path("u/<str:token>/", public_views.unsubscribe, name="client-unsubscribe"),
]
