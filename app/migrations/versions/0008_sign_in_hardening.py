"""sign-in hardening: failed sign-ins, idle sessions, last sign-in, single-sign-on identity

``sign_in_failures`` backs the per-account and per-client back-off across processes;
``user_sessions.last_seen_at`` the idle timeout and ``chain_id`` token rotation;
``users.last_sign_in_at`` the Users page; ``users.oidc_issuer``/``oidc_subject`` bind an
account to one identity of the single-sign-on provider.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import review_queue.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("at", review_queue.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_failures_account"), ["account"])
        batch_op.create_index(batch_op.f("ix_sign_in_failures_client"), ["client"])
        batch_op.create_index(batch_op.f("ix_sign_in_failures_at"), ["at"])
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_seen_at", review_queue.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("chain_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "last_sign_in_at", review_queue.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("oidc_issuer", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
        batch_op.add_column(
            sa.Column("oidc_subject", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
        )
        batch_op.create_unique_constraint(
            "uq_users_oidc_identity", ["oidc_issuer", "oidc_subject"]
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_users_oidc_identity", type_="unique")
        batch_op.drop_column("oidc_subject")
        batch_op.drop_column("oidc_issuer")
        batch_op.drop_column("last_sign_in_at")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_column("chain_id")
        batch_op.drop_column("last_seen_at")
    with op.batch_alter_table("sign_in_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_failures_at"))
        batch_op.drop_index(batch_op.f("ix_sign_in_failures_client"))
        batch_op.drop_index(batch_op.f("ix_sign_in_failures_account"))
    op.drop_table("sign_in_failures")
