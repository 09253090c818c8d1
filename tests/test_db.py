"""finder.db.PlainStatement: the same rows as SQLAlchemy's own execution, on both databases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import DateTime, Integer, String, bindparam, select
from sqlalchemy.orm import Session

from finder.db import PlainStatement
from finder.models import Activity

from . import factories as f
from .conftest import NOW


def _statement() -> PlainStatement:
    since = bindparam("since", type_=DateTime())
    return PlainStatement(
        select(Activity.id, Activity.title)
        .where(
            Activity.id.in_(bindparam("ids", expanding=True)),
            Activity.status == "published",  # a value in the statement itself
            Activity.created_at >= since,  # a datetime, used twice
            Activity.updated_at >= since,
            # the very moment stored: a datetime written other than as stored would miss it
            Activity.created_at <= bindparam("until", type_=DateTime()),
            Activity.title.like(bindparam("pattern", type_=String()), escape="\\"),
        )
        .order_by(Activity.id)
        .limit(bindparam("limit", type_=Integer()))
    )


def test_a_plain_statement_finds_what_sqlalchemy_finds(db: Session) -> None:
    made = [
        f.activity(db, title=title)
        for title in ("100% koffie", "Koffie_ochtend", "Thee", "Koffie en taart")
    ]
    made[3].status = "paused"
    for a in made:
        a.created_at = NOW
    db.flush()
    ids = [a.id for a in made] + [10**9]
    plain = _statement()
    at = {"until": NOW}
    for params in (
        {"ids": ids, "since": NOW - timedelta(days=400), "pattern": "%offie%", "limit": 10, **at},
        {"ids": ids, "since": NOW - timedelta(days=400), "pattern": "100\\%%", "limit": 10, **at},
        {"ids": ids[:2], "since": NOW - timedelta(days=400), "pattern": "%", "limit": 1, **at},
        {"ids": ids, "since": NOW + timedelta(days=400), "pattern": "%", "limit": 10, **at},
        {"ids": [], "since": NOW - timedelta(days=400), "pattern": "%", "limit": 10, **at},
    ):
        connection = db.connection()
        expected = [tuple(r) for r in connection.execute(plain.statement, params)]
        assert [tuple(r) for r in plain.execute(connection, params)] == expected
    # The plain way was taken, not SQLAlchemy's (the dialects here use `?` and `%(name)s`).
    assert plain._plans[db.connection().dialect.name] is not None
    first = {"ids": ids, "since": NOW - timedelta(days=9), "pattern": "%offie%", "limit": 9, **at}
    assert [r.title for r in plain.execute(db.connection(), first)] == [
        "100% koffie",
        "Koffie_ochtend",
    ]


def test_a_plain_statement_asks_for_every_parameter(db: Session) -> None:
    plain = _statement()
    try:
        plain.execute(db.connection(), {"ids": [1], "pattern": "%", "limit": 1, "until": NOW})
    except KeyError as missing:
        assert missing.args == ("since",)
    else:
        raise AssertionError("a missing parameter went unnoticed")


def test_plain_rows_have_the_types_sqlalchemy_gives(db: Session) -> None:
    a = f.activity(db, title="Soep", cost_type="amount", cost_amount=Decimal("2.50"))
    a.last_confirmed_at = NOW - timedelta(days=3, microseconds=17)
    db.flush()
    plain = PlainStatement(
        select(
            Activity.id,
            Activity.cost_amount,
            Activity.last_confirmed_at,
            Activity.confirm_requested_at,  # NULL
            Activity.title.label("name"),
        ).where(Activity.id.in_(bindparam("ids", expanding=True)))
    )
    params = {"ids": [a.id]}
    expected = [tuple(r) for r in db.connection().execute(plain.statement, params)]
    for _ in range(2):  # the first run learns the shape of a row
        rows = plain.rows(db.connection(), params)
        assert [tuple(r) for r in rows] == expected
        (row,) = rows
        assert row.cost_amount == Decimal("2.50") and isinstance(row.cost_amount, Decimal)
        assert row.last_confirmed_at == NOW - timedelta(days=3, microseconds=17)
        assert row.confirm_requested_at is None and row.name == "Soep"
