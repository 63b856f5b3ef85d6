"""Settings for `make run` on a developer's machine.

DEBUG stays off unless DEBUG=true: with it on, Django answers unknown URLs with HTML debug
pages instead of the API's JSON errors.
"""

from config.settings.base import *  # noqa: F403

# WhiteNoise serves the admin's static files straight from the apps while developing.
WHITENOISE_USE_FINDERS = True
