"""The wheel's build step: compiled catalogs (.mo) go in beside the .po they come from, so a
wheel built from a clean checkout speaks every language (the rest is in pyproject.toml)."""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(Path("translations").glob("*/LC_MESSAGES/messages.po")):
            target = Path(self.build_lib) / "finder" / po.with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalog = read_po(source)
            with target.open("wb") as out:
                write_mo(out, catalog)  # fuzzy entries left out, as `pybabel compile`


setup(cmdclass={"build_py": BuildWithCatalogs})
