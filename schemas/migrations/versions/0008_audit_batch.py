"""Batch audit entries: audit_batch_row holds the records of one chain entry per imported record type, append-only

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 17:00:00

An import audits each record type as one chain entry (action "insert batch") whose hash commits to a SHA-256 over
its records, and one narrow row per record here (id order is the digest's order). Existing entries are left as
they are: a per-record insert entry stays valid and readers accept both (docs/audit.md).
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel

from tkitrack.schemas.audit_guard import batch_guard_statements, batch_unguard_statements

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "audit_batch_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_seq", sa.Integer(), nullable=False),
        sa.Column("record_id", _S(length=64), nullable=False),
        sa.Column("patient_id", _S(length=64), nullable=True),
        sa.Column("new_value", _S(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_batch_row", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_batch_row_patient_id"), ["patient_id"], unique=False)
    for statement in batch_guard_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in batch_unguard_statements(op.get_bind().dialect.name):
        op.execute(statement)
    with op.batch_alter_table("audit_batch_row", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_batch_row_patient_id"))
    op.drop_table("audit_batch_row")
