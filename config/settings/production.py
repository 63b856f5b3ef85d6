"""Settings for the production server (gunicorn), docker compose and `make bench`."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import ENV

DEBUG = False
if not ENV.secret_key:
    raise ImproperlyConfigured("SECRET_KEY must be set in production")
SECRET_KEY = ENV.secret_key
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
