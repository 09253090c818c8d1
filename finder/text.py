"""Text folding shared by search and the gazetteer: case, accents and punctuation do not matter."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
# Everything that ends a line somewhere: CR, LF, vertical tab, form feed, the C1 "next line",
# the file/group/record separators Python splits lines on, and Unicode's line and paragraph
# separators. In a mail header any of them can end the header (or start a new one).
_LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")


def one_line(text: str) -> str:
    """A single-line field's value with every line break turned into one space: what reaches
    a mail's subject, a slip or a header must never start a new line."""
    return _LINE_BREAKS.sub(" ", text)


def fold(text: str) -> str:
    """'Sint-Niklaas' and 'sint niklaas' fold alike; 'Café' becomes 'cafe'."""
    if text.isascii():  # nothing to decompose (most titles: a map has 200 in its links)
        stripped = text
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub(" ", stripped.casefold()).replace("_", " ").strip()


# How werkzeug writes a path segment (`BaseConverter.to_url`).
SEGMENT_SAFE = "!$&'()*+,/:;=@"


def slugify(title: str) -> str:
    """'Café & taart' becomes 'cafe-taart': the words of a title for an address."""
    return re.sub(r"\s+", "-", fold(title))[:60].strip("-") or "activity"


def url_slug(title: str) -> str:
    """A title's slug as it stands in the detail page's address (`/activities/17-<slug>`),
    quoted as werkzeug quotes a path segment. Activities store it (`Activity.slug`)."""
    return quote(slugify(title), safe=SEGMENT_SAFE)
