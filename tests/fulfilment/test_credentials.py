from __future__ import annotations

import re

import pytest
from cryptography.fernet import Fernet

from asyncorders.fulfilment import credentials
from asyncorders.fulfilment.credentials import CredentialsUnreadable, Vault


def luhn_valid(number: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def test_card_numbers_have_sixteen_digits_and_a_valid_check_digit() -> None:
    for _ in range(200):
        card, pin = credentials.issue(["cardNumber", "pin"])
        assert re.fullmatch(r"\d{16}", card.value)
        assert luhn_valid(card.value)
        assert re.fullmatch(r"\d{8}", pin.value)


def test_claim_codes_and_urls_are_shaped_like_real_ones() -> None:
    code, url = credentials.issue(["claimCode", "redemptionUrl"])
    assert re.fullmatch(r"([A-HJ-NP-Z2-9]{4}-){3}[A-HJ-NP-Z2-9]{4}", code.value)
    assert url.type == "url"
    assert url.value.startswith("https://")


def test_an_item_without_credential_types_gets_card_and_pin() -> None:
    kinds = [c.credential_type for c in credentials.issue([])]
    assert kinds == ["cardNumber", "pin"]


def test_sealed_credentials_reveal_only_with_the_right_key() -> None:
    issued = credentials.issue(["cardNumber", "pin"])
    vault = Vault(Fernet.generate_key(), b"fingerprints")
    sealed = vault.seal(issued)

    assert issued[0].value.encode() not in sealed
    assert vault.reveal(sealed) == [c.as_view() for c in issued]
    with pytest.raises(CredentialsUnreadable):
        Vault(Fernet.generate_key(), b"fingerprints").reveal(sealed)


def test_fingerprints_are_keyed_and_depend_on_the_credential() -> None:
    issued = credentials.issue(["cardNumber"])
    one = Vault(Fernet.generate_key(), b"key-one")
    two = Vault(Fernet.generate_key(), b"key-two")
    assert one.fingerprint("U1", issued) == one.fingerprint("U1", issued)
    assert one.fingerprint("U1", issued) != two.fingerprint("U1", issued)
    assert one.fingerprint("U1", issued) != one.fingerprint(
        "U1", credentials.issue(["cardNumber"])
    )
