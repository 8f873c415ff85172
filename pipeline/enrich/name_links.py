"""Known entities found by name in articles whose language has no NER model.

English NER on a German page tags ``Der``, ``Aber`` and ``Jahr`` as people, so such an article gets no statistical
entities (`pipeline.stages.process.entity_status`). It still names people and places the store knows: a German
article writing "Wladimir Putin" or "Deutschland" should link to Vladimir Putin and Germany. This module finds
those names, with no model: every run of up to `MAX_WORDS` capitalised words is looked up, longest first, among
the names and aliases of known entities, the curated aliases, countries' names in other languages and the names the
same load's NER found. Mentions found so are marked ``linked_by = 'name'``. A name two entities go by links to
neither. A single word links only when it is curated (``EU``) or a place the gazetteer knows (``Berlin``,
``Deutschland``): in German every noun is capitalised, and on the dev pages lone words linked ``Post``, ``Euro`` and
``Education`` as organisations and ``Stefan`` as a person.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pipeline.enrich.names import canonical_key, country_exonyms, curate, curated_aliases
from pipeline.enrich.places import country_code
from pipeline.records import Mention

MAX_WORDS = 4
PLACE_LABELS = frozenset({"GPE", "LOC"})
_WORD = re.compile(r"[^\W\d_][\w'’.\-]*")
_JOINER = re.compile(r"[ \u00a0]+|[ \u00a0]*-[ \u00a0]*")
"""What may stand between two words of one name: spaces or a hyphen, never a line break or punctuation."""


def known_names(entities: Iterable[tuple[str, str, Iterable[str] | None]],
                found: Iterable[tuple[str, str]] = ()) -> dict[str, tuple[str, str]]:
    """``canonical_key(name) -> (entity name, label)`` for every name worth looking for.

    ``entities`` are ``(name, label, aliases)`` of the stored entities, ``found`` the ``(name, label)`` of names
    NER found in the same load. Curated aliases and country names win; a name or alias of two entities is left out.
    """
    fixed = {key: (curated.name, curated.label) for key, curated in curated_aliases().items()}
    fixed |= {key: (english, "GPE") for key, english in country_exonyms().items() if key not in fixed}
    candidates: dict[str, set[tuple[str, str]]] = {}
    for name, label, aliases in entities:
        for form in (name, *(aliases or ())):
            candidates.setdefault(canonical_key(form), set()).add(curate(name, label))
    for name, label in found:
        candidates.setdefault(canonical_key(name), set()).add(curate(name, label))
    unambiguous = {key: meant.pop() for key, meant in candidates.items() if len(meant) == 1}
    return unambiguous | fixed


def name_mentions(body: str, names: Mapping[str, tuple[str, str]]) -> list[Mention]:
    """Mentions of known names in ``body``, longest match first, never overlapping."""
    words = list(_WORD.finditer(body))
    mentions: list[Mention] = []
    i = 0
    while i < len(words):
        taken = _match_at(body, words, i, names) if words[i].group()[0].isupper() else None
        if taken is None:
            i += 1
            continue
        count, mention = taken
        mentions.append(mention)
        i += count
    return mentions


def _match_at(body: str, words: list[re.Match[str]], i: int,
              names: Mapping[str, tuple[str, str]]) -> tuple[int, Mention] | None:
    last = i
    while last + 1 < min(len(words), i + MAX_WORDS) and _JOINER.fullmatch(body, words[last].end(),
                                                                            words[last + 1].start()):
        last += 1
    for end in range(last, i - 1, -1):
        if not words[end].group()[0].isupper():
            continue
        start_char, end_char = words[i].start(), words[end].end()
        surface = body[start_char:end_char].rstrip(".")
        key = canonical_key(surface)
        hit = names.get(key)
        if hit is None:
            continue
        name, label = hit
        if end == i and not _single_word_links(key, name, label):
            continue
        return end - i + 1, Mention(surface, label, start_char, start_char + len(surface), name)
    return None


def _single_word_links(key: str, name: str, label: str) -> bool:
    return key in curated_aliases() or (label in PLACE_LABELS and country_code(name, label) is not None)
