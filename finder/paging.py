"""Pages of a staff list: one count and one slice of an ordered query, never the whole list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func
from sqlalchemy.orm import Session

T = TypeVar("T")
# A search box's text is matched with LIKE; longer text never names a title or a code.
MAX_SEARCH_CHARS = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def paginate(session: Session, query: Select[Any], number: int, per_page: int) -> Page[Any]:
    """Page `number` (from 1; past the end means the last page) of an ordered query of one
    entity with an `id`: a COUNT of the same rows, then LIMIT/OFFSET."""
    counted = query.with_only_columns(func.count(), maintain_column_froms=True).order_by(None)
    total = session.scalar(counted) or 0
    pages = max(1, -(-total // per_page))
    number = min(max(1, number), pages)
    # The page's keys first, sorting only narrow rows, then those rows whole: sorting every
    # whole row (descriptions, encrypted notes) to keep 50 costs ten times as much.
    key = query.column_descriptions[0]["entity"].id
    keys = list(
        session.scalars(
            query.with_only_columns(key, maintain_column_froms=True)
            .limit(per_page)
            .offset((number - 1) * per_page)
        )
    )
    items = list(session.scalars(query.where(key.in_(keys)))) if keys else []
    return Page(items=items, number=number, per_page=per_page, total=total)


def like_pattern(text: str) -> str:
    """A LIKE pattern for "contains `text`", its own % and _ taken literally (escape '\\')."""
    cleaned = text.strip()[:MAX_SEARCH_CHARS].lower()
    escaped = cleaned.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
