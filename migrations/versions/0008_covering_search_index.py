"""covering search index: tags, category and id read from the index

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 14:20:00

"""
from typing import Sequence, Union

from alembic import op


revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_search_box')
        batch_op.create_index(
            'ix_activity_search_box',
            ['status', 'lat', 'lon', 'tags_mask', 'category', 'id'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_search_box')
        batch_op.create_index('ix_activity_search_box', ['status', 'lat', 'lon'], unique=False)
