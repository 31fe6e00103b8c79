"""Data entry in the browser: data queries with their steps, and record states (verified, locked)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 14:30:00

New tables only; no record table changes. ``data_query`` holds one query per data point (record, record id,
field) with its state and assigned site, ``data_query_event`` every step of its life (raise, answer, close,
reopen: who, when, text), ``record_state`` whether a record is source data verified and whether it is locked.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "data_query",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", _S(length=64), nullable=False),
        sa.Column("record", _S(length=32), nullable=False),
        sa.Column("record_id", _S(length=64), nullable=False),
        sa.Column("field", _S(length=64), nullable=False),
        sa.Column("site", _S(length=64), nullable=True),
        sa.Column("rule_id", _S(length=16), nullable=True),
        sa.Column("message", _S(length=2000), nullable=False),
        sa.Column("state", _S(length=16), nullable=False),
        sa.Column("raised_by", _S(length=128), nullable=False),
        sa.Column("raised_ts", _S(length=40), nullable=False),
        sa.Column("updated_by", _S(length=128), nullable=False),
        sa.Column("updated_ts", _S(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("data_query", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_query_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_query_site"), ["site"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_query_state"), ["state"], unique=False)
    op.create_table(
        "data_query_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("ts", _S(length=40), nullable=False),
        sa.Column("user", _S(length=128), nullable=False),
        sa.Column("action", _S(length=16), nullable=False),
        sa.Column("old_state", _S(length=16), nullable=True),
        sa.Column("new_state", _S(length=16), nullable=False),
        sa.Column("text", _S(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["query_id"],
            ["data_query.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("data_query_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_query_event_query_id"), ["query_id"], unique=False)
    op.create_table(
        "record_state",
        sa.Column("record", _S(length=32), nullable=False),
        sa.Column("record_id", _S(length=64), nullable=False),
        sa.Column("patient_id", _S(length=64), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verified_by", _S(length=128), nullable=True),
        sa.Column("verified_ts", _S(length=40), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("locked_by", _S(length=128), nullable=True),
        sa.Column("locked_ts", _S(length=40), nullable=True),
        sa.PrimaryKeyConstraint("record", "record_id"),
    )
    with op.batch_alter_table("record_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_state_patient_id"), ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("record_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_state_patient_id"))
    op.drop_table("record_state")
    with op.batch_alter_table("data_query_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_query_event_query_id"))
    op.drop_table("data_query_event")
    with op.batch_alter_table("data_query", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_query_state"))
        batch_op.drop_index(batch_op.f("ix_data_query_site"))
        batch_op.drop_index(batch_op.f("ix_data_query_patient_id"))
    op.drop_table("data_query")
