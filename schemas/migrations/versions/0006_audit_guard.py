"""Audit trail append-only in the database: UPDATE, DELETE (and TRUNCATE) on audit_log refused; audit_head
only moves forward, to the newest entry of audit_log

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 15:00:00

SQLite and PostgreSQL triggers (see docs/audit.md). A database owner can still drop them; what the triggers do not
stop, `tkitrack audit verify --anchor` detects.
"""

from alembic import op

from tkitrack.schemas.audit_guard import guard_statements, unguard_statements

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in guard_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in unguard_statements(op.get_bind().dialect.name):
        op.execute(statement)
