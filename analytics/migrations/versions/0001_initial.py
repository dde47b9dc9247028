"""Initial schema: import batches, services, raw aggregates, headcounts.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_batch",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("author", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("service_count", sa.Integer, nullable=False),
        sa.Column("period_min", sa.String(7)),
        sa.Column("period_max", sa.String(7)),
        sa.Column("period_count", sa.Integer, nullable=False),
        sa.Column("replaced_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("replaced_summary", sa.Text),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("rolled_back_at", sa.DateTime(timezone=True)),
        sa.Column("rolled_back_by", sa.String(120)),
    )
    op.create_index("ix_import_batch_content_hash", "import_batch", ["content_hash"])
    op.create_table(
        "service",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("libelle", sa.String(255)),
        sa.Column("type_service", sa.String(64)),
        sa.Column("departement", sa.String(3), nullable=False),
    )
    op.create_table(
        "aggregate",
        sa.Column("periode", sa.String(7), primary_key=True),
        sa.Column("service", sa.String(64), primary_key=True),
        sa.Column("dimension", sa.String(40), primary_key=True),
        sa.Column("modalite", sa.String(64), primary_key=True),
        sa.Column("effectif", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("import_batch.id"), nullable=False),
    )
    op.create_index("ix_aggregate_batch_id", "aggregate", ["batch_id"])
    op.create_table(
        "aggregate_replaced",
        sa.Column("replaced_by", sa.Integer, sa.ForeignKey("import_batch.id"), nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("import_batch.id"), nullable=False),
        sa.Column("periode", sa.String(7), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("dimension", sa.String(40), nullable=False),
        sa.Column("modalite", sa.String(64), nullable=False),
        sa.Column("effectif", sa.Integer, nullable=False),
    )
    op.create_index("ix_aggregate_replaced_replaced_by", "aggregate_replaced", ["replaced_by"])
    op.create_index("ix_aggregate_replaced_batch_id", "aggregate_replaced", ["batch_id"])
    op.create_table(
        "headcount",
        sa.Column("service", sa.String(64), primary_key=True),
        sa.Column("annee", sa.Integer, primary_key=True),
        sa.Column("effectif_agents", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("import_batch.id"), nullable=False),
    )
    op.create_index("ix_headcount_batch_id", "headcount", ["batch_id"])
    op.create_table(
        "headcount_replaced",
        sa.Column("replaced_by", sa.Integer, sa.ForeignKey("import_batch.id"), nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("import_batch.id"), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("annee", sa.Integer, nullable=False),
        sa.Column("effectif_agents", sa.Integer, nullable=False),
    )
    op.create_index("ix_headcount_replaced_replaced_by", "headcount_replaced", ["replaced_by"])
    op.create_index("ix_headcount_replaced_batch_id", "headcount_replaced", ["batch_id"])


def downgrade() -> None:
    for table in ("headcount_replaced", "headcount", "aggregate_replaced", "aggregate", "service", "import_batch"):
        op.drop_table(table)
