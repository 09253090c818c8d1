"""Categories, tags, cost types and languages: slugs, icons and translatable labels.

The one source of truth for the taxonomy of DESIGN §3.

Labels are marked with `N_` so that extraction finds them; the web layer translates them when it
renders (this module does not import Flask). Tag bits are stored in `Activity.tags_mask`: never
renumber a bit, only add new ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


def N_(message: str) -> str:
    """Mark a string for translation without translating it here."""
    return message


@dataclass(frozen=True)
class Category:
    slug: str
    label: str
    icon: str


@dataclass(frozen=True)
class Tag:
    slug: str
    bit: int
    label: str
    icon: str
    group: str

    @property
    def mask(self) -> int:
        return 1 << self.bit


CATEGORIES: tuple[Category, ...] = (
    Category("play_meet", N_("Play and meet"), "play_meet"),
    Category("coffee_chat", N_("Coffee and chat"), "coffee_chat"),
    Category("cooking_eating", N_("Cooking and eating together"), "cooking_eating"),
    Category("food_support", N_("Food support"), "food_support"),
    Category("womens_group", N_("Women's group"), "womens_group"),
    Category("parents_babies", N_("Parents and babies"), "parents_babies"),
    Category("language_homework", N_("Language and homework help"), "language_homework"),
    Category("sport", N_("Sport and movement"), "sport"),
    Category("creative_culture", N_("Creative and culture"), "creative_culture"),
    Category("outdoors", N_("Outdoors and nature"), "outdoors"),
    Category("advice_paperwork", N_("Advice and paperwork"), "advice_paperwork"),
)
CATEGORY_BY_SLUG = {c.slug: c for c in CATEGORIES}

TAGS: tuple[Tag, ...] = (
    Tag("free", 0, N_("Free"), "free", "cost"),
    Tag("pay_what_you_can", 1, N_("Pay what you can"), "pay_what_you_can", "cost"),
    Tag("low_cost", 2, N_("Low cost"), "low_cost", "cost"),
    Tag("social_tariff", 3, N_("Social tariff (UiTPAS)"), "social_tariff", "cost"),
    Tag("free_drinks", 4, N_("Free drinks"), "free_drinks", "welcome"),
    Tag("buddy", 5, N_("A buddy can come with you"), "buddy", "accompaniment"),
    Tag("welcomer", 6, N_("Someone welcomes you at the door"), "welcomer", "accompaniment"),
    Tag(
        "professional",
        7,
        N_("Your social worker can come with you"),
        "professional",
        "accompaniment",
    ),
    Tag("walk_in", 8, N_("Walk in, no need to register"), "walk_in", "access"),
    Tag("register", 9, N_("Register first"), "register", "access"),
    Tag("children", 10, N_("Children welcome"), "children", "family"),
    Tag("play_corner", 11, N_("Play corner"), "play_corner", "family"),
    Tag("babies", 12, N_("Babies welcome"), "babies", "family"),
    Tag("women_only", 13, N_("Women only"), "women_only", "people"),
    Tag("open_to_all", 14, N_("Open to everyone"), "open_to_all", "people"),
    Tag("wheelchair", 15, N_("Wheelchair accessible"), "wheelchair", "access"),
    Tag("public_transport", 16, N_("Near public transport"), "public_transport", "access"),
)
TAG_BY_SLUG = {t.slug: t for t in TAGS}
# The tags a family can tick in the search form (DESIGN §7); `register` is shown, not filtered on.
FILTER_TAGS: tuple[Tag, ...] = tuple(t for t in TAGS if t.slug != "register")
ACCOMPANIMENT_TAGS: tuple[Tag, ...] = tuple(t for t in TAGS if t.group == "accompaniment")

# How an activity is paid for. The matching cost tag is derived from it (see `cost_tags`).
COST_TYPES: dict[str, str] = {
    "free": N_("Free"),
    "pay_what_you_can": N_("Pay what you can"),
    "amount": N_("Price"),
}

# Languages that can be spoken at an activity, each named in its own language and script.
LANGUAGES: dict[str, str] = {
    "nl": "Nederlands",
    "fr": "Français",
    "en": "English",
    "de": "Deutsch",
    "ar": "العربية",
    "uk": "Українська",
    "ru": "Русский",
    "tr": "Türkçe",
    "fa": "فارسی",
    "ps": "پښتو",
    "ti": "ትግርኛ",
    "so": "Soomaali",
    "pl": "Polski",
    "ro": "Română",
    "bg": "Български",
    "es": "Español",
    "ber": "Tamaziɣt",
}

# When a family wants to go (DESIGN §7).
WHEN_CHOICES: dict[str, str] = {
    "any": N_("Any time"),
    "today": N_("Today"),
    "week": N_("This week"),
    "weekend": N_("This weekend"),
}


def tags_to_mask(slugs: list[str] | tuple[str, ...] | set[str]) -> int:
    mask = 0
    for slug in slugs:
        mask |= TAG_BY_SLUG[slug].mask
    return mask


def mask_to_tags(mask: int) -> list[str]:
    return list(tags_of(mask))


@lru_cache(maxsize=4096)
def tags_of(mask: int) -> tuple[str, ...]:
    """The tags of a mask, in the taxonomy's order (a page of cards asks for the same few
    masks again and again)."""
    return tuple(t.slug for t in TAGS if mask & t.mask)


def cost_tags(cost_type: str, amount_eur: float | None, low_cost_max_eur: float) -> set[str]:
    """The cost tags that follow from how an activity is paid for."""
    if cost_type == "free":
        return {"free", "low_cost"}
    if cost_type == "pay_what_you_can":
        return {"pay_what_you_can", "low_cost"}
    if amount_eur is not None and amount_eur <= low_cost_max_eur:
        return {"low_cost"}
    return set()
