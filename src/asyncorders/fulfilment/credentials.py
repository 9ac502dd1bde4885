"""Reward credentials: made with `secrets`, shaped like real ones, kept encrypted.

Each catalog item lists its credential types (`cardNumber` and `pin`, or
`claimCode` and `redemptionUrl`, ...). Credentials are encrypted with Fernet
before they are stored; only the line-items view decrypts them. A keyed
fingerprint of each reward's first credential is stored beside it, unique in
the database, so the same credential can never be issued twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

_CLAIM_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


@dataclass(frozen=True, slots=True)
class Credential:
    label: str
    value: str
    type: str  # text, url, date, barcode
    credential_type: str

    def as_view(self) -> dict[str, str]:
        return {
            "label": self.label,
            "value": self.value,
            "type": self.type,
            "credentialType": self.credential_type,
        }


def issue(credential_types: list[str]) -> list[Credential]:
    """A fresh set of credentials of the given types (card and PIN by default)."""
    return [_make(kind) for kind in credential_types or ["cardNumber", "pin"]]


def _make(kind: str) -> Credential:
    if kind == "cardNumber":
        return Credential("Card Number", _card_number(), "text", kind)
    if kind == "pin":
        return Credential("PIN", _digits(8), "text", kind)
    if kind == "securityCode":
        return Credential("Security Code", _digits(4), "text", kind)
    if kind == "claimCode":
        return Credential("Claim Code", _claim_code(), "text", kind)
    if kind == "redemptionUrl":
        url = f"https://redeem.asyncorders.invalid/r/{secrets.token_urlsafe(18)}"
        return Credential("Redemption URL", url, "url", kind)
    return Credential(kind, secrets.token_hex(10).upper(), "text", kind)


def _digits(count: int) -> str:
    return f"{secrets.randbelow(10**count):0{count}d}"


def _card_number() -> str:
    """16 digits with a valid Luhn check digit, on a test-only 6-digit prefix."""
    body = "600649" + _digits(9)
    total = 0
    for index, digit in enumerate(reversed(body)):
        value = int(digit) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


def _claim_code() -> str:
    groups = (
        "".join(secrets.choice(_CLAIM_ALPHABET) for _ in range(4)) for _ in "1234"
    )
    return "-".join(groups)


class Vault:
    """Encrypts credentials for storage and fingerprints them for uniqueness."""

    def __init__(self, fernet_key: bytes, fingerprint_key: bytes) -> None:
        self._fernet = Fernet(fernet_key)
        self._fingerprint_key = fingerprint_key

    def seal(self, credentials: list[Credential]) -> bytes:
        plain = json.dumps([c.as_view() for c in credentials]).encode()
        return self._fernet.encrypt(plain)

    def reveal(self, sealed: bytes) -> list[dict[str, Any]]:
        try:
            views: list[dict[str, Any]] = json.loads(self._fernet.decrypt(sealed))
        except InvalidToken:
            raise CredentialsUnreadable() from None
        return views

    def fingerprint(self, utid: str, credentials: list[Credential]) -> str:
        first = credentials[0].value if credentials else ""
        message = f"{utid}:{first}".encode()
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).hexdigest()


class CredentialsUnreadable(Exception):
    """Stored credentials do not decrypt with the configured key."""
