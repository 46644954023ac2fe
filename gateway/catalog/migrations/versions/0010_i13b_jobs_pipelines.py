"""Seed 001's jobs and pipelines: ``api_jobs``, ``api_job_runs`` (one per job and tick),
``pipelines`` and ``pipeline_versions`` (every YAML text kept with its SHA-256).

Revision ID: 0010_i13b
Revises: 0009_i13a
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_i13b"
down_revision = "0009_i13a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False, server_default=""),
        sa.Column("agent_id", sa.String(36), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source_path", sa.Text, nullable=False),
        sa.Column("destination_path", sa.Text, nullable=False),
        sa.Column("schedule", sa.String(120), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_api_jobs_agent", "api_jobs", ["agent_id"])
    op.create_index("ix_api_jobs_owner", "api_jobs", ["owner"])
    op.create_table(
        "api_job_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("tick", sa.BigInteger, nullable=False),
        sa.Column("agent_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("lease_until", sa.BigInteger, nullable=True),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
        sa.Column("bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("files", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.UniqueConstraint("job_id", "tick", name="uq_api_job_runs_tick"),
    )
    op.create_index("ix_api_job_runs_job", "api_job_runs", ["job_id", "started_at"])
    op.create_table(
        "pipelines",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("identifier", sa.String(200), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("owner", sa.String(255), nullable=False, server_default=""),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_pipelines_owner", "pipelines", ["owner"])
    op.create_table(
        "pipeline_versions",
        sa.Column("pipeline_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("yaml", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("task_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("pipeline_versions")
    op.drop_index("ix_pipelines_owner", "pipelines")
    op.drop_table("pipelines")
    op.drop_index("ix_api_job_runs_job", "api_job_runs")
    op.drop_table("api_job_runs")
    op.drop_index("ix_api_jobs_owner", "api_jobs")
    op.drop_index("ix_api_jobs_agent", "api_jobs")
    op.drop_table("api_jobs")
