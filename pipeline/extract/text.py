"""Clean scraped plain text of a news page into an article body plus metadata.

The input is every visible text of a page, one block a line: menus, cookie banners,
teasers, captions and footers mixed with the article. The body is found as the
densest run of prose blocks (a maximum-sum segment over per-block scores, where
boilerplate and section headings such as "Related stories" cost points), so no rule
depends on a particular site. Dates are collected with the rule that found them and chosen by a fixed
precedence, so a choice can be audited and a missing date stays None.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.records import DateCandidate, Extraction
from pipeline.textnorm import fold

RULE_PRECEDENCE = ("explicit_publish_label", "header_metadata", "title_suffix", "byline_date")
"""Publication-date rules, most trusted first: a label saying "published" beats a bare date
line in the page header, which beats the date a site appends to its <title>, which beats a
date next to the author's name. An "Updated" label is used only when none of these fired."""

HEADER_WINDOW = 30
"""How many blocks before the body (and half as many into it) are searched for header dates
and bylines; nav menus further away carry teaser dates that say nothing about this article."""

_CJK_CHARS = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af"
_SEPARATOR = re.compile(
    rf"\s+(?:\||-|\u2013|\u2014|--|::|\u00b7|\u2022|\u00bb)\s+|\s*[|\uff5c\u3163\uff1a]\s*"
    rf"|(?<=[{_CJK_CHARS}])\s*[-\u2013\u2014]\s*(?=[{_CJK_CHARS}])"
)
"""Where a <title> joins headline, section and site: spaced dashes and bars, and in CJK titles also
unspaced dashes, full-width bars and colons and the Hangul-letter bar ("...ㅣ한국일보")."""
_HEADLINE_CUT = re.compile(
    rf"{_SEPARATOR.pattern}|:\s+|\s+(?=\[)|(?<=[{_CJK_CHARS}])\s+(?=[{_CJK_CHARS}])"
)
"""Looser cuts, used only to match a headline shown on the page against parts of the <title>: a
kicker before a colon ("World news: ...") or a bracketed tag may be left off the on-page headline."""
_KEY_WORD = re.compile(r"\w+")
_SENTENCE_END = frozenset(".!?\u3002\uff01\uff1f\u0964\u104b\"'\u201d\u2019\u00bb):;")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_CJK = re.compile(rf"[{_CJK_CHARS}]")

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
    "januar": 1, "jänner": 1, "jän": 1, "februar": 2, "märz": 3, "mär": 3, "mai": 5, "juni": 6,
    "juli": 7, "oktober": 10, "okt": 10, "dezember": 12, "dez": 12,
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "juin": 6, "juillet": 7,
    "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12, "decembre": 12,
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8,
    "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
    "gennaio": 1, "febbraio": 2, "aprile": 4, "maggio": 5, "giugno": 6, "luglio": 7,
    "settembre": 9, "ottobre": 10, "dicembre": 12,
    "janeiro": 1, "fevereiro": 2, "março": 3, "maio": 5, "junho": 6, "julho": 7, "setembro": 9,
    "outubro": 10, "dezembro": 12,
    "januari": 1, "februari": 2, "maart": 3, "mei": 5, "augustus": 8,
}
_MONTH = r"([^\W\d_]{3,10})\.?"
_DATE_PATTERNS = (
    ("ymd", re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")),
    ("ymd", re.compile(r"(?<!\d)(\d{4})/(\d{1,2})/(\d{1,2})(?!\d)")),
    ("ymd", re.compile(r"(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]")),
    ("dmy", re.compile(r"(?<![\d.])(\d{1,2})[./](\d{1,2})[./](\d{4})(?!\d)")),
    ("mdy_name", re.compile(_MONTH + r"\s*(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)", re.I)),
    (
        "dmy_name",
        re.compile(
            r"(?<!\d)(\d{1,2})(?:st|nd|rd|th|er|º)?\.?\s*(?:de\s+)?" + _MONTH + r",?\s+(?:de\s+)?(\d{4})(?!\d)", re.I
        ),
    ),
)

_PUBLISH_LABEL = re.compile(
    r"\b(?:publish(?:ed)?(?:\s+(?:date|on|at|in))?|posted(?:\s+(?:on|at))?|date\s+of\s+publication|first\s+published"
    r"|ver[öo]ffentlicht(?:\s+am)?|erschienen(?:\s+am)?|publi[ée]e?(?:\s+le)?|publicad[oa](?:\s+(?:el|em|en))?"
    r"|pubblicato(?:\s+il)?|gepubliceerd(?:\s+op)?)\s*[:\-\u2013]?\s*",
    re.I,
)
_UPDATED_LABEL = re.compile(
    r"\b(?:last\s+)?(?:updated|modified|aktualisiert|mis\s+[àa]\s+jour|actualizad[oa]|atualizad[oa]|aggiornato"
    r"|bijgewerkt)(?:\s+(?:in|on|at|am|le|el|em|il|op))?\s*[:\-\u2013]?\s*",
    re.I,
)
_DATE_LABEL = re.compile(r"(?:^|\s)(?:date|datum|fecha|data)\s*[:\-]?\s*(?=\d)", re.I)

_BYLINE = re.compile(
    r"^(?:by|von|por|par|di|door|av|af)\s+(?P<name>[^|,\u2022\u00b7]{2,60}?)"
    r"(?:\s*[|,\u2022\u00b7]|\s+(?:updated|published|posted|on|am|le|el)\b|\s*$)",
    re.I,
)
_INPUTS_CREDIT = re.compile(r"^\(?\s*with\s+inputs?\s+from\s+(?P<name>[^)]+?)\s*\)?\.?$", re.I)
_AGENCY_CREDIT = re.compile(r"^[a-z]{1,4}(?:/[a-z]{1,4})+\s*\((?P<name>[^)]{2,60})\)\.?$")
_DATELINE_SITE = re.compile(r"^[A-Z][A-Z .,'\-]{1,40}\s*\((?P<site>[^)]{2,40})\)\s*[\-\u2013\u2014:]")

_STOP_HEADINGS = re.compile(
    r"(?:related(?:\s+(?:stories|articles|content|news|posts|links|coverage|topics|tags|videos))?"
    r"|realted stories|more\s+(?:stories|news|articles|on this|from\b.*)|more\s+from\s+.*"
    r"|read\s+(?:next|more|also)|also\s+read|see\s+also|you\s+(?:may|might)\s+also\s+(?:like|be interested.*)"
    r"|recommended(?:\s+(?:for you|stories|articles))?|latest(?:\s+(?:news|stories|articles))?|don'?t\s+miss"
    r"|most\s+(?:read|popular|viewed|shared)|trending(?:\s+now)?|top\s+stories|editor'?s\s+picks?"
    r"|comments?|\d+\s+comments?|leave\s+a\s+(?:comment|reply)|your\s+comment|post\s+a\s+comment"
    r"|audios?\s+and\s+videos?\s+on\s+the\s+topic|what\s+to\s+read\s+next"
    r"|mehr\s+zum\s+thema|das\s+k[öo]nnte\s+sie\s+auch\s+interessieren|weitere\s+artikel|[äa]hnliche\s+artikel"
    r"|verwandte\s+artikel|lesen\s+sie\s+auch|meistgelesen|kommentare|[àa]\s+lire\s+aussi|sur\s+le\s+m[êe]me\s+sujet"
    r"|noticias\s+relacionadas|art[íi]culos\s+relacionados|leia\s+tamb[ée]m|potrebbe\s+interessarti|tags?|themen"
    r"|[äa]hnliche\s+beitr[äa]ge|auch\s+interessant|explore\s+further|weitere\s+themen|more\s+topics"
    r"|das\s+(?:thema|k[öo]nnte\s+dich)\s+.{0,40}interessieren|diese\s+beitr[äa]ge\s+.{0,40}|meistgelesene?\s*\w*"
    r"|zu\s+den\s+kommentaren\s+springen|anzahl\s+kommentare|articles?\s+connexes|[àa]\s+voir\s+aussi)",
    re.I,
)
_STOP_HEADING_ENDS = re.compile(r".{0,40}\brecommends|.{0,30}\bread\s+next", re.I)
"""Stop headings known by their last words ("The Editors recommends", "Our read next"); apart from
_STOP_HEADINGS, whose alternatives all start with a word, so a block is scanned only when it holds them."""
_BOILER_EXACT = re.compile(
    r"(?:advertisement|anzeige|werbung|publicit[ée]|publicidad|pubblicit[àa]|sponsored|ad|ads|share|share this"
    r"|share (?:on|via) .{1,20}|tweet|print|e-?mail|copy link(?: copied)?|open in app|e-?paper|log ?in|sign ?in"
    r"|register|subscribe|menu|search|suche|home|skip to (?:main )?content|back to top|more info(?: ok)?|ok"
    r"|accept(?: all)?|close|next|previous|weiter|zur[üu]ck|loading\.*|follow us|newsletter|message end/?"
    r"|\d{1,2}:\d{2}(?::\d{2})?|video|photos?|gallery|listen|play|pause|weiterlesen|kommentieren|twittern|teilen"
    r"|en savoir plus|lire la suite|leer m[áa]s|opens in (?:a )?new window|vorheriges?|n[äa]chstes?"
    r"|was denkst du\??)",
    re.I,
)
_BOILER_PREFIX = re.compile(
    r"(?:read more|read also|also read|see also|related|tags|schlagw[öo]rter|themen|watch(?: the)? video|video"
    r"|photos?|fotos?|bild|image|source|quelle|credit|news id|article id|publish date|published|updated|posted"
    r"|last updated|aktualisiert|ver[öo]ffentlicht|mehr zum thema|lesen sie auch|lire aussi|leia tamb[ée]m"
    r"|subscribe|sign up|follow us|share|click here|copyright|\(c\)|\u00a9|getaggt mit|tagged with|filed under"
    r"|kategorie|category)\s*[:\-\u2013]?(?:\s|$)",
    re.I,
)
_BOILER_HINTS = re.compile(
    "cookie|privacy|protection|datenschutz|terms of|rights reserved|subscri|sign|newsletter|abonn|javascript|browser"
    "|adblock|ad blocker|passwor|eingeloggt|einloggen|log in|registr|abo |digital-abo|\u00a9"
)
_BOILER_WORDS = re.compile(
    r"\b(?:cookies?|privacy policy|data protection|datenschutz|terms of (?:use|service)|all rights reserved"
    r"|subscribe|sign up|newsletter|abonnieren|javascript|your browser|ad blocker|adblock|passwor[dt]|einloggen"
    r"|eingeloggt|log in|sign in|registrierung|registration|abo abschlie\w*|digital-abo)\b|\u00a9",
    re.I,
)
_CONSENT = re.compile(
    r"\b(?:cookies?|privacy|personal (?:data|information)|opt[- ]out|consent|third[- ]part(?:y|ies)|your browser"
    r"|datenschutz|einwilligung|donn[ée]es personnelles|datos personales|consentimento)\b",
    re.I,
)
_CONSENT_HINTS = re.compile(
    "cookie|privacy|personal|opt|consent|third|browser|datenschutz|einwilligung|donn|datos"
)
_CREDIT_SLASH = re.compile(
    r"^[A-Z0-9][A-Z0-9 .&\-]{1,30}/[A-Z][A-Z .\-]{2,40}$|/\s*(?:afp|reuters|ap|dpa|epa)\b|\|[^|]{0,60}/[^|]{0,60}$",
    re.I,
)
_CREDIT_WORDS = re.compile(
    r"\b(?:photo|foto|image|bild|picture)\s*(?:credit)?\s*:|\(\s*(?:photo|foto|image|bild)\b|\bgetty images\b"
    r"|\bvia getty\b|\bap photo\b",
    re.I,
)
_CREDIT_HINTS = re.compile("photo|foto|image|bild|picture|getty")
_TEASER_TAIL = re.compile(r"(?:\.\.\.|\u2026|\(\d{1,2}\.\d{1,2}\.\d{4}\)|\b\d+\s*min(?:s|utes)?\s+read)\s*$", re.I)
_TEASER_LAST_CHARS = frozenset(".\u2026)dD")
"""Last characters a teaser tail can end in ("...", "…", "(12.03.2019)", "5 min read"): a cheap test first."""
_VIDEO_MARKER = re.compile(r"^(?:watch(?: the)? video|video|play video)\b.{0,20}$", re.I)
_TIME_OR_ZONE = re.compile(r"\d{1,2}[:.h]\d{2}(?:\s*(?:am|pm|uhr))?|\b[A-Z]{2,4}\b|[^\w]", re.I)
"""What may stand beside a date in a date line: clock times, time zones and weekday abbreviations, punctuation."""
_RELATIVE_TIME = re.compile(r"^\d+\s*(?:hrs?|hours?|mins?|minutes?|days?|std\.?|stunden)\b.{0,30}$", re.I)

CJK_SITE_MAX_CHARS = 10
"""Longest CJK <title> segment taken for a site or section name ("朝日新聞デジタル"); CJK headlines are longer."""

KICKER_MAX_WORDS = 5
"""Longest kicker (overline) set above a headline: "Umbau des Weissen Hauses –", "Emotionales Interview"."""

HEADLINE_MAX_GROWTH = 1.6
"""How much longer than the <title> copy the headline below a kicker may be; standfirsts run longer."""

HEADLINE_SLACK = 10
"""How many more characters than its folded form a headline may take in the raw text (quotes, spaces)."""

TEASER_MAX_CHARS = 400
"""Longest summary a teaser list carries; longer standalone paragraphs are taken as article text."""

_NAME_WORDS = frozenset({"blog", "news", "online", "de", "del", "der", "die", "of", "the", "and", "&", "-", "|"})

_SCORE = {"good": 1.0, "medium": 0.5}
"""Prose earns points per character; a full paragraph counts double a short sentence."""
_PENALTY = {
    "stop": -500, "chrome": -5, "short": -15, "boiler": -60, "meta": -30, "teaser": -60, "caption": -80, "credit": -40,
}
"""Fixed costs of non-prose blocks: a "Related" heading outweighs a few teaser summaries behind
it, while a subheading or an ad slot between two paragraphs does not split the article."""
_DROP_FROM_BODY = {"chrome", "boiler", "meta", "teaser", "caption", "credit", "stop"}


@dataclass
class _Page:
    """Blocks of one page with their kinds and the chosen body span [start, end)."""

    blocks: list[str]
    kinds: list[str]
    start: int
    end: int


def extract_text(text: str, today: dt.date | None = None) -> Extraction:
    """Read the article body, title, site, byline and dates out of a page's visible text."""
    today = today or dt.date.today()
    blocks = _split_blocks(text)
    if not blocks:
        return Extraction(body="")
    kinds = _classify(blocks)
    start, end = _body_span(blocks, kinds)
    page = _Page(blocks, kinds, start, end)
    title = _find_title(page)
    candidates = _date_candidates(page, today)
    published, rule, updated = _choose_dates(candidates)
    return Extraction(
        body=_clean_body(page, title),
        title=title,
        site=_find_site(page, title),
        byline=_find_byline(page),
        published_at=published,
        published_rule=rule,
        updated_at=updated,
        date_candidates=tuple(candidates),
    )


def _split_blocks(text: str) -> list[str]:
    """One block per non-empty line; scraped pages put each visible element on its own line."""
    return [" ".join(line.split()) for line in text.replace("\r", "\n").split("\n") if line and not line.isspace()]


def _words(text: str) -> int:
    """Word count that also works for CJK, where two characters make roughly one word; ASCII text,
    most blocks, skips the CJK scan."""
    if text.isascii():
        return len(text.split())
    return len(text.split()) + len(_CJK.findall(text)) // 2


def _classify(blocks: list[str]) -> list[str]:
    """Kind of every block. Short lines repeated across the page are template chrome ("Article
    content", "Share"); a block after a standalone photo credit or a video marker is its caption."""
    counts = Counter(blocks)
    kind_of = {block: _kind(block) for block in counts}
    kinds = [kind_of[block] for block in blocks]
    for i, block in enumerate(blocks):
        if counts[block] >= 3 and kinds[i] in ("short", "stop"):
            kinds[i] = "chrome"
    _mark_teaser_runs(blocks, kinds)
    for i in range(1, len(blocks)):
        before, kind = kinds[i - 1], kinds[i]
        if before == "credit" and _CREDIT_SLASH.fullmatch(blocks[i - 1]) and kind != "stop":
            kinds[i] = "caption"
        elif kind in ("short", "medium") and not _ends_sentence(blocks[i]) and _VIDEO_MARKER.match(blocks[i - 1]):
            kinds[i] = "teaser"
    return kinds


def _mark_teaser_runs(blocks: list[str], kinds: list[str]) -> None:
    """Mark teaser lists: three or more short prose blocks each standing alone between headline or
    byline lines. Article paragraphs come in runs; teaser summaries come one per headline."""
    isolated = [
        i
        for i, kind in enumerate(kinds)
        if kind in _SCORE
        and len(blocks[i]) < TEASER_MAX_CHARS
        and (i == 0 or kinds[i - 1] not in _SCORE)
        and (i + 1 == len(kinds) or kinds[i + 1] not in _SCORE)
    ]
    run: list[int] = []
    for i in [*isolated, None]:
        if i is not None and run and i - run[-1] <= 4 and "short" in kinds[run[-1] + 1 : i]:
            run.append(i)
            continue
        if len(run) >= 3:
            for j in run:
                kinds[j] = "teaser"
        run = [i] if i is not None else []


def _ends_sentence(block: str) -> bool:
    """Prose ends with sentence punctuation or a closing quote; menus and headlines do not."""
    return block[-1:] in _SENTENCE_END


@functools.lru_cache(maxsize=1 << 16)
def _kind(block: str) -> str:
    """Classify one block as prose ("good"/"medium"), "short", or one kind of boilerplate.

    Cached: a site's menus, share buttons and footers repeat on every one of its pages, so in a batch
    most short blocks have been classified before. The kind depends on the block alone.
    """
    bare = block.strip(" -\u2013\u2014\u2022*|:>")
    words = _words(block)
    lower = block.lower()
    if words <= 8 and _is_stop_heading(bare.rstrip(":").strip(), lower):
        return "stop"
    if words <= 6 and _BOILER_EXACT.fullmatch(bare):
        return "boiler"
    if _is_metadata(block, words):
        return "meta"
    if words <= 40 and (_BOILER_PREFIX.match(bare) or _has_boiler_words(block, lower)):
        return "boiler"
    if words > 40 and _is_consent(block, lower):
        return "boiler"
    if words <= 60 and _is_credit(block, lower):
        return "credit"
    if len(block) < 400 and block[-1] in _TEASER_LAST_CHARS and _TEASER_TAIL.search(block[-40:]):
        return "teaser"
    if words >= 12 and not _ends_sentence(block) and "." not in block[:-1]:
        return "caption"
    if len(block) >= 80 and words >= 10 and _ends_sentence(block):
        return "good"
    if len(block) >= 40 and _ends_sentence(block) or len(block) >= 200:
        return "medium"
    return "short"


def _is_stop_heading(heading: str, lower: str) -> bool:
    """A heading that ends the article ("Related stories", "Mehr zum Thema", "Editor's picks")."""
    if _STOP_HEADINGS.fullmatch(heading):
        return True
    return ("recommends" in lower or "read" in lower) and bool(_STOP_HEADING_ENDS.fullmatch(heading))


def _is_consent(block: str, lower: str) -> bool:
    """A long cookie or data-protection notice: two different consent terms. A case-sensitive
    pre-check first, as the case-insensitive scan of a whole paragraph is slow and prose rarely has any."""
    if not _CONSENT_HINTS.search(lower):
        return False
    return len(set(m.lower() for m in _CONSENT.findall(block))) >= 2


def _has_boiler_words(block: str, lower: str) -> bool:
    """Cookie, subscription and login vocabulary; a case-sensitive pre-check first because the
    case-insensitive word regex is slow and most blocks carry none of it."""
    return bool(_BOILER_HINTS.search(lower) and _BOILER_WORDS.search(block))


def _is_credit(block: str, lower: str) -> bool:
    """Photo credit or a caption carrying one; cheap substring tests first, as most blocks are neither."""
    if "\u00a9" in block or ("/" in block and _CREDIT_SLASH.search(block)):
        return True
    return bool(_CREDIT_HINTS.search(lower) and _CREDIT_WORDS.search(block))


def _is_metadata(block: str, words: int) -> bool:
    """Date lines, bylines, label lines and agency credits: about the article, not of it."""
    if words > 20:
        return False
    if _BYLINE.match(block) or _INPUTS_CREDIT.match(block) or _AGENCY_CREDIT.match(block):
        return True
    if _RELATIVE_TIME.match(block):
        return True
    return _date_dominant(block)


def _date_dominant(block: str) -> bool:
    """True when the block is essentially a date (plus time, weekday or a short label)."""
    found = _find_dates(block)
    if not found:
        return False
    rest = block
    for _, (lo, hi) in found:
        rest = rest[:lo] + " " * (hi - lo) + rest[hi:]
    rest = _TIME_OR_ZONE.sub(" ", rest)
    return len(rest.split()) <= 3


def _body_span(blocks: list[str], kinds: list[str]) -> tuple[int, int]:
    """Maximum-sum run of block scores (Kadane): the stretch where prose outweighs chrome most."""
    best = (0.0, 0, 0)
    run_sum, run_start = 0.0, 0
    for i, (block, kind) in enumerate(zip(blocks, kinds, strict=True)):
        score = len(block) * _SCORE[kind] if kind in _SCORE else _PENALTY[kind]
        if run_sum + score <= 0:
            run_sum, run_start = 0.0, i + 1
            continue
        run_sum += score
        if run_sum > best[0]:
            best = (run_sum, run_start, i + 1)
    return best[1], best[2]


def _find_title(page: _Page) -> str | None:
    """Headline of the page.

    Pages usually open with the HTML <title>, often suffixed with section, site and date;
    the standalone headline line further down is preferred because it is what readers
    saw (its own apostrophes, no suffix). When the first line is metadata (a date label,
    a menu item) the headline is the last headline-like block above the body.
    """
    blocks = page.blocks
    first = blocks[0]
    if _words(first) >= 2:
        shown = _shown_headline(page)
        if shown is not None:
            return _headline_after_kicker(page, shown) or blocks[shown]
        if page.kinds[0] not in ("meta", "boiler", "stop", "credit"):
            return _strip_title_suffix(first)
    for i in range(page.start - 1, max(-1, page.start - HEADER_WINDOW), -1):
        if page.kinds[i] in ("short", "medium", "caption") and 2 <= _words(blocks[i]) <= 20:
            return blocks[i]
    return None


def _shown_headline(page: _Page) -> int | None:
    """Index of the block above the body that repeats the <title> line or its headline part.

    A verbatim repeat of the first line counts whatever its kind (a headline saying "Bild:" looks
    like a credit); a part of it must not be metadata. The longest match wins, then the one
    nearest the body: site names sit in the page header, the headline right above the article.
    """
    first = page.blocks[0]
    full = headline_key(first)
    keys = title_keys(first) - _site_segment_keys(first)
    lead = fold(first[: _SEPARATOR.search(first).start()] if _SEPARATOR.search(first) else first)
    best: tuple[int, int] | None = None
    for i in range(1, min(page.start + 1, len(page.blocks))):
        block = page.blocks[i]
        if len(block) > len(first) + HEADLINE_SLACK:
            continue
        key = headline_key(block)
        if key == full:
            return i
        if _words(block) < 3 or page.kinds[i] in ("meta", "boiler", "stop"):
            continue
        if key in keys or _after_date_prefix(lead, fold(block)):
            if best is None or len(key) >= best[0]:
                best = (len(key), i)
    return best[1] if best else None


def _site_segment_keys(first: str) -> set[str]:
    """Key of the <title>'s last segment when it looks like a site name and the first does not
    ("... - 日本経済新聞", "... : 読売新聞"): a logo line repeating it is not the headline, however well it
    matches the <title>. When both ends look like names ("Site Blog | Short Title") neither is ruled out."""
    cuts = list(_HEADLINE_CUT.finditer(first))
    if not cuts:
        return set()
    head, last = first[: cuts[0].start()].strip(), first[cuts[-1].end() :].strip()
    if not last or not _suffix_like(last) or _suffix_like(head):
        return set()
    return {headline_key(last)}


def _headline_after_kicker(page: _Page, shown: int) -> str | None:
    """The headline two blocks below a copy of the <title>, behind a short kicker ("Emotional interview").

    Many sites print the SEO <title> once more as the last breadcrumb, then the article's own kicker and
    headline. That headline is the one set above the article, so it wins when it is headline-shaped and
    shares at least two words with the <title> copy (it is about the same thing, not a teaser).
    """
    kicker, headline = shown + 1, shown + 2
    if headline > page.start + 2 or headline >= len(page.blocks):
        return None
    if not (_words(page.blocks[kicker]) <= KICKER_MAX_WORDS and page.blocks[kicker][-1] not in ".!?"):
        return None
    block, kind = page.blocks[headline], page.kinds[headline]
    if kind not in ("short", "medium", "caption") or not 3 <= _words(block) <= 30 or block[-1] in ".,;:":
        return None
    if len(block) > HEADLINE_MAX_GROWTH * len(page.blocks[shown]):
        return None
    shared = _content_words(block) & _content_words(page.blocks[shown])
    return block if len(shared) >= 2 else None


def _content_words(text: str) -> set[str]:
    """Folded words of four letters or more: enough to tell two headlines are about the same thing."""
    return {word for word in _KEY_WORD.findall(fold(text)) if len(word) >= 4}


def headline_key(text: str | None) -> str:
    """Comparison key of a headline: folded words only, so quotes, dashes and spacing don't matter."""
    return " ".join(_KEY_WORD.findall(fold(text)))


def title_keys(title: str, loose: bool = True) -> set[str]:
    """Keys of the title and of every run of its parts between separators.

    The on-page headline is usually one of these: "Headline | Site", "Site | Headline",
    "Kicker: Headline | Section - Site" or a CJK title with the site glued on by a bare dash.
    Not `loose`: only at the separators that set off a site or section, not at a kicker's colon.
    """
    cuts = list((_HEADLINE_CUT if loose else _SEPARATOR).finditer(title))
    starts = [0, *(match.end() for match in cuts)]
    ends = [*(match.start() for match in cuts), len(title)]
    keys = {headline_key(title[lo:hi]) for i, lo in enumerate(starts) for hi in ends[i:]}
    keys.discard("")
    return keys


def strip_site_name(title: str, sites: Iterable[str]) -> str:
    """Drop <title> segments that name the site (given as names or domain labels) from either end,
    then section segments left behind the site name ("Headline » Local » News » Site")."""
    names = site_keys(sites)
    cuts = list(_SEPARATOR.finditer(title))
    lo, hi, stripped = 0, len(title), False
    while cuts and names_site(title[cuts[-1].end() : hi], names):
        hi, stripped = cuts.pop().start(), True
    while cuts and names_site(title[lo : cuts[0].start()], names):
        lo = cuts.pop(0).end()
    while stripped and cuts and _suffix_like(title[cuts[-1].end() : hi]):
        hi = cuts.pop().start()
    return title[lo:hi].strip()


def site_keys(sites: Iterable[str]) -> set[str]:
    """Site names and domain labels as spaceless keys, for `names_site`."""
    return {key.replace(" ", "") for key in map(headline_key, sites) if len(key) >= 3}


def names_site(segment: str, names: set[str]) -> bool:
    """True when the segment and a site name contain one another, spaces aside ("Stack Overflow
    Blog" and stackoverflow, "Globalnews.ca" and globalnews)."""
    compact = headline_key(segment).replace(" ", "")
    return len(compact) >= 3 and any(name in compact or compact in name for name in names)


def _after_date_prefix(lead: str, key: str) -> bool:
    """True when the <title> is the headline behind a date label ("date 2019-05-02 Headline")."""
    return lead.endswith(" " + key) and bool(_find_dates(lead[: len(lead) - len(key)]))


def _strip_title_suffix(first: str) -> str:
    """Drop trailing <title> segments that name a site, section or date, keeping the headline's own dashes."""
    cuts = [match.start() for match in _SEPARATOR.finditer(first)]
    while cuts and _suffix_like(first[cuts[-1] :].strip(" |-\u2013\u2014:\u00b7\u2022\u00bb\uff5c\u3163\uff1a")):
        first = first[: cuts.pop()]
    return _strip_comma_dated_suffix(first).replace("\u2032", "'")


def _strip_comma_dated_suffix(title: str) -> str:
    """Drop a ", Site name, 18.05.2026" tail: a comma segment that is a date marks a metadata suffix, and
    the short segment before it is the site or section it dates."""
    head, sep, last = title.rpartition(",")
    if not sep or not head.strip() or not _date_dominant(last):
        return title
    before, sep, site = head.rpartition(",")
    if sep and before.strip() and _words(site) <= KICKER_MAX_WORDS:
        head = before
    return head.rstrip()


def _suffix_like(segment: str) -> bool:
    """A site, section or date segment: a date, a domain, a few capitalised words ("The Daily Star"),
    or in CJK a short name ("新华网"), as CJK headlines run longer without spaces."""
    words = segment.split()
    if _date_dominant(segment):
        return True
    if _CJK.search(segment):
        return len(segment) <= CJK_SITE_MAX_CHARS
    if len(words) == 1:
        return True
    return len(words) <= 5 and all(w[:1].isupper() or w[:1].isdigit() or w.lower() in _NAME_WORDS for w in words)


def _find_site(page: _Page, title: str | None) -> str | None:
    """Publisher named by the <title> suffix ("... | News | DW") or a dateline ("TEHRAN (Agency) -")."""
    if title:
        segments = _SEPARATOR.split(page.blocks[0])
        title_key = fold(title)
        for i in range(len(segments)):
            if title_key in fold(" | ".join(segments[: i + 1])):
                names = [s for s in segments[i + 1 :] if not _date_dominant(s) and _words(s) <= 5]
                if names:
                    return names[-1]
                break
    for block in page.blocks[page.start : page.start + 3]:
        match = _DATELINE_SITE.match(block)
        if match:
            return match.group("site").strip()
    return None


def _find_byline(page: _Page) -> str | None:
    """Author or agency from a "By ..." line near the body, else a "(With inputs from ...)" or
    agency credit line inside or just after it."""
    lo = max(0, page.start - HEADER_WINDOW)
    for block in page.blocks[lo : page.start + 5]:
        match = _BYLINE.match(block)
        if match and _words(match.group("name")) <= 6:
            return match.group("name").strip()
    for block in page.blocks[page.start : page.end + 3]:
        match = _INPUTS_CREDIT.match(block) or _AGENCY_CREDIT.match(block)
        if match:
            return match.group("name").strip()
    return None


def _clean_body(page: _Page, title: str | None) -> str:
    """Body paragraphs of the chosen span, boilerplate out, headline and repeated lead removed.

    Only the head of a block is folded to spot the headline: folding whole paragraphs (Unicode
    decomposition) was the costliest step; repeats are caught on case and spacing alone, as a
    paragraph shown twice on a page is the same text twice.
    """
    title_key = fold(title) if title else None
    kept: list[str] = []
    seen: set[str] = set()
    for block, kind in zip(page.blocks[page.start : page.end], page.kinds[page.start : page.end], strict=True):
        if kind in _DROP_FROM_BODY:
            continue
        if title_key and fold(block[: len(title_key) + HEADLINE_SLACK]).startswith(title_key):
            block = _cut_headline(block, title_key)
        key = " ".join(block.casefold().split()).rstrip(" .!?")
        if not block or key in seen:
            continue
        seen.add(key)
        kept.append(block)
    return "\n\n".join(kept)


def _cut_headline(block: str, title_key: str) -> str:
    """Remove a headline repeated as the block or glued to the front of its first sentence."""
    for cut in range(max(1, len(title_key) - 5), min(len(block), len(title_key) + HEADLINE_SLACK) + 1):
        if fold(block[:cut]) == title_key:
            return block[cut:].lstrip(" :\u2013\u2014-")
    return block


def _find_dates(text: str) -> list[tuple[dt.date, tuple[int, int]]]:
    """Every calendar date written in the text, with its span; impossible dates are skipped."""
    if not _YEAR.search(text):
        return []
    found = []
    taken: list[tuple[int, int]] = []
    for order, pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            span = match.span()
            if any(lo < span[1] and span[0] < hi for lo, hi in taken):
                continue
            value = _to_date(order, match.groups())
            if value:
                found.append((value, span))
                taken.append(span)
    found.sort(key=lambda item: item[1][0])
    return found


def _to_date(order: str, groups: tuple[str, ...]) -> dt.date | None:
    """Date from regex groups; numeric dates are day-first unless only month-first is valid."""
    if order == "ymd":
        year, month, day = groups
    elif order == "dmy":
        day, month, year = groups
        if int(month) > 12 >= int(day):
            day, month = month, day
    elif order == "mdy_name":
        month, day, year = _MONTHS.get(groups[0].lower(), 0), groups[1], groups[2]
    else:
        day, month, year = groups[0], _MONTHS.get(groups[1].lower(), 0), groups[2]
    try:
        value = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    return value if value.year >= 1990 else None


def _date_candidates(page: _Page, today: dt.date) -> list[DateCandidate]:
    """Dates from labels, header lines, the <title> suffix and the byline, never from captions,
    teasers or the body's prose, and never later than today.

    Bare date lines are ranked by distance from the body start: the line next to the
    article is its dateline, lines further away belong to menus and teaser lists.
    """
    out: list[DateCandidate] = []
    if _SEPARATOR.search(page.blocks[0]):
        out += _title_suffix_dates(page.blocks[0])
    near: list[tuple[int, DateCandidate]] = []
    lo, hi = max(0, page.start - HEADER_WINDOW), min(page.end, page.start + HEADER_WINDOW // 2)
    for i, block in enumerate(page.blocks[: page.end]):
        kind = page.kinds[i]
        if kind in ("caption", "teaser", "stop") or (kind in _SCORE and i > page.start + 2):
            continue
        labelled = _labelled_dates(block)
        if labelled:
            out += labelled
        elif lo <= i < hi and kind == "meta":
            rule = "byline_date" if _BYLINE.match(block) else "header_metadata"
            near += [(abs(i - page.start), DateCandidate(value, rule)) for value, _ in _find_dates(block)[:1]]
    out += [candidate for _, candidate in sorted(near, key=lambda item: item[0])]
    return list(dict.fromkeys(c for c in out if c.value <= today))


def _title_suffix_dates(first: str) -> list[DateCandidate]:
    """The date a site appends to its <title> ("Headline | News | DW | 04.12.2018")."""
    segments = _SEPARATOR.split(first)
    found = [value for segment in segments[1:] for value, _ in _find_dates(segment)]
    return [DateCandidate(value, "title_suffix") for value in found[:1]]


def _labelled_dates(block: str) -> list[DateCandidate]:
    """Dates right after a "Published"/"Updated"/"Date" label, each tagged with its label's rule."""
    out: list[DateCandidate] = []
    if not _YEAR.search(block):
        return out
    for label, rule, kind in (
        (_PUBLISH_LABEL, "explicit_publish_label", "published"),
        (_UPDATED_LABEL, "updated_label", "updated"),
        (_DATE_LABEL, "header_metadata", "published"),
    ):
        if label is _DATE_LABEL and out:
            break
        for match in label.finditer(block):
            found = _find_dates(block[match.end() : match.end() + 40])
            if found and found[0][1][0] <= 12:
                out.append(DateCandidate(found[0][0], rule, kind))
    return out


def _choose_dates(candidates: list[DateCandidate]) -> tuple[dt.date | None, str | None, dt.date | None]:
    """Published date by RULE_PRECEDENCE; an "Updated" date stands in only when nothing else was found."""
    updated = next((c.value for c in candidates if c.kind == "updated"), None)
    for rule in RULE_PRECEDENCE:
        chosen = next((c for c in candidates if c.rule == rule and c.kind == "published"), None)
        if chosen:
            return chosen.value, rule, updated
    if updated:
        return updated, "updated_label", None
    return None, None, None
