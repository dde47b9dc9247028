"""Alert register of the veille: watch runs, alerts with their evidence, qualification history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_run",
        sa.Column("publication_id", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("period_min", sa.String(7)),
        sa.Column("period_max", sa.String(7)),
        sa.Column("series_count", sa.Integer, nullable=False),
        sa.Column("monthly_series", sa.Integer, nullable=False),
        sa.Column("quarterly_series", sa.Integer, nullable=False),
        sa.Column("unwatched_series", sa.Integer, nullable=False),
        sa.Column("alpha", sa.Float, nullable=False),
        sa.Column("fdr_q", sa.Float, nullable=False),
        sa.Column("expected_false_alerts", sa.Float, nullable=False),
        sa.Column("expected_false_alerts_fdr", sa.Float, nullable=False),
        sa.Column("alert_count", sa.Integer, nullable=False),
        sa.Column("cluster_count", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.ForeignKeyConstraint(["publication_id"], ["publication.id"], name="fk_alert_run_publication_id_publication"),
        sa.PrimaryKeyConstraint("publication_id", name="pk_alert_run"),
    )
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("publication_id", sa.Integer, nullable=False),
        sa.Column("signature", sa.String(400), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("geo_niveau", sa.String(12), nullable=False),
        sa.Column("geo_code", sa.String(255), nullable=False),
        sa.Column("zones", sa.Text),
        sa.Column("dimension", sa.String(40), nullable=False),
        sa.Column("modalite", sa.String(64), nullable=False),
        sa.Column("periode_niveau", sa.String(10), nullable=False),
        sa.Column("periode", sa.String(7), nullable=False),
        sa.Column("debut", sa.String(7), nullable=False),
        sa.Column("fin", sa.String(7), nullable=False),
        sa.Column("methode", sa.String(20), nullable=False),
        sa.Column("observe", sa.Float, nullable=False),
        sa.Column("attendu", sa.Float, nullable=False),
        sa.Column("seuil", sa.Float),
        sa.Column("p_value", sa.Float, nullable=False),
        sa.Column("gravite", sa.String(12), nullable=False),
        sa.Column("secret", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["publication_id"], ["publication.id"], name="fk_alert_publication_id_publication"),
        sa.PrimaryKeyConstraint("id", name="pk_alert"),
        sa.UniqueConstraint("publication_id", "signature", name="uq_alert_publication_signature"),
    )
    op.create_index("ix_alert_publication_id", "alert", ["publication_id"])
    op.create_index("ix_alert_signature", "alert", ["signature"])
    op.create_table(
        "alert_qualification",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("signature", sa.String(400), nullable=False),
        sa.Column("etat", sa.String(16), nullable=False),
        sa.Column("commentaire", sa.Text, nullable=False),
        sa.Column("auteur", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"], name="fk_alert_qualification_alert_id_alert"),
        sa.PrimaryKeyConstraint("id", name="pk_alert_qualification"),
    )
    op.create_index("ix_alert_qualification_alert_id", "alert_qualification", ["alert_id"])
    op.create_index("ix_alert_qualification_signature", "alert_qualification", ["signature"])


def downgrade() -> None:
    op.drop_table("alert_qualification")
    op.drop_table("alert")
    op.drop_table("alert_run")
