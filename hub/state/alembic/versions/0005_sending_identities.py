"""sending identities in the send ledger

Revision ID: 0005
Revises: 0004

At the end of each table, as the ledger's row types expect (hub.sending.ledger_schema); the
sends written before count as the implicit identity's (``''``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("send_intents", "sends"):
        op.add_column(
            table, sa.Column("identity", sa.Text, nullable=False, server_default=sa.text("''"))
        )
    op.create_index("sends_identity", "sends", ["identity", "sent_at"])


def downgrade() -> None:
    raise NotImplementedError("the hub's migrations move forward only")
