"""User-Agent parsing (ua-parser, with its compiled rules and Rust accelerator)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ua_parser import parse

# The columns' length (sessions.models.Session.browser / .os): ua-parser copies a family
# name out of the agent itself, so a crafted 512-character agent made a 150-character
# browser, and that one session failed its whole fold batch (varchar(100)) on every retry.
MAX_NAME_LENGTH = 100
_MOBILE_OS = {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"}


@dataclass(frozen=True)
class ParsedAgent:
    """Browser, OS and device type of one User-Agent string (None when unknown)."""

    browser: str | None
    os: str | None
    device_type: str | None


@lru_cache(maxsize=4096)
def parse_user_agent(user_agent: str | None) -> ParsedAgent:
    """Parse a User-Agent; device_type is desktop, mobile, tablet or bot."""
    if not user_agent:
        return ParsedAgent(None, None, None)
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else None
    os_family = result.os.family if result.os else None
    device = result.device
    if device is not None and device.family == "Spider":
        device_type = "bot"
    elif device is not None and (
        "ipad" in device.family.lower() or "tablet" in (device.brand or "").lower()
    ):
        device_type = "tablet"
    elif os_family in _MOBILE_OS:
        device_type = "mobile"
    elif browser is None or browser == "Other" or os_family in (None, "Other"):
        device_type = None  # curl, SDKs, scripts: no device to speak of
    else:
        device_type = "desktop"
    return ParsedAgent(
        browser=None if browser == "Other" else _fitted(browser),
        os=None if os_family == "Other" else _fitted(os_family),
        device_type=device_type,
    )


def _fitted(name: str | None) -> str | None:
    return name[:MAX_NAME_LENGTH] if name else name
