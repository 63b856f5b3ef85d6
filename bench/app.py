"""Django, set up for the orchestrators: they provision and read as the app does (the
servers under test run `config.settings.production` in their own processes)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django.setup()
