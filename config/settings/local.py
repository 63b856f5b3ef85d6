"""Settings for `make run` on a developer's machine."""

from config.settings.base import *  # noqa: F403
from config.settings.base import ENV

DEBUG = ENV.debug or True
