"""encrypted outbox and request free text: a mail's recipient, subject and bodies, and what
staff typed about a family's visit (who receives them, where, what to bring), are encrypted at
rest like the family's own fields; delivered mails lose their bodies; failed mails say when

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 14:00:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = "0012"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BATCH = 5000
OUTBOX_TEXT = ("to_address", "subject", "body_text", "body_html")
REQUEST_TEXT = ("welcomer_name", "meeting_point", "bring")


def _vault():  # type: ignore[no-untyped-def]
    """The app's vault (create_app configures it from DATA_KEYS: run `flask db-upgrade`)."""
    from finder.vault import vault

    return vault()


def _rewrite(table: sa.TableClause, columns: Sequence[str], change) -> None:  # type: ignore[no-untyped-def]
    """Every row's `columns` through `change(row) -> {column: value}`, in batches by id: a
    large outbox need not fit in memory."""
    bind = op.get_bind()
    update = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("key"))
        .values({c: sa.bindparam(f"new_{c}") for c in columns})
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(table).where(table.c.id > last).order_by(table.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            update,
            [
                {"key": row.id, **{f"new_{c}": v for c, v in change(row).items()}}
                for row in rows
            ],
        )
        last = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("to_address", existing_type=sa.String(length=254), type_=sa.Text())
        batch_op.alter_column("subject", existing_type=sa.String(length=300), type_=sa.Text())
        batch_op.alter_column("body_text", existing_type=sa.Text(), nullable=True)
        batch_op.alter_column("body_html", existing_type=sa.Text(), nullable=True)
        batch_op.add_column(sa.Column("last_attempt_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("accompaniment_request", schema=None) as batch_op:
        batch_op.alter_column(
            "welcomer_name", existing_type=sa.String(length=100), type_=sa.Text(), nullable=True
        )
        batch_op.alter_column(
            "meeting_point", existing_type=sa.String(length=300), type_=sa.Text(), nullable=True
        )
        batch_op.alter_column(
            "bring",
            existing_type=sa.String(length=300),
            type_=sa.Text(),
            nullable=True,
            server_default=None,
            existing_server_default=sa.text("''"),
        )

    outbox = sa.table(
        "outbox", sa.column("id"), sa.column("status"), *(sa.column(c) for c in OUTBOX_TEXT)
    )

    def seal_mail(row):  # type: ignore[no-untyped-def]
        sent = row.status == "sent"  # delivered: its bodies are worth nothing any more
        return {
            "to_address": _vault().encrypt(row.to_address),
            "subject": _vault().encrypt(row.subject),
            "body_text": None if sent or row.body_text is None else _vault().encrypt(row.body_text),
            "body_html": None if sent or row.body_html is None else _vault().encrypt(row.body_html),
        }

    _rewrite(outbox, OUTBOX_TEXT, seal_mail)

    request = sa.table(
        "accompaniment_request",
        sa.column("id"),
        sa.column("purged_at"),
        *(sa.column(c) for c in REQUEST_TEXT),
    )

    def seal_request(row):  # type: ignore[no-untyped-def]
        # Empty stays empty (NULL); a purged request's text is erased, as purge now does.
        return {
            c: None
            if row.purged_at is not None or not getattr(row, c)
            else _vault().encrypt(getattr(row, c))
            for c in REQUEST_TEXT
        }

    _rewrite(request, REQUEST_TEXT, seal_request)


def downgrade() -> None:
    outbox = sa.table(
        "outbox", sa.column("id"), sa.column("status"), *(sa.column(c) for c in OUTBOX_TEXT)
    )

    def open_mail(row):  # type: ignore[no-untyped-def]
        # A delivered mail's bodies are gone for good: they come back empty.
        return {c: "" if getattr(row, c) is None else _vault().decrypt(getattr(row, c)) for c in OUTBOX_TEXT}

    _rewrite(outbox, OUTBOX_TEXT, open_mail)
    request = sa.table("accompaniment_request", sa.column("id"), *(sa.column(c) for c in REQUEST_TEXT))

    def open_request(row):  # type: ignore[no-untyped-def]
        return {c: "" if getattr(row, c) is None else _vault().decrypt(getattr(row, c)) for c in REQUEST_TEXT}

    _rewrite(request, REQUEST_TEXT, open_request)
    with op.batch_alter_table("accompaniment_request", schema=None) as batch_op:
        batch_op.alter_column(
            "bring",
            existing_type=sa.Text(),
            type_=sa.String(length=300),
            nullable=False,
            server_default="",
        )
        batch_op.alter_column(
            "meeting_point", existing_type=sa.Text(), type_=sa.String(length=300), nullable=False
        )
        batch_op.alter_column(
            "welcomer_name", existing_type=sa.Text(), type_=sa.String(length=100), nullable=False
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("last_attempt_at")
        batch_op.alter_column("body_html", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("body_text", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("subject", existing_type=sa.Text(), type_=sa.String(length=300))
        batch_op.alter_column("to_address", existing_type=sa.Text(), type_=sa.String(length=254))
