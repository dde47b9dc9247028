"""Alert register: an alert's geo_code becomes unbounded text.

A cluster of the services scan is named by the codes of all its services (comma-separated, up to 64 characters
each), which could exceed the 255 characters of VARCHAR(255) on PostgreSQL. The signature stays VARCHAR(400) (it is
indexed): analytics.veille.register shortens a longer one with a digest of its territory.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite (render_as_batch) rebuilds the table; PostgreSQL alters the type in place (no rewrite: varchar -> text).
    with op.batch_alter_table("alert") as batch:
        batch.alter_column("geo_code", existing_type=sa.String(255), type_=sa.Text, existing_nullable=False)


def downgrade() -> None:
    # Back to VARCHAR(255): a longer code (a large services cluster) is cut, as the old column could hold no more.
    op.execute(sa.text("UPDATE alert SET geo_code = substr(geo_code, 1, 255) WHERE length(geo_code) > 255"))
    with op.batch_alter_table("alert") as batch:
        batch.alter_column("geo_code", existing_type=sa.Text, type_=sa.String(255), existing_nullable=False)
