"""stored next session of each activity, in the covering search index

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 19:00:00

"""
from datetime import UTC, datetime, timedelta
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BOX = ['status', 'lat', 'lon', 'tags_mask', 'category']


def upgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_starts_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('next_ends_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('next_checked_at', sa.DateTime(), nullable=True))
        batch_op.drop_index('ix_activity_search_box')
        batch_op.create_index(
            'ix_activity_search_box',
            BOX + ['next_checked_at', 'next_ends_at', 'next_starts_at', 'id'],
            unique=False,
        )
    # Fill them in now (as search.store_next_sessions does); until then search looks the next
    # session up among the sessions, as before.
    now = datetime.now(UTC).replace(tzinfo=None)
    first = (
        "SELECT o.{col} FROM occurrence o WHERE o.activity_id = activity.id"
        " AND o.starts_at > :since AND o.ends_at > :now AND o.cancelled = false"
        " ORDER BY o.starts_at, o.ends_at DESC LIMIT 1"
    )
    op.get_bind().execute(
        sa.text(
            f"UPDATE activity SET next_starts_at = ({first.format(col='starts_at')}),"
            f" next_ends_at = ({first.format(col='ends_at')}), next_checked_at = :now"
        ).bindparams(
            sa.bindparam('now', now, sa.DateTime()),
            sa.bindparam('since', now - timedelta(hours=24), sa.DateTime()),
        )
    )


def downgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_search_box')
        batch_op.create_index('ix_activity_search_box', BOX + ['id'], unique=False)
        batch_op.drop_column('next_checked_at')
        batch_op.drop_column('next_ends_at')
        batch_op.drop_column('next_starts_at')
