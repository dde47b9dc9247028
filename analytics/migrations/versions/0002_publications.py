"""Publications: numbered protected cubes (parameters, sources, audit), per-year input hashes, cells.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publication",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(120), nullable=False),
        sa.Column("k", sa.Integer, nullable=False),
        sa.Column("published_set", sa.Text, nullable=False),
        sa.Column("nomenclature_code", sa.String(64), nullable=False),
        sa.Column("nomenclature_hash", sa.String(64), nullable=False),
        sa.Column("source_batches", sa.Text, nullable=False),
        sa.Column("period_min", sa.String(7)),
        sa.Column("period_max", sa.String(7)),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("cell_count", sa.Integer, nullable=False),
        sa.Column("primary_count", sa.Integer, nullable=False),
        sa.Column("secondary_count", sa.Integer, nullable=False),
        sa.Column("audited_cells", sa.Integer, nullable=False),
        sa.Column("audit_failures", sa.Integer, nullable=False),
        sa.Column("audit_summary", sa.Text, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_publication"),
    )
    op.create_table(
        "publication_year",
        sa.Column("publication_id", sa.Integer, nullable=False),
        sa.Column("annee", sa.Integer, nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("primary_count", sa.Integer, nullable=False),
        sa.Column("secondary_count", sa.Integer, nullable=False),
        sa.Column("cell_count", sa.Integer, nullable=False),
        sa.Column("audit_failures", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(["publication_id"], ["publication.id"], name="fk_publication_year_publication_id_publication"),
        sa.PrimaryKeyConstraint("publication_id", "annee", name="pk_publication_year"),
    )
    op.create_index("ix_publication_year_input_hash", "publication_year", ["input_hash"])
    op.create_table(
        "publication_cell",
        sa.Column("publication_id", sa.Integer, nullable=False),
        sa.Column("geo_niveau", sa.String(12), nullable=False),
        sa.Column("geo_code", sa.String(64), nullable=False),
        sa.Column("periode_niveau", sa.String(10), nullable=False),
        sa.Column("periode", sa.String(7), nullable=False),
        sa.Column("dimension", sa.String(40), nullable=False),
        sa.Column("modalite", sa.String(64), nullable=False),
        sa.Column("valeur", sa.Integer),
        sa.Column("secret", sa.Boolean, nullable=False),
        sa.ForeignKeyConstraint(["publication_id"], ["publication.id"], name="fk_publication_cell_publication_id_publication"),
        sa.PrimaryKeyConstraint("publication_id", "geo_niveau", "geo_code", "periode_niveau", "periode", "dimension", "modalite",
                                name="pk_publication_cell"),
    )
    op.create_index("ix_publication_cell_publication_id", "publication_cell", ["publication_id"])


def downgrade() -> None:
    for table in ("publication_cell", "publication_year", "publication"):
        op.drop_table(table)
