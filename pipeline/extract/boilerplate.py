"""Block classification and body selection for the visible text of a scraped page.

The input is every visible text of a page, one block a line: menus, cookie banners, teasers, captions and footers
mixed with the article. Each block gets a kind (prose, a short line, or one kind of boilerplate or metadata), and the
body is the densest run of prose blocks, a maximum-sum segment over per-block scores where boilerplate and section
headings such as "Related stories" cost points, so no rule depends on a particular site. Separate from the title and
date rules: they read the classified `Page` this module returns, and the classifier's multilingual vocabulary can be
tuned without touching them.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass

from pipeline.extract.dates import date_dominant
from pipeline.textnorm import fold

HEADER_WINDOW = 30
"""How many blocks before the body (and half as many into it) make the page header, searched for the headline,
dates and bylines; nav menus further away carry teaser dates that say nothing about this article."""

CJK_CHARS = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af"
"""Kana, CJK ideographs and Hangul: scripts whose words `word_count` estimates from characters, and whose
<title> separators the title rules also find without spaces around them."""
CJK_CHAR = re.compile(rf"[{CJK_CHARS}]")
_SENTENCE_END = frozenset(".!?\u3002\uff01\uff1f\u0964\u104b\"'\u201d\u2019\u00bb):;")

BYLINE = re.compile(
    r"^(?:by|von|por|par|di|door|av|af)\s+(?P<name>[^|,\u2022\u00b7]{2,60}?)"
    r"(?:\s*[|,\u2022\u00b7]|\s+(?:updated|published|posted|on|am|le|el)\b|\s*$)",
    re.I,
)
INPUTS_CREDIT = re.compile(r"^\(?\s*with\s+inputs?\s+from\s+(?P<name>[^)]+?)\s*\)?\.?$", re.I)
AGENCY_CREDIT = re.compile(r"^[a-z]{1,4}(?:/[a-z]{1,4})+\s*\((?P<name>[^)]{2,60})\)\.?$")
"""Byline and credit lines: classified as metadata here, read for the author and the byline date by the text path."""
_NAME = r"[A-Z][\w'’.\-]*(?:\s[A-Z][\w'’.\-]*){1,3}"
WIRE_BYLINE = re.compile(f"^(?P<name>{_NAME})$")
"""A wire story's byline: the reporter's name on a line of its own, just above the dateline (`WIRE_DATELINE`)."""
WIRE_DATELINE = re.compile(r"^[A-Z][A-Z .,'\-]{1,40}\s+(?:\d{4}-\d\d-\d\d|\(\w+\))")
"""``NEW YORK 1996-08-30``, ``LONDON (Reuters)``: a city in capitals, then a date or the agency."""
WIRE_SIGNATURE = re.compile(rf"^--\s*(?P<name>{_NAME}),\s")
"""The reporter's sign-off closing a wire story: ``-- Harry Milling, New York Energy Desk, +1 212-859-1761``."""

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
_RELATIVE_TIME = re.compile(r"^\d+\s*(?:hrs?|hours?|mins?|minutes?|days?|std\.?|stunden)\b.{0,30}$", re.I)

HEADLINE_SLACK = 10
"""How many more characters than its folded form a headline may take in the raw text (quotes, spaces)."""

TEASER_MAX_CHARS = 400
"""Longest summary a teaser list carries; longer standalone paragraphs are taken as article text."""

PROSE_SCORE = {"good": 1.0, "medium": 0.5}
"""Prose earns points per character; a full paragraph counts double a short sentence."""
_PENALTY = {
    "stop": -500, "chrome": -5, "short": -15, "boiler": -60, "meta": -30, "teaser": -60, "caption": -80, "credit": -40,
}
"""Fixed costs of non-prose blocks: a "Related" heading outweighs a few teaser summaries behind
it, while a subheading or an ad slot between two paragraphs does not split the article."""
_DROP_FROM_BODY = frozenset({"chrome", "boiler", "meta", "teaser", "caption", "credit", "stop"})
NAVIGATION_KINDS = frozenset({"chrome", "boiler", "stop"})
_DROP_FROM_WHOLE_TEXT = NAVIGATION_KINDS | {"meta", "credit"}
"""A plain text's lines that are still not the article: its dateline, byline and credits."""


@dataclass
class Page:
    """Blocks of one page with their kinds and the chosen body span [start, end)."""

    blocks: list[str]
    kinds: list[str]
    start: int
    end: int


