"""API keys and the platform service, below the HTTP layer."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.errors import AlreadyExists
from asyncorders.platforms import keys
from asyncorders.platforms import service as platforms
from asyncorders.platforms.service import KeyNotFound, PlatformNotFound, TooManyKeys
from asyncorders.storage.engine import Database
from asyncorders.storage.tables import ApiKey, Platform

pytestmark = pytest.mark.anyio

SECRET = b"unit-test-secret"


# ---- the keys module -----------------------------------------------------------------


def test_new_keys_are_long_random_and_url_safe() -> None:
    made = {keys.new_key() for _ in range(200)}

    assert len(made) == 200
    for key in made:
        assert len(key) >= 43  # 32 random bytes, base64url without padding
        assert set(key) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )
        assert ":" not in key


def test_public_ids_are_unique_and_reveal_nothing_of_the_key() -> None:
    made = {keys.new_public_id() for _ in range(200)}

    assert len(made) == 200
    assert all(public.startswith("key_") and len(public) <= 32 for public in made)


def test_hash_is_deterministic_keyed_and_never_the_key() -> None:
    key = keys.new_key()

    first = keys.hash_key(SECRET, key)

    assert first == keys.hash_key(SECRET, key)
    assert first != keys.hash_key(b"another-secret", key)
    assert first != keys.hash_key(SECRET, key + "x")
    assert key not in first
    assert len(first) == 64
    int(first, 16)


def test_matches_compares_hashes() -> None:
    stored = keys.hash_key(SECRET, "the-key")

    assert keys.matches(keys.hash_key(SECRET, "the-key"), stored)
    assert not keys.matches(keys.hash_key(SECRET, "the-kez"), stored)
    assert not keys.matches("", stored)


# ---- the platform service ------------------------------------------------------------


async def _create(db: Database, name: str = "acme") -> platforms.IssuedKey:
    async with db.sessions() as session:
        issued = await platforms.create_platform(session, SECRET, name)
        await session.commit()
    return issued


async def test_created_platform_authenticates_with_its_key(db: Database) -> None:
    issued = await _create(db)

    async with db.sessions() as session:
        caller = await platforms.authenticate(session, SECRET, "acme", issued.key)
        wrong = await platforms.authenticate(session, SECRET, "acme", "nope")
        other_secret = await platforms.authenticate(
            session, b"other", "acme", issued.key
        )

    assert caller is not None
    assert caller.platform_name == "acme"
    assert wrong is None
    assert other_secret is None


async def test_platform_with_a_chosen_key_authenticates_with_it(db: Database) -> None:
    async with db.sessions() as session:
        issued = await platforms.create_platform(session, SECRET, "acme", key="k" * 40)
        await session.commit()

    async with db.sessions() as session:
        caller = await platforms.authenticate(session, SECRET, "acme", "k" * 40)

    assert issued.key == "k" * 40
    assert caller is not None


async def test_duplicate_platform_is_refused(db: Database) -> None:
    await _create(db)

    async with db.sessions() as session:
        with pytest.raises(AlreadyExists):
            await platforms.create_platform(session, SECRET, "acme")

    async with db.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(Platform))
    assert count == 1


async def test_second_key_is_allowed_and_a_third_refused(db: Database) -> None:
    first = await _create(db)

    async with db.sessions() as session:
        second = await platforms.add_key(session, SECRET, "acme")
        await session.commit()
    async with db.sessions() as session:
        with pytest.raises(TooManyKeys):
            await platforms.add_key(session, SECRET, "acme")

    async with db.sessions() as session:
        active = await session.scalar(
            select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at.is_(None))
        )
        callers = [
            await platforms.authenticate(session, SECRET, "acme", key)
            for key in (first.key, second.key)
        ]
    assert active == 2
    assert all(caller is not None for caller in callers)
    assert callers[0] is not None
    assert callers[1] is not None
    assert callers[0].key_id != callers[1].key_id


async def test_a_revoked_key_frees_a_slot_for_a_new_one(db: Database) -> None:
    first = await _create(db)
    async with db.sessions() as session:
        await platforms.add_key(session, SECRET, "acme")
        await platforms.revoke_key(session, "acme", first.public_id)
        third = await platforms.add_key(session, SECRET, "acme")
        await session.commit()

    async with db.sessions() as session:
        old = await platforms.authenticate(session, SECRET, "acme", first.key)
        new = await platforms.authenticate(session, SECRET, "acme", third.key)

    assert old is None
    assert new is not None


async def test_rotation_keeps_at_most_two_active_keys(db: Database) -> None:
    first = await _create(db)
    issued = [first]
    for _ in range(4):
        async with db.sessions() as session:
            new, revoked = await platforms.rotate_key(session, SECRET, "acme")
            await session.commit()
        if len(issued) >= 2:
            assert revoked == [issued[-2].public_id]
        else:
            assert revoked == []
        issued.append(new)

    async with db.sessions() as session:
        listed = await platforms.list_keys(session, "acme")
        working = [
            await platforms.authenticate(session, SECRET, "acme", key.key)
            for key in issued
        ]

    assert [row.public_id for row in listed] == [key.public_id for key in issued]
    assert [row.revoked_at is None for row in listed] == [
        False,
        False,
        False,
        True,
        True,
    ]
    assert [caller is not None for caller in working] == [
        False,
        False,
        False,
        True,
        True,
    ]


async def test_revoking_an_unknown_or_revoked_key_is_an_error(db: Database) -> None:
    first = await _create(db)

    async with db.sessions() as session:
        with pytest.raises(KeyNotFound):
            await platforms.revoke_key(session, "acme", "key_0000000000000000")
        await platforms.revoke_key(session, "acme", first.public_id)
        with pytest.raises(KeyNotFound):
            await platforms.revoke_key(session, "acme", first.public_id)


async def test_a_key_cannot_be_revoked_through_another_platform(
    db: Database,
) -> None:
    acme = await _create(db, "acme")
    await _create(db, "globex")

    async with db.sessions() as session:
        with pytest.raises(KeyNotFound):
            await platforms.revoke_key(session, "globex", acme.public_id)
        await session.commit()

    async with db.sessions() as session:
        caller = await platforms.authenticate(session, SECRET, "acme", acme.key)
    assert caller is not None


async def test_key_of_one_platform_does_not_open_another(db: Database) -> None:
    acme = await _create(db, "acme")
    await _create(db, "globex")

    async with db.sessions() as session:
        caller = await platforms.authenticate(session, SECRET, "globex", acme.key)

    assert caller is None


async def _on_ghost(session: AsyncSession, operation: str) -> None:
    if operation == "add_key":
        await platforms.add_key(session, SECRET, "ghost")
    elif operation == "rotate_key":
        await platforms.rotate_key(session, SECRET, "ghost")
    elif operation == "revoke_key":
        await platforms.revoke_key(session, "ghost", "key_0000000000000000")
    else:
        await platforms.list_keys(session, "ghost")


@pytest.mark.parametrize("operation", ["add_key", "rotate_key", "revoke_key", "list"])
async def test_operations_on_an_unknown_platform_raise_platform_not_found(
    db: Database, operation: str
) -> None:
    async with db.sessions() as session:
        with pytest.raises(PlatformNotFound):
            await _on_ghost(session, operation)


async def test_authentication_of_an_unknown_platform_is_none(db: Database) -> None:
    async with db.sessions() as session:
        caller = await platforms.authenticate(session, SECRET, "ghost", "any")

    assert caller is None


async def test_stored_hash_is_the_keyed_hash_of_the_issued_key(db: Database) -> None:
    issued = await _create(db)

    async with db.sessions() as session:
        row = await session.scalar(
            select(ApiKey).where(ApiKey.public_id == issued.public_id)
        )

    assert row is not None
    assert row.key_hash == keys.hash_key(SECRET, issued.key)
    assert row.key_hash != issued.key
    assert row.created_at.tzinfo is not None
    assert row.revoked_at is None
