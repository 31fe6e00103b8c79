"""CDISC exports: patient race, ethnicity, country and planned arm; the six AE seriousness criteria

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00

Existing rows are kept and the new columns are empty (not recorded): SDTM DM gets RACE, ETHNIC, COUNTRY and
ARM from them, and AE its AESDTH, AESLIFE, AESHOSP, AESDISAB, AESCONG and AESMIE (see docs/cdisc.md).
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_CRITERIA = ('serious_death', 'serious_life_threatening', 'serious_hospitalisation', 'serious_disability',
             'serious_congenital_anomaly', 'serious_medically_important')


def upgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('race', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=True))
        batch_op.add_column(sa.Column('ethnicity', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column('country', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True))
        batch_op.add_column(sa.Column('arm', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    with op.batch_alter_table('ae', schema=None) as batch_op:
        for name in _CRITERIA:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ae', schema=None) as batch_op:
        for name in reversed(_CRITERIA):
            batch_op.drop_column(name)
    with op.batch_alter_table('patient', schema=None) as batch_op:
        for name in ('arm', 'country', 'ethnicity', 'race'):
            batch_op.drop_column(name)
