"""Text folding shared by search and the gazetteer: case, accents and punctuation do not matter."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def fold(text: str) -> str:
    """'Sint-Niklaas' and 'sint niklaas' fold alike; 'Café' becomes 'cafe'."""
    if text.isascii():  # nothing to decompose (most titles: a map has 200 in its links)
        stripped = text
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped.casefold()).replace("_", " ").strip()
