"""API key format, generation and hashing (pure functions).

A key is `pk_` (ingest) or `sk_` (secret) followed by 40 base62 characters (~238 bits).
Its first 12 characters are the visible prefix, stored in clear and used to find the row;
the whole key is stored only as its SHA-256 digest. A slow KDF buys nothing for secrets of
this entropy and would cost every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

KIND_PREFIXES = {"ingest": "pk_", "secret": "sk_"}
_ALPHABET = string.ascii_letters + string.digits
_RANDOM_LENGTH = 40
PREFIX_LENGTH = 12
KEY_LENGTH = 3 + _RANDOM_LENGTH


def generate(kind: str) -> str:
    """Return a new random key of `kind` ('ingest' or 'secret')."""
    return KIND_PREFIXES[kind] + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))


def prefix_of(key: str) -> str:
    """Return the visible prefix of a key."""
    return key[:PREFIX_LENGTH]


def digest(key: str) -> str:
    """Return the stored digest of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def is_well_formed(key: str) -> bool:
    """True when `key` has the shape of a ProductGraph key (cheap check before any query)."""
    return (
        len(key) == KEY_LENGTH
        and key[:3] in KIND_PREFIXES.values()
        and all(char in _ALPHABET for char in key[3:])
    )


def matches(key: str, stored_digest: str) -> bool:
    """Compare a presented key with a stored digest in constant time."""
    return hmac.compare_digest(digest(key), stored_digest)
