"""Catalog hygiene: every user-facing string extracted and translated, placeholders intact."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = sorted(p.name for p in (ROOT / "translations").iterdir() if p.is_dir())
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with (ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "-k",
            "_l",
            "-o",
            str(pot),
            "finder",
        ],
        cwd=ROOT,
        check=True,
    )
    with pot.open("rb") as fh:
        return read_po(fh)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_extracted_string_is_in_the_catalog(extracted, locale: str) -> None:  # type: ignore[no-untyped-def]
    catalog = _catalog(locale)
    missing = [m.id for m in extracted if m.id and m.id not in catalog]
    assert not missing, f"run `make extract` and translate: {missing}"


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_is_complete_without_fuzzy_entries(locale: str) -> None:
    catalog = _catalog(locale)
    for m in catalog:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        assert all(strings), f"{locale}: no translation for {m.id!r}"
        assert not m.fuzzy, f"{locale}: fuzzy entry {m.id!r}"


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_match_the_source(locale: str) -> None:
    for m in _catalog(locale):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for s in strings:
            found = set(PLACEHOLDER.findall(s))
            # A plural form may say its number in words ("one activity", Arabic's dual).
            if isinstance(m.id, tuple):
                found |= {"num"} & wanted
            assert found == wanted, f"{locale}: {m.id!r} -> {s!r}"


# The count a results page shows, as each language says it for the numbers that pick every
# CLDR plural category (0, 1, 2, 3, 11, 100): a form in the wrong slot shows here.
FOUND = {
    "nl": ["0 activiteiten gevonden", "1 activiteit gevonden", "2 activiteiten gevonden",
           "3 activiteiten gevonden", "11 activiteiten gevonden", "100 activiteiten gevonden"],
    "fr": ["0 activité trouvée", "1 activité trouvée", "2 activités trouvées",
           "3 activités trouvées", "11 activités trouvées", "100 activités trouvées"],
    "en": ["0 activities found", "1 activity found", "2 activities found", "3 activities found",
           "11 activities found", "100 activities found"],
    "ar": ["لم نجد أي نشاط", "وجدنا نشاطًا واحدًا", "وجدنا نشاطين", "وجدنا 3 أنشطة",
           "وجدنا 11 نشاطًا", "وجدنا 100 نشاط"],
    "uk": ["Знайдено 0 заходів", "Знайдено 1 захід", "Знайдено 2 заходи", "Знайдено 3 заходи",
           "Знайдено 11 заходів", "Знайдено 100 заходів"],
    "ru": ["Найдено 0 занятий", "Найдено 1 занятие", "Найдено 2 занятия", "Найдено 3 занятия",
           "Найдено 11 занятий", "Найдено 100 занятий"],
    "tr": [f"{n} etkinlik bulundu" for n in (0, 1, 2, 3, 11, 100)],
    "fa": [f"{n} فعالیت پیدا شد" for n in (0, 1, 2, 3, 11, 100)],
}


@pytest.mark.parametrize("locale", LOCALES)
def test_plural_forms_follow_cldr(locale: str, tmp_path: Path) -> None:
    """Each catalog counts as CLDR's rules say (the header Babel derives from them), and its
    forms stand in the slots those rules pick: Arabic's slot 4 is 100–102, slot 5 is 11–99."""
    from babel.messages.plurals import get_plural
    from babel.support import Translations

    catalog = _catalog(locale)
    rule = get_plural(locale)
    assert (catalog.num_plurals, catalog.plural_expr) == (rule.num_plurals, rule.plural_expr)
    compiled = tmp_path / locale / "LC_MESSAGES" / "messages.mo"
    compiled.parent.mkdir(parents=True)
    subprocess.run(
        [
            sys.executable, "-m", "babel.messages.frontend", "compile", "-l", locale,
            "-i", str(ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po"),
            "-o", str(compiled),
        ],
        check=True,
        capture_output=True,
    )
    path = tmp_path
    t = Translations.load(str(path), [locale])
    said = [
        t.ungettext("%(num)d activity found", "%(num)d activities found", n) % {"num": n}
        for n in (0, 1, 2, 3, 11, 100)
    ]
    assert said == FOUND[locale]


def test_templates_have_no_untranslated_text() -> None:
    """Text between tags must come from gettext; only markup, expressions and names may stay."""
    allowed = re.compile(r"^[\s·,:;?()–\-/|…]*$")
    for template in (ROOT / "finder" / "templates").glob("*.html"):
        source = template.read_text(encoding="utf-8")
        stripped = re.sub(r"{#.*?#}|{%.*?%}|{{.*?}}", "", source, flags=re.S)
        stripped = re.sub(r"<script\b.*?</script>|<style\b.*?</style>", "", stripped, flags=re.S)
        for text in re.findall(r">([^<>]+)<", stripped):
            assert allowed.match(text), f"{template.name}: untranslated text {text.strip()!r}"


# Calls whose argument at this position is shown to people.
USER_FACING_ARGS = {"ParamError": 2, "error_response": 2}


def test_python_sources_pass_user_facing_messages_through_gettext() -> None:
    """Messages given to ParamError and error_response are gettext calls, never bare strings."""
    import ast

    for path in sorted((ROOT / "finder").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            position = USER_FACING_ARGS.get(node.func.id)
            if position is None or len(node.args) <= position:
                continue
            message = node.args[position]
            # A gettext call, or a value computed elsewhere (itself a gettext result); never a
            # literal string.
            assert not isinstance(message, ast.Constant | ast.JoinedStr), (
                f"{path.name}:{node.lineno}: {ast.unparse(message)} is not translated"
            )


def test_every_interface_language_has_a_catalog_and_a_name() -> None:
    from finder.config import from_env
    from finder.web.templating import endonym

    languages = from_env("/tmp")["LANGUAGES"]
    assert sorted(languages) == LOCALES
    assert languages[0] == "nl"  # Dutch is the default
    names = [endonym(code) for code in languages]
    assert names == [
        "Nederlands",
        "Français",
        "English",
        "العربية",
        "Українська",
        "Türkçe",
        "Русский",
        "فارسی",
    ]


@pytest.mark.parametrize("locale", LOCALES)
def test_time_ranges_stay_one_isolated_run(locale: str) -> None:
    """session_words wraps start…end in Unicode isolates; a translation must keep them adjacent."""
    message = _catalog(locale)["%(day)s, %(start)s–%(end)s"]
    assert message is not None and "%(start)s–%(end)s" in message.string


def test_no_template_is_skipped_by_extraction(extracted) -> None:  # type: ignore[no-untyped-def]
    """Babel skips a template it cannot parse without a word (an unknown Jinja extension did)."""
    seen = {path for message in extracted for path, _line in message.locations}
    for template in sorted((ROOT / "finder" / "templates").rglob("*")):
        if template.suffix in (".html", ".txt") and "_(" in template.read_text(encoding="utf-8"):
            assert str(template.relative_to(ROOT)) in seen, f"{template.name} was not extracted"
