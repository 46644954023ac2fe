"""The state that access tokens share across peers: the signing keys and the revocation log.

Signing keys are rows (kid, alg, private PEM, public JWK); every peer signs with the newest and
verifies with any. The revocation log is append-only: each row raises, for one ``subject``
(``jti:<token id>``, ``apikey:<id>``, ``client:<id>``), the lowest credential version still
valid, and is dropped once no token it concerns can still be live. Peers tail it by ``seq``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select

from gateway.catalog.db import Database
from gateway.catalog.models import revocations, signing_keys


async def signing_key_rows(db: Database) -> list[Sequence[Any]]:
    """(kid, alg, private_pem, public_jwk, created_at), oldest first."""
    columns = (signing_keys.c.kid, signing_keys.c.alg, signing_keys.c.private_pem, signing_keys.c.public_jwk)
    query = select(*columns, signing_keys.c.created_at).order_by(signing_keys.c.created_at, signing_keys.c.kid)
    async with db.read() as conn:
        return list((await conn.execute(query)).all())


async def add_signing_key(db: Database, kid: str, alg: str, private_pem: str, public_jwk: str, now: int) -> None:
    async with db.write() as conn:
        await conn.execute(
            insert(signing_keys).values(
                kid=kid, alg=alg, private_pem=private_pem, public_jwk=public_jwk, created_at=now
            )
        )


async def drop_signing_keys(db: Database, kids: list[str]) -> int:
    async with db.write() as conn:
        result = await conn.execute(delete(signing_keys).where(signing_keys.c.kid.in_(kids)))
    return int(result.rowcount)


async def revoke(db: Database, subject: str, min_version: int, expires_at: int) -> None:
    async with db.write() as conn:
        await conn.execute(
            insert(revocations).values(subject=subject[:255], min_version=min_version, expires_at=expires_at)
        )


async def revocations_after(db: Database, seq: int, now: int) -> list[Sequence[Any]]:
    """(seq, subject, min_version, expires_at) of the live rows after ``seq``, in order."""
    query = (
        select(revocations.c.seq, revocations.c.subject, revocations.c.min_version, revocations.c.expires_at)
        .where(revocations.c.seq > seq, revocations.c.expires_at > now)
        .order_by(revocations.c.seq)
    )
    async with db.read() as conn:
        return list((await conn.execute(query)).all())


async def purge_revocations(db: Database, now: int) -> int:
    async with db.write() as conn:
        result = await conn.execute(delete(revocations).where(revocations.c.expires_at <= now))
    return int(result.rowcount)
