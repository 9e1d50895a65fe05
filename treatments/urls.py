from django.urls import path

from treatments import views

urlpatterns = [
    path("", views.home, name="home"),
]
