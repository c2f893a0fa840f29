"""Language negotiation and the small catalogue of page strings: zh-CN first, English second."""

from __future__ import annotations

SUPPORTED = ("zh-CN", "en")
LANGUAGE_COOKIE = "regio_lang"


def negotiate(accept_language: str | None, cookie: str | None = None, query: str | None = None) -> str:
    """Picks zh-CN or en: an explicit choice (query, then cookie) wins over the browser's list."""
    for explicit in (query, cookie):
        if explicit:
            chosen = _match(explicit)
            if chosen:
                return chosen
    if accept_language:
        ranked: list[tuple[float, int, str]] = []
        for position, part in enumerate(accept_language.split(",")):
            pieces = part.strip().split(";")
            tag = pieces[0].strip()
            quality = 1.0
            for param in pieces[1:]:
                name, _, value = param.strip().partition("=")
                if name == "q":
                    try:
                        quality = float(value)
                    except ValueError:
                        quality = 0.0
            if tag and quality > 0:
                ranked.append((-quality, position, tag))
        for _, _, tag in sorted(ranked):
            chosen = _match(tag)
            if chosen:
                return chosen
    return SUPPORTED[0]


def _match(tag: str) -> str | None:
    lowered = tag.lower()
    if lowered.startswith("zh"):
        return "zh-CN"
    if lowered.startswith("en"):
        return "en"
    return None


def is_zh(language: str) -> bool:
    return language.startswith("zh")
