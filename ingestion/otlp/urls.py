from django.urls import path  # noqa: F401 (the door adds its routes)

urlpatterns: list = []
