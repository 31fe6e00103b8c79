"""Case-series records: exposure.discontinued, followup.disease_status, uncertain 5' partners, karyotype,
constructed dates

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:30:00

Existing rows are kept; the new flag ``exposure.discontinued`` is filled from what the stored interval says
(see docs/case-series.md, "Discontinuation in databases made before schema 0003"): an ended interval is a
discontinuation when its reason says the drug was stopped (complete_response, progression, completed), or when
it is the last interval of that drug for the patient and did not end for a dose change (the rule the SDTM import
uses); every other ended interval was a hold or a dose change.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_RECORDS = ('patient', 'molecular', 'ihc', 'exposure', 'ae', 'assessment', 'procedure', 'disease_event', 'followup')
_STOP_REASONS = ('complete_response', 'progression', 'completed')


def upgrade() -> None:
    for table in _RECORDS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('constructed_dates', sqlmodel.sql.sqltypes.AutoString(length=256),
                                          nullable=True))
    with op.batch_alter_table('exposure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('discontinued', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('followup', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disease_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
    with op.batch_alter_table('molecular', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gene_5p_candidates', sqlmodel.sql.sqltypes.AutoString(length=128),
                                      nullable=True))
        batch_op.add_column(sa.Column('karyotype', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True))

    ex = sa.table('exposure', sa.column('id', sa.Integer), sa.column('patient_id', sa.String),
                  sa.column('drug', sa.String), sa.column('start', sa.Date), sa.column('end', sa.Date),
                  sa.column('reason', sa.String), sa.column('deleted', sa.Boolean),
                  sa.column('discontinued', sa.Boolean))
    later = ex.alias('later')
    has_later = sa.exists().where(
        (later.c.patient_id == ex.c.patient_id) & (later.c.drug == ex.c.drug) & later.c.deleted.is_(False)
        & (later.c.start > ex.c.start)
    )
    stopped = ex.c.end.isnot(None) & (
        ex.c.reason.in_(_STOP_REASONS)
        | ((ex.c.reason.is_(None) | (ex.c.reason != 'dose_change')) & ~has_later)
    )
    op.execute(ex.update().where(stopped).values(discontinued=True))


def downgrade() -> None:
    with op.batch_alter_table('molecular', schema=None) as batch_op:
        batch_op.drop_column('karyotype')
        batch_op.drop_column('gene_5p_candidates')
    with op.batch_alter_table('followup', schema=None) as batch_op:
        batch_op.drop_column('disease_status')
    with op.batch_alter_table('exposure', schema=None) as batch_op:
        batch_op.drop_column('discontinued')
    for table in _RECORDS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('constructed_dates')
