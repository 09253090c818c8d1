"""search bands: each activity numbered by its band of latitude, the search index led by it

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 04:00:00

"""
import math
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

NEXT = ['next_checked_at', 'next_ends_at', 'next_starts_at']
OLD = ['status', 'lat', 'lon', 'tags_mask', 'category'] + NEXT + ['id']
NEW = ['status', 'lat_band', 'lon', 'lat', 'tags_mask', 'category'] + NEXT + ['id']


def _band(lat: float) -> int:
    """`finder.geo.band_of` as it was when this revision was written (50 bands a degree)."""
    return math.floor(lat * 50)


def upgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lat_band', sa.Integer(), nullable=True))
    # Numbered in Python, by the very formula the app uses (SQLite's floor() depends on how
    # it was built), in batches: a million activities need not fit in memory at once.
    bind = op.get_bind()
    activity = sa.table('activity', sa.column('id'), sa.column('lat'), sa.column('lat_band'))
    update = (
        sa.update(activity)
        .where(activity.c.id == sa.bindparam('key'))
        .values(lat_band=sa.bindparam('band'))
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(activity.c.id, activity.c.lat)
            .where(activity.c.id > last)
            .order_by(activity.c.id)
            .limit(20000)
        ).all()
        if not rows:
            break
        bind.execute(update, [{'key': i, 'band': _band(lat)} for i, lat in rows])
        last = rows[-1][0]
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.alter_column('lat_band', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index('ix_activity_search_box')
        batch_op.create_index('ix_activity_search_band', NEW, unique=False)


def downgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_search_band')
        batch_op.create_index('ix_activity_search_box', OLD, unique=False)
        batch_op.drop_column('lat_band')
