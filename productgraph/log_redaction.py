"""No key in any log line (api.md, "Keys without headers").

An ingest key may travel in the query string (`?api_key=`, for beacons and pixels) and a
Segment client sends its write key as the HTTP Basic user. Two places would write them:

- gunicorn's access log, whose default format holds the request line (`%(r)s`), the Basic
  user (`%(u)s`) and the referer (`%(f)s`). `AccessLogger` (config/gunicorn.py's
  `logger_class`) rewrites each atom as the format reads it: the value of each
  `api_key` query parameter becomes `[redacted]`, however its name is percent-encoded, and
  any key-shaped text `pk_[redacted]`; the user is `-`, and the credential headers
  (`Authorization`, `X-PG-API-Key`, `Cookie`) and their environ variables are `[redacted]`
  for a format that names them. Its error lines are redacted too: gunicorn's "Error
  handling request <uri>" and "Invalid request ... <request line>" warnings.
- Django's `django.request` records (every 4xx and 5xx) carry the request, whose repr is
  the full path, query string included, and the JSON formatter writes every extra
  attribute: `RedactKeys`, a filter on the console handler (settings' LOGGING), redacts
  the request's repr, the message's arguments and any other string extra.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote_plus

from gunicorn.glogging import Logger, SafeAtoms

REDACTED = "[redacted]"
QUERY_KEY = "api_key"  # orgs.authentication.QUERY_KEY_PARAMETER (the kernel imports no app)
_CREDENTIAL_ATOMS = frozenset(
    {
        "{authorization}i",
        "{x-pg-api-key}i",
        "{cookie}i",
        "{http_authorization}e",
        "{http_x_pg_api_key}e",
        "{http_cookie}e",
    }
)
# Anything shaped like a key (orgs/keys.py: `pk_` or `sk_` and 40 base62 characters; a test
# holds the two together), 16 characters on: a key in a malformed request line, a header
# without its colon, a referer's path, or under a misspelt parameter name.
KEY_SHAPE = re.compile(r"(?<![A-Za-z0-9])([ps]k_)[A-Za-z0-9]{16,}")
# One `name=value` pair of a query string (or of a URL in a referer): `&` or `;` separated.
_PAIR = re.compile(r"(?P<name>[^?&;=\s#]+)=(?P<value>[^&;\s#]*)")


def redact_keys(text: str) -> str:
    """`GET /v1/events?api_key=pk_x&a=1` -> `GET /v1/events?api_key=[redacted]&a=1`, and
    any key-shaped text -> `pk_[redacted]`.

    Django reads `api%5Fkey` and `api_key` alike, so the name is compared decoded.
    """
    if "k_" in text:
        text = KEY_SHAPE.sub(rf"\1{REDACTED}", text)
    if "=" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        if unquote_plus(match["name"]).lower() == QUERY_KEY:
            return f"{match['name']}={REDACTED}"
        return match[0]

    return _PAIR.sub(replace, text)


def _redacted_arg(arg: Any) -> Any:
    """A log argument with no key in it: a string redacted, anything else (gunicorn passes
    its parse errors, whose text is the request line or header) as its redacted text when
    that text held one."""
    if isinstance(arg, str):
        return redact_keys(arg)
    if arg is None or isinstance(arg, int | float):
        return arg
    text = str(arg)
    redacted = redact_keys(text)
    return arg if redacted == text else redacted


def _redacted(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_redacted_arg(arg) for arg in args)


class RedactedAtoms(SafeAtoms):
    """gunicorn's access-log atoms, each credential-free as the format reads it."""

    def __getitem__(self, key: str) -> Any:
        if key == "u":
            return "-"  # the Basic user is a Segment client's write key
        if key.lower() in _CREDENTIAL_ATOMS:
            return REDACTED
        value = super().__getitem__(key)
        return redact_keys(value) if isinstance(value, str) else value


class AccessLogger(Logger):
    """gunicorn's logger whose access-log atoms and error lines carry no credential
    (gunicorn's "Error handling request <uri>" holds the query string, and its "Invalid
    request" warnings arrive formatted, the bad request line or header inside)."""

    def critical(self, msg, *args, **kwargs) -> None:
        super().critical(_redacted_arg(msg), *_redacted(args), **kwargs)

    def error(self, msg, *args, **kwargs) -> None:
        super().error(_redacted_arg(msg), *_redacted(args), **kwargs)

    def warning(self, msg, *args, **kwargs) -> None:
        super().warning(_redacted_arg(msg), *_redacted(args), **kwargs)

    def info(self, msg, *args, **kwargs) -> None:
        super().info(_redacted_arg(msg), *_redacted(args), **kwargs)

    def debug(self, msg, *args, **kwargs) -> None:
        super().debug(_redacted_arg(msg), *_redacted(args), **kwargs)

    def exception(self, msg, *args, **kwargs) -> None:
        super().exception(_redacted_arg(msg), *_redacted(args), **kwargs)

    def log(self, lvl, msg, *args, **kwargs) -> None:
        super().log(lvl, _redacted_arg(msg), *_redacted(args), **kwargs)

    # Only the atoms the format names are read, and redacted as they are (a request's
    # atoms number in the dozens: every header and environ variable).
    atoms_wrapper_class = RedactedAtoms


# A LogRecord's own attributes: anything else was added as an extra (`request`, say).
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "correlation_id",
}


class RedactKeys(logging.Filter):
    """Redact keys in a record's message, arguments and extras (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_keys(record.msg)
        if isinstance(record.args, tuple):
            record.args = _redacted(record.args)
        for name, value in list(vars(record).items()):
            if name in _RECORD_ATTRIBUTES or value is None or isinstance(value, int | float):
                continue
            text = value if isinstance(value, str) else repr(value)
            redacted = redact_keys(text)
            if redacted != text:
                setattr(record, name, redacted)
        return True
