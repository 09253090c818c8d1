"""stored slugs: each activity keeps its title's slug for the detail page's address

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 06:30:00

"""

import re
import unicodedata
from typing import Sequence, Union
from urllib.parse import quote

import sqlalchemy as sa
from alembic import op


revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def _slug(title: str) -> str:
    """`finder.text.url_slug` as it was when this revision was written."""
    if title.isascii():
        stripped = title
    else:
        decomposed = unicodedata.normalize("NFKD", title)
        stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = _NON_WORD.sub(" ", stripped.casefold()).replace("_", " ").strip()
    slug = re.sub(r"\s+", "-", folded)[:60].strip("-") or "activity"
    return quote(slug, safe="!$&'()*+,/:;=@")


def upgrade() -> None:
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slug", sa.String(length=400), nullable=True))
    # In Python, by the app's formula, in batches: a million activities need not fit in memory.
    bind = op.get_bind()
    activity = sa.table("activity", sa.column("id"), sa.column("title"), sa.column("slug"))
    update = (
        sa.update(activity)
        .where(activity.c.id == sa.bindparam("key"))
        .values(slug=sa.bindparam("new_slug"))
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(activity.c.id, activity.c.title)
            .where(activity.c.id > last)
            .order_by(activity.c.id)
            .limit(20000)
        ).all()
        if not rows:
            break
        bind.execute(update, [{"key": i, "new_slug": _slug(title)} for i, title in rows])
        last = rows[-1][0]
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.alter_column("slug", existing_type=sa.String(length=400), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_column("slug")
