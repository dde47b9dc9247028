"""Report comments: the comment a CTSS writes in the app for a report, kept with the publication it comments.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_comment",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("publication_id", sa.Integer, nullable=False),
        sa.Column("report_type", sa.String(24), nullable=False),
        sa.Column("territory", sa.String(600), nullable=False),
        sa.Column("annee", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("author", sa.String(120), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["publication_id"], ["publication.id"], name="fk_report_comment_publication_id_publication"),
        sa.PrimaryKeyConstraint("id", name="pk_report_comment"),
    )
    op.create_index("ix_report_comment_key", "report_comment", ["report_type", "territory", "annee", "publication_id"])


def downgrade() -> None:
    op.drop_index("ix_report_comment_key", table_name="report_comment")
    op.drop_table("report_comment")
