"""The wheel is the whole app: built from the checkout's files, installed in a fresh virtual
environment and run from elsewhere, it migrates, loads the demo and serves the results page in
Dutch and in Arabic."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = sorted(p.name for p in (ROOT / "translations").iterdir() if p.is_dir())

pytestmark = pytest.mark.package

# Run by the installed app (the fresh environment's Python): where it found its folders, and
# the results page in two languages.
PROBE = """
import json, sys
import finder, finder.demo, finder.geo, finder.resources as r
from finder import create_app
found = {
    "package": finder.__file__,
    "data": str(r.DATA), "translations": str(r.TRANSLATIONS), "migrations": str(r.MIGRATIONS),
    "demo_json": finder.demo.DEMO_JSON.is_file(),
    "gazetteer": finder.geo.GAZETTEER_CSV.is_file(),
}
if sys.argv[1] == "pages":
    client = create_app().test_client()
    for lang in ("nl", "ar"):
        page = client.get(f"/activities?where=9000&per_page=100&lang={lang}")
        found[lang] = [page.status_code, page.get_data(as_text=True)]
print(json.dumps(found))
"""


def _checkout() -> list[str]:
    """The checkout's files as a fresh clone has them (and new ones not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    return [name for name in listed if name and (ROOT / name).is_file()]


def _files(*folders: str) -> set[str]:
    return {name for name in _checkout() if name.startswith(tuple(f"{f}/" for f in folders))}


def _msgstr(locale: str, msgid: str) -> str:
    with (ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return str(read_po(fh)[msgid].string)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built, offline, from a copy of the checkout's own files (no compiled catalog,
    no build folder left over: what a fresh clone has)."""
    tmp = tmp_path_factory.mktemp("package")
    source = tmp / "source"
    for name in _checkout():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    assert not list(source.rglob("*.mo"))
    dist = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
    )
    (built,) = dist.glob("meegaan-*.whl")
    return built


def test_the_wheel_carries_templates_assets_data_catalogs_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert _files("finder/templates", "finder/static") <= names
    assert {f"finder/{name}" for name in _files("data", "migrations")} <= names
    assert "finder/data/gazetteer.csv" in names and "finder/data/demo/demo.json" in names
    for locale in LOCALES:
        assert f"finder/translations/{locale}/LC_MESSAGES/messages.mo" in names
    assert not [n for n in names if not n.startswith(("finder/", "meegaan-"))]  # nothing else


def test_the_installed_wheel_sets_up_and_serves_in_dutch_and_arabic(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
         "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    # The dependencies: those of this environment, after the wheel (its .pth files, among
    # them the checkout's editable install, are not read from a path added this way).
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DATABASE_URL")},
        "MEEGAAN_ENV": "development",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "PAGE_CACHE": "off",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(python), *args], cwd=elsewhere, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    found = json.loads(run("-c", PROBE, "where").stdout)
    installed = Path(site) / "finder"
    assert Path(found["package"]).parent == installed  # not the checkout
    assert Path(found["data"]) == installed / "data" and found["demo_json"]
    assert Path(found["translations"]) == installed / "translations"
    assert Path(found["migrations"]) == installed / "migrations"
    assert found["gazetteer"], "the gazetteer is read from the installed package"
    run("-m", "flask", "--app", "finder", "setup", "--demo")
    pages = json.loads(run("-c", PROBE, "pages").stdout)
    demo = json.loads((ROOT / "data" / "demo" / "demo.json").read_text())
    titles = {
        "nl": {a["title"] for a in demo["activities"]},
        "ar": {
            a["translations"]["ar"]["title"]
            for a in demo["activities"]
            if a.get("translations", {}).get("ar", {}).get("title")
        },
    }
    for lang in ("nl", "ar"):
        status, html = pages[lang]
        assert status == 200
        assert f'lang="{lang}"' in html
        assert _msgstr(lang, "soonest first") in html  # the wheel's compiled catalog
        assert any(title in html for title in titles[lang]), lang
    assert 'dir="rtl"' in pages["ar"][1]
