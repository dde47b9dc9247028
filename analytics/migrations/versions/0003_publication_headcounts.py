"""Publication headcounts: the agents of each published territory and year, frozen with the publication.

Rates per 100 agents divide a published count by these headcounts; keeping them with the publication
means a later headcount import cannot change the rates of a publication already presented.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publication_headcount",
        sa.Column("publication_id", sa.Integer, nullable=False),
        sa.Column("geo_niveau", sa.String(12), nullable=False),
        sa.Column("geo_code", sa.String(64), nullable=False),
        sa.Column("annee", sa.Integer, nullable=False),
        sa.Column("effectif_agents", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(["publication_id"], ["publication.id"],
                                name="fk_publication_headcount_publication_id_publication"),
        sa.PrimaryKeyConstraint("publication_id", "geo_niveau", "geo_code", "annee", name="pk_publication_headcount"),
    )


def downgrade() -> None:
    op.drop_table("publication_headcount")
