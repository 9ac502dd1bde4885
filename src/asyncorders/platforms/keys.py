"""API keys: generated with `secrets`, stored as a keyed hash, checked in constant time.

Keys are 256-bit random strings, so a fast keyed hash (HMAC-SHA256 with the
service's secret) is the right tool: there is nothing for a slow password hash
to protect, and it keeps authentication cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_BYTES = 32


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def new_public_id() -> str:
    return f"key_{secrets.token_hex(8)}"


def hash_key(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def matches(candidate_hash: str, stored_hash: str) -> bool:
    return hmac.compare_digest(candidate_hash, stored_hash)
