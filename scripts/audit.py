"""`make audit`: Lighthouse (mobile, offline, Debian's Chromium) on the family pages served by
gunicorn on loopback, against DESIGN §8's budgets, then pip-audit of the locked dependencies.

Exit status 1 when a score is under its budget or a known vulnerability is found; the last line
is one JSON object with every score. The test suite runs the same Lighthouse checks for
accessibility, best practices and SEO (tests/browser/test_lighthouse.py); the performance score,
which timing noise on a shared machine can move, is gated here only.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from finder.httpbench import gunicorn

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
BUDGETS = {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 95}
CHROME_FLAGS = " ".join(
    [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
)


@contextmanager
def served(workers: int = 2) -> Iterator[str]:
    """The app with the demo data on a scratch SQLite database, served by gunicorn the way
    `make bench` serves it (finder.httpbench)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "INSTANCE_PATH": tmp,
            "DATABASE_URL": f"sqlite:///{tmp}/audit.sqlite",
            # Offline: a blank tile from our own host, 512 px for Leaflet's 256 px box, so that
            # Lighthouse's "image size responsive" (a phone's 1.75 pixel ratio) judges our page,
            # not a stand-in for the operator's tile server. Real tiles stay 256 px: sharper
            # (retina) tiles would cost a family four times the map data.
            "MAP_TILE_URL": "/static/img/tile.png",
            "GEOCODER_ENABLED": "0",
            "WEB_CONCURRENCY": str(workers),
            # Served as in production, on loopback (where plain http is allowed); gunicorn()
            # sets PUBLIC_BASE_URL and TRUSTED_HOSTS to where it serves (this one is setup's).
            "MEEGAAN_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "PUBLIC_BASE_URL": "http://127.0.0.1",
        }
        subprocess.run(
            [str(BIN / "flask"), "--app", "finder", "setup", "--demo"],
            env={**os.environ, **env},
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        # 127.0.0.1: Lighthouse counts it as a secure origin, like localhost
        with gunicorn("wsgi:app", env, ROOT, "/", host="127.0.0.1") as base:
            yield base


def pages(base: str) -> dict[str, str]:
    """Home, results (the list; then opened at its map, which map.js draws when it comes on
    screen; then the map of all 162 demo activities, grouped), an activity and its come-along
    form."""
    html = urllib.request.urlopen(base + "/activities?where=9000&lang=nl").read().decode()
    start = html.index('<h3><a href="/activities/') + len('<h3><a href="')
    detail = html[start : html.index('"', start)].split("?")[0]
    activity_id = detail.split("/")[2].split("-")[0]
    return {
        "home": f"{base}/?lang=nl",
        "results": f"{base}/activities?where=9000&lang=nl",
        "results-map": f"{base}/activities?where=9000&lang=nl#map",
        "results-map-all": f"{base}/activities?where=9000&radius_km=100&lang=nl#map",
        "detail": f"{base}{detail}?lang=nl",
        "come-along": f"{base}/activities/{activity_id}/come-along?lang=nl",
    }


def lighthouse(url: str, categories: list[str]) -> dict[str, Any]:
    """Run Lighthouse (mobile emulation, its default) on one URL; return scores and failures."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        command = [
            str(LIGHTHOUSE),
            url,
            "--quiet",
            "--output=json",
            f"--output-path={out}",
            f"--only-categories={','.join(categories)}",
            f"--chrome-flags={CHROME_FLAGS}",
        ]
        for attempt in (1, 2):  # Chromium now and then fails to start on a busy machine
            run = subprocess.run(
                command,
                env={**os.environ, "CHROME_PATH": CHROMIUM},
                capture_output=True,
                text=True,
                timeout=180,
            )
            if run.returncode == 0:
                break
            if attempt == 2:
                raise RuntimeError(f"Lighthouse failed on {url}: {run.stderr[-1500:]}")
        report = json.loads(out.read_text())
    scores = {k: round(report["categories"][k]["score"] * 100) for k in categories}
    failing = sorted(
        audit_id
        for k in categories
        for ref in report["categories"][k]["auditRefs"]
        if ref["weight"] > 0
        and (audit_id := ref["id"]) in report["audits"]
        and report["audits"][audit_id]["score"] is not None
        and report["audits"][audit_id]["score"] < 1
    )
    return {"scores": scores, "failing": failing}


def pip_audit() -> dict[str, Any]:
    """pip-audit on constraints.txt; says plainly when its vulnerability source is unreachable."""
    try:
        result = subprocess.run(
            [
                str(BIN / "pip-audit"),
                "-r",
                str(ROOT / "constraints.txt"),
                "--no-deps",
                "--disable-pip",
                "--format",
                "json",
                "--progress-spinner",
                "off",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except FileNotFoundError:
        return {"status": "not installed"}
    if result.returncode not in (0, 1):
        return {"status": "source unreachable", "detail": result.stderr.strip().splitlines()[-1:]}
    found = json.loads(result.stdout or "{}")
    vulnerable = [
        {"name": d["name"], "version": d["version"], "ids": [v["id"] for v in d["vulns"]]}
        for d in found.get("dependencies", [])
        if d.get("vulns")
    ]
    return {"status": "checked", "vulnerable": vulnerable}


def main() -> int:
    results: dict[str, Any] = {}
    ok = True
    with served() as base:
        for name, url in pages(base).items():
            results[name] = lighthouse(url, list(BUDGETS))
            scores = results[name]["scores"]
            under = {k: v for k, v in scores.items() if v < BUDGETS[k]}
            ok = ok and not under
            print(
                f"{name:15} "
                + "  ".join(f"{k} {v}" for k, v in scores.items())
                + (f"   UNDER BUDGET: {under} {results[name]['failing']}" if under else "")
            )
    audit = pip_audit()
    print(
        f"pip-audit: {audit['status']}"
        + (
            f", {len(audit['vulnerable'])} vulnerable package(s)"
            if "vulnerable" in audit
            else (f" ({' '.join(audit.get('detail', []))})" if audit.get("detail") else "")
        )
    )
    if audit.get("vulnerable"):
        ok = False
    print(
        json.dumps(
            {
                "lighthouse": {k: v["scores"] for k, v in results.items()},
                "pip_audit": audit,
                "ok": ok,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
