"""Web application: user accounts, sign-in sessions, access log, server settings

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 09:45:00

New tables only; no record table changes. ``app_user`` holds Argon2id password hashes (never passwords),
``web_session`` the SHA-256 of each session token (never the token), ``web_event`` the access log, and
``web_setting`` the server secrets shared by every worker (cookie signing key, pseudonym key).
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('site', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('failed_sign_ins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('created_ts', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('password_ts', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('last_sign_in_ts', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('web_session',
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('user_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('csrf_token', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_ts', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('last_seen_ts', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('client', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_name'], ['app_user.name'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_session_user_name'), ['user_name'], unique=False)
    op.create_table('web_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ts', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('user_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('event', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
    sa.Column('client', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('web_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_event_user_name'), ['user_name'], unique=False)
    op.create_table('web_setting',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('web_setting')
    with op.batch_alter_table('web_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_event_user_name'))
    op.drop_table('web_event')
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_session_user_name'))
    op.drop_table('web_session')
    op.drop_table('app_user')
