"""Settings: one object read from the environment, with safe defaults for `make run`."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_TILE_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)


def _float_list(value: str) -> list[float]:
    return [float(x) for x in value.split(",") if x.strip()]


def from_env(instance_path: str) -> dict[str, Any]:
    """Every tunable with its default; the README's configuration table lists the same names."""
    env = os.environ.get
    return {
        "SECRET_KEY": env("SECRET_KEY") or secrets.token_hex(32),
        "DATABASE_URL": env("DATABASE_URL")
        or f"sqlite:///{Path(instance_path) / 'meegaan.sqlite'}",
        "DEFAULT_LOCALE": "nl",
        # Interface languages, Dutch first; a new one needs a catalog in translations/ too.
        "LANGUAGES": ["nl", "fr", "en", "ar", "uk", "tr", "ru", "fa"],
        "TIMEZONE": "Europe/Brussels",
        "DEFAULT_RADIUS_KM": float(env("DEFAULT_RADIUS_KM", "5")),
        "MAX_RADIUS_KM": float(env("MAX_RADIUS_KM", "100")),
        "WIDEN_STEPS_KM": _float_list(env("WIDEN_STEPS_KM", "10,20,50")),
        "MIN_RESULTS": int(env("MIN_RESULTS", "3")),
        "PER_PAGE": int(env("PER_PAGE", "20")),
        "MAX_PER_PAGE": 100,
        "OCCURRENCE_WEEKS": int(env("OCCURRENCE_WEEKS", "8")),
        "LOW_COST_MAX_EUR": float(env("LOW_COST_MAX_EUR", "5")),
        "MAP_TILE_URL": env("MAP_TILE_URL", DEFAULT_TILE_URL),
        "MAP_TILE_ATTRIBUTION": env("MAP_TILE_ATTRIBUTION", DEFAULT_TILE_ATTRIBUTION),
        "MAP_MAX_MARKERS": int(env("MAP_MAX_MARKERS", "200")),
        "PUBLIC_BASE_URL": env("PUBLIC_BASE_URL", ""),
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        "COMPRESS_MIMETYPES": [
            "text/html",
            "text/css",
            "text/calendar",
            "application/javascript",
            "text/javascript",
            "application/json",
            "image/svg+xml",
        ],
        "COMPRESS_MIN_SIZE": 300,
        "SEND_FILE_MAX_AGE_DEFAULT": 3600,
    }
