"""Seed 001's pipelines: the API metadata of a task (``pipelines``), every YAML text it was
given (``pipeline_versions``), and the task runs of one task, for the run histories of
pipelines and gateway-run jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from gateway.catalog.db import Database
from gateway.catalog.models import pipeline_versions, pipelines, runs
from gateway.catalog.records import RunRecord
from gateway.catalog.runs import _run as run_record
from gateway.catalog.tasks import TASK_KIND


@dataclass(frozen=True, slots=True)
class PipelineRecord:
    id: str
    identifier: str
    name: str
    description: str
    enabled: bool
    owner: str
    version: int
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class PipelineVersion:
    pipeline_id: str
    version: int
    yaml: str
    sha256: str
    task_version: int
    created_at: int


def _pipeline(row: Any) -> PipelineRecord:
    m = row._mapping
    return PipelineRecord(**{k: m[k] for k in PipelineRecord.__slots__})


def _version(row: Any) -> PipelineVersion:
    m = row._mapping
    return PipelineVersion(**{k: m[k] for k in PipelineVersion.__slots__})


async def insert_pipeline(db: Database, values: dict[str, Any], first: PipelineVersion) -> PipelineRecord | None:
    """The pipeline and its version 1 together (None: the identifier is taken)."""
    try:
        async with db.write() as conn:
            await conn.execute(insert(pipelines).values(**values))
            await conn.execute(insert(pipeline_versions).values(**_values(first)))
            row = (await conn.execute(select(pipelines).where(pipelines.c.id == values["id"]))).one()
    except IntegrityError:
        return None
    return _pipeline(row)


def _values(v: PipelineVersion) -> dict[str, Any]:
    return {k: getattr(v, k) for k in PipelineVersion.__slots__}


async def get(db: Database, pipeline_id: str) -> PipelineRecord | None:
    async with db.read() as conn:
        row = (await conn.execute(select(pipelines).where(pipelines.c.id == pipeline_id))).first()
    return _pipeline(row) if row else None


async def by_identifier(db: Database, identifier: str) -> PipelineRecord | None:
    async with db.read() as conn:
        row = (await conn.execute(select(pipelines).where(pipelines.c.identifier == identifier))).first()
    return _pipeline(row) if row else None


async def search(
    db: Database, owner: str | None, enabled: bool | None, text: str | None, limit: int, offset: int
) -> tuple[int, list[PipelineRecord]]:
    """Pipelines matching the filters; ``text`` is a case-insensitive substring of the
    identifier, the name or the description."""
    clauses = []
    if owner is not None:
        clauses.append(pipelines.c.owner == owner)
    if enabled is not None:
        clauses.append(pipelines.c.enabled == enabled)
    if text:
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append(
            or_(*(func.lower(c).like(pattern, escape="\\") for c in (pipelines.c.identifier, pipelines.c.name,
                                                                      pipelines.c.description)))
        )  # fmt: skip
    async with db.read() as conn:
        total = (await conn.execute(select(func.count()).select_from(pipelines).where(*clauses))).scalar_one()
        rows = await conn.execute(
            select(pipelines).where(*clauses).order_by(pipelines.c.identifier).limit(limit).offset(offset)
        )
        return int(total), [_pipeline(r) for r in rows]


async def update_meta(db: Database, pipeline_id: str, values: dict[str, Any]) -> PipelineRecord | None:
    async with db.write() as conn:
        await conn.execute(update(pipelines).where(pipelines.c.id == pipeline_id).values(**values))
        row = (await conn.execute(select(pipelines).where(pipelines.c.id == pipeline_id))).first()
    return _pipeline(row) if row else None


async def add_version(db: Database, version: PipelineVersion, now: int) -> bool:
    """Make ``version`` the current one; False when another request added that number first."""
    async with db.write() as conn:
        done = await conn.execute(
            update(pipelines)
            .where(pipelines.c.id == version.pipeline_id, pipelines.c.version == version.version - 1)
            .values(version=version.version, updated_at=now)
        )
        if not done.rowcount:
            return False
        await conn.execute(insert(pipeline_versions).values(**_values(version)))
    return True


async def delete_pipeline(db: Database, pipeline_id: str) -> bool:
    async with db.write() as conn:
        await conn.execute(delete(pipeline_versions).where(pipeline_versions.c.pipeline_id == pipeline_id))
        done = await conn.execute(delete(pipelines).where(pipelines.c.id == pipeline_id))
    return bool(done.rowcount)


async def version(db: Database, pipeline_id: str, number: int) -> PipelineVersion | None:
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(pipeline_versions).where(
                    pipeline_versions.c.pipeline_id == pipeline_id, pipeline_versions.c.version == number
                )
            )
        ).first()
    return _version(row) if row else None


async def versions(db: Database, pipeline_id: str, limit: int, offset: int) -> tuple[int, list[PipelineVersion]]:
    clause = pipeline_versions.c.pipeline_id == pipeline_id
    async with db.read() as conn:
        total = (await conn.execute(select(func.count()).select_from(pipeline_versions).where(clause))).scalar_one()
        rows = await conn.execute(
            select(pipeline_versions)
            .where(clause)
            .order_by(pipeline_versions.c.version.desc())
            .limit(limit)
            .offset(offset)
        )
        return int(total), [_version(r) for r in rows]


async def task_runs(db: Database, task: str, limit: int, offset: int) -> tuple[int, list[RunRecord]]:
    """The runs of task ``task``, newest first, with the total before paging."""
    clauses = (runs.c.kind == TASK_KIND, runs.c.action == task)
    async with db.read() as conn:
        total = (await conn.execute(select(func.count()).select_from(runs).where(*clauses))).scalar_one()
        rows = await conn.execute(select(runs).where(*clauses).order_by(runs.c.id.desc()).limit(limit).offset(offset))
        return int(total), [run_record(r) for r in rows]
