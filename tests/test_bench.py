"""The benchmark's staff part runs (its figures come from `make bench`, never from a test)."""

from __future__ import annotations

from pathlib import Path

from finder.bench import staff_pages


def test_the_staff_pages_benchmark_signs_in_and_gets_every_page(tmp_path: Path) -> None:
    figures = staff_pages(tmp_path, activities=60, requests=30, rounds=1)
    assert set(figures) == {"staff_pages_p95_ms"} and figures["staff_pages_p95_ms"] > 0
