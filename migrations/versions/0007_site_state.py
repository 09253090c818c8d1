"""site state: the listings version that invalidates cached pages

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 13:50:00

"""
from datetime import datetime
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    table = op.create_table(
        'site_state',
        sa.Column('name', sa.String(length=30), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('changed_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.bulk_insert(table, [{'name': 'listings', 'version': 0, 'changed_at': datetime(2026, 1, 1)}])


def downgrade() -> None:
    op.drop_table('site_state')
