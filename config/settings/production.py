"""Settings for the production server (gunicorn), docker compose and `make bench`."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import ENV, LOGGING

DEBUG = False
if not ENV.secret_key:
    raise ImproperlyConfigured("SECRET_KEY must be set in production")
SECRET_KEY = ENV.secret_key
SECURE_CONTENT_TYPE_NOSNIFF = True
# JSON logs unless LOG_FORMAT=text asks otherwise (operations.md: JSON logs in production).
LOGGING["handlers"]["console"]["formatter"] = "text" if ENV.log_format == "text" else "json"
SESSION_COOKIE_HTTPONLY = True