def read_page(text: str) -> Page | None:
    """The page's blocks with their kinds and the chosen body span; None when the text has no visible line."""
    blocks = _split_blocks(text)
    if not blocks:
        return None
    kinds = _classify(blocks)
    start, end = _body_span(blocks, kinds)
    return Page(blocks, kinds, start, end)


def _split_blocks(text: str) -> list[str]:
    """One block per non-empty line; scraped pages put each visible element on its own line."""
    return [" ".join(line.split()) for line in text.replace("\r", "\n").split("\n") if line and not line.isspace()]


def word_count(text: str) -> int:
    """Word count that also works for CJK, where two characters make roughly one word; ASCII text,
    most blocks, skips the CJK scan."""
    if text.isascii():
        return len(text.split())
    return len(text.split()) + len(CJK_CHAR.findall(text)) // 2


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
    for i in range(len(blocks) - 1):
        if kinds[i] == "short" and WIRE_BYLINE.match(blocks[i]) and WIRE_DATELINE.match(blocks[i + 1]):
            kinds[i] = "meta"
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
        if kind in PROSE_SCORE
        and len(blocks[i]) < TEASER_MAX_CHARS
        and (i == 0 or kinds[i - 1] not in PROSE_SCORE)
        and (i + 1 == len(kinds) or kinds[i + 1] not in PROSE_SCORE)
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


@functools.lru_cache(maxsize=1 << 12)
def _kind(block: str) -> str:
    """Classify one block as prose ("good"/"medium"), "short", or one kind of boilerplate.

    Cached: a site's menus, share buttons and footers repeat on every one of its pages, so in a batch
    most short blocks have been classified before. The kind depends on the block alone. A few thousand blocks
    hold a batch's repeats; the cache holds the blocks themselves, prose included, so at 65,536 it grew a worker
    by 45 MB over its first 10k articles.
    """
    bare = block.strip(" -\u2013\u2014\u2022*|:>")
    words = word_count(block)
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
    if (len(block) >= 40 and _ends_sentence(block)) or len(block) >= 200:
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
    return len({m.lower() for m in _CONSENT.findall(block)}) >= 2


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
    if BYLINE.match(block) or INPUTS_CREDIT.match(block) or AGENCY_CREDIT.match(block) or WIRE_SIGNATURE.match(block):
        return True
    if _RELATIVE_TIME.match(block):
        return True
    return date_dominant(block)


def _body_span(blocks: list[str], kinds: list[str]) -> tuple[int, int]:
    """Maximum-sum run of block scores (Kadane): the stretch where prose outweighs chrome most."""
    best = (0.0, 0, 0)
    run_sum, run_start = 0.0, 0
    for i, (block, kind) in enumerate(zip(blocks, kinds, strict=True)):
        score = len(block) * PROSE_SCORE[kind] if kind in PROSE_SCORE else _PENALTY[kind]
        if run_sum + score <= 0:
            run_sum, run_start = 0.0, i + 1
            continue
        run_sum += score
        if run_sum > best[0]:
            best = (run_sum, run_start, i + 1)
    return best[1], best[2]


def is_plain_text(page: Page) -> bool:
    """The text was written as an article (a wire brief, a results table), not scraped from a page: not one line
    of navigation, boilerplate or a "Related stories" heading. Scraped pages of the dev set have one at least, even
    those whose prose is short (a CJK article, a blog post)."""
    return not any(kind in NAVIGATION_KINDS for kind in page.kinds)


def whole_text_body(page: Page, title: str | None) -> str:
    """Every line of a plain text but its headline, dateline, byline and credits: the body of short-form news.

    A two-sentence brief or a results table has no run of long prose blocks for `clean_body` to choose, yet each
    of its short lines is the news (``1. Michelle Freeman (Jamaica) 12.71 seconds``).
    """
    return clean_body(Page(page.blocks, page.kinds, 0, len(page.blocks)), title, _DROP_FROM_WHOLE_TEXT)


def clean_body(page: Page, title: str | None, dropped: frozenset[str] = _DROP_FROM_BODY) -> str:
    """Body paragraphs of the chosen span, boilerplate out, headline and repeated lead removed.

    Only the head of a block is folded to spot the headline: folding whole paragraphs (Unicode
    decomposition) was the costliest step; repeats are caught on case and spacing alone, as a
    paragraph shown twice on a page is the same text twice.
    """
    title_key = fold(title) if title else None
    kept: list[str] = []
    seen: set[str] = set()
    for block, kind in zip(page.blocks[page.start : page.end], page.kinds[page.start : page.end], strict=True):
        if kind in dropped:
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
