"""Where the folders beside the package are: data/, translations/ and migrations/ of a checkout,
or the copies an installed wheel carries inside the package (pyproject.toml ships them there)."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# The checkout the package runs from; in an installed wheel, site-packages (nothing of ours).
CHECKOUT = PACKAGE.parent


def shipped(name: str) -> Path:
    """The folder `name` inside the installed package, else the checkout's."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else CHECKOUT / name


DATA = shipped("data")
TRANSLATIONS = shipped("translations")
MIGRATIONS = shipped("migrations")
# A checkout keeps its instance folder (the SQLite file of `make run`) beside the code; an
# installed wheel leaves it to Flask's default (<prefix>/var/finder-instance) or INSTANCE_PATH.
IS_CHECKOUT = MIGRATIONS.parent == CHECKOUT
