"""Lighthouse (npm, mobile emulation, Debian's Chromium, offline) on the family pages served by
gunicorn: accessibility 100, best practices 100, SEO ≥ 95. These scores do not depend on timing;
the performance score, which does, is gated by `make audit` (scripts/audit.py) and reported."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.browser
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "audit.py"
GATED = ["accessibility", "best-practices", "seo"]


def _audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("meegaan_audit", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lighthouse_scores_of_the_family_pages() -> None:
    audit = _audit()
    results = {}
    with audit.served() as base:
        for name, url in audit.pages(base).items():
            results[name] = audit.lighthouse(url, GATED)
    under = {
        name: (r["scores"], r["failing"])
        for name, r in results.items()
        if any(r["scores"][k] < audit.BUDGETS[k] for k in GATED)
    }
    assert set(results) == {
        "home",
        "results",
        "results-map",
        "results-map-all",
        "detail",
        "come-along",
    }
    assert under == {}
