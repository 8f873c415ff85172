"""Named entities: spaCy NER over article bodies, then a canonicalizer that folds the ways one name is written.

spaCy's small English model finds the names but labels a bare surname inconsistently (``Maduro`` is ORG in one
sentence and PERSON in the next) and knows nothing of spelling variants, possessives or honorifics. The functions
here turn its spans into ``Mention`` records whose ``canonical`` is one name per entity within an article, and
`resolve_corpus` links those names across articles and to the entities already in the database.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span

from pipeline.records import Mention
from pipeline.store import SQL_DIR
from pipeline.textnorm import QUOTES

KEPT_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP"})
ALIASES_FILE = SQL_DIR / "seed_data" / "entity_aliases.csv"

_UNNEEDED_PIPES = ("tagger", "attribute_ruler", "lemmatizer", "senter")

_APOSTROPHES = "'‘’′`´"
_TRAILING_POSSESSIVE = re.compile(f"[{_APOSTROPHES}][sS]$|(?<=[sS])[{_APOSTROPHES}]$")
_LEADING_POSSESSIVE_TAIL = re.compile(f"[{_APOSTROPHES}][sS]\\s+")
_INNER_POSSESSIVE = re.compile(f"[{_APOSTROPHES}][sS]\\s")
_EDGE_PUNCTUATION = "\"“”„,;:-–—()[]" + _APOSTROPHES
_HONORIFICS = (
    r"(?:mr|mrs|ms|mx|dr|prof|sen|rep|gov|gen|col|capt|lt|sgt)\.?|miss|sir|dame|lord|lady|professor|senator"
    r"|governor|general|president|vice[- ]president|prime minister|foreign minister|minister|chancellor|king"
    r"|queen|prince|princess|pope|premier|ambassador|secretary|sheikh|the"
)
_LEADING_HONORIFIC = re.compile(f"^(?:{_HONORIFICS})\\s+", re.IGNORECASE)
_ONLY_HONORIFIC = re.compile(f"^(?:{_HONORIFICS})$", re.IGNORECASE)
_DATE_WORDS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "monday tuesday wednesday thursday friday saturday sunday today yesterday tomorrow".split()
)
LONG_RUN_CHARS = 100
_LONG_RUN = re.compile(f"\\S{{{LONG_RUN_CHARS + 1},}}")
PIECE_CHARS = 20_000
"""Longest text the model reads at once; the parser's memory grows with it (a 950k-character body took 3 GB)."""
_NUMBER_OR_ORDINAL = re.compile(r"^[\d.,:/-]+(?:st|nd|rd|th|s)?$")
_MIN_TYPO_WORD = 5


@functools.lru_cache(maxsize=4)
def load_model(model_name: str) -> Language:
    """Load the spaCy pipeline once per process, with the components NER does not use switched off.

    ``ner`` has its own embedding layer but honours the sentence starts set by ``parser``; with the parser off,
    spans run across sentence ends, so ``tok2vec``, ``parser`` and ``ner`` run and give the full pipeline's
    entities exactly.
    """
    nlp = spacy.load(model_name)
    nlp.select_pipes(disable=[name for name in _UNNEEDED_PIPES if name in nlp.pipe_names])
    return nlp


def tag_entities(
    nlp: Language, docs: Sequence[tuple[str | None, str]], batch_size: int = 64
) -> list[tuple[Mention, ...]]:
    """Tag each ``(title, body)`` and return its body mentions, canonicalized within the article.

    Offsets index the body, ``body[m.start_char:m.end_char] == m.surface``, and ``m.label`` is the label voted
    over the article. The title is read only as evidence (a full name, a label vote): the database stores body
    offsets. Every text goes through `model_text` and long bodies through the model in pieces, so no input can
    reach spaCy's length limit or its slow paths.
    """
    bodies = _tagged(nlp, [body for _, body in docs], batch_size)
    titles = nlp.pipe((model_text(title or "") for title, _ in docs), batch_size=batch_size)
    return [_article_mentions(body, title) for body, title in zip(bodies, titles, strict=True)]


def model_text(text: str) -> str:
    """The text as the model reads it: every whitespace-free run longer than `LONG_RUN_CHARS` blanked out.

    spaCy's tokenizer is quadratic in the length of a run without spaces (200 KB of ``(`` takes hours); no name
    is that long, and blanking keeps every offset, so mentions still index the body.
    """
    return _LONG_RUN.sub(lambda run: " " * len(run.group()), text)


def _tagged(nlp: Language, texts: list[str], batch_size: int) -> Iterator[Doc]:
    """One Doc per text, long texts read in pieces of at most `PIECE_CHARS` cut after a line break (else a
    space) and joined again, so memory follows the piece, not the article."""
    pieces = ((piece, index) for index, text in enumerate(texts) for piece in _pieces(model_text(text)))
    current, parts = 0, []
    for doc, index in nlp.pipe(pieces, batch_size=batch_size, as_tuples=True):
        if index != current:
            yield _joined(parts)
            current, parts = index, []
        parts.append(doc)
    if texts:
        yield _joined(parts)


def _pieces(text: str) -> list[str]:
    pieces, start = [], 0
    while len(text) - start > PIECE_CHARS:
        window = text[start : start + PIECE_CHARS]
        cut = window.rfind("\n")
        cut = cut if cut >= 0 else window.rfind(" ")
        end = start + (cut + 1 if cut >= 0 else PIECE_CHARS)
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return pieces


def _joined(parts: list[Doc]) -> Doc:
    return parts[0] if len(parts) == 1 else Doc.from_docs(parts, ensure_whitespace=False)


def canonical_key(name: str) -> str:
    """Fold a name to the key that decides "same entity": accents, case, quotes, dots, possessive, spacing.

    Dots go so that ``U.S.`` and ``US`` meet; dashes are unified but kept.
    """
    text = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    text = _TRAILING_POSSESSIVE.sub("", text.translate(QUOTES).strip()).replace(".", "")
    return " ".join(text.lower().split())


def normalise_name(surface: str) -> str:
    """The name a surface writes: ASCII quotes, single spaces, no possessive, no honorific or leading "the"."""
    name = " ".join(surface.translate(QUOTES).split())
    name = _TRAILING_POSSESSIVE.sub("", name).strip(_EDGE_PUNCTUATION + " ")
    while (honorific := _LEADING_HONORIFIC.match(name)) and name[honorific.end():][:1].isupper():
        name = name[honorific.end():]
    return name


@dataclass(frozen=True)
class CuratedName:
    """The entity a curated alias stands for: its display name and label."""

    name: str
    label: str


@functools.cache
def curated_aliases(path: Path = ALIASES_FILE) -> dict[str, CuratedName]:
    """``canonical_key(name) -> CuratedName`` for every alias and canonical name of the curated alias file.

    The file holds merges no rule can find (``Wladimir Putin``, ``UK``); a curated name's label also overrides
    spaCy's, which is why the canonical names themselves are keys too.
    """
    with path.open(newline="", encoding="utf-8") as lines:
        rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    curated = {canonical_key(row["canonical"]): CuratedName(row["canonical"], row["label"]) for row in rows}
    curated.update({canonical_key(row["alias"]): curated[canonical_key(row["canonical"])] for row in rows})
    return curated


def curate(name: str, label: str) -> tuple[str, str]:
    """``(name, label)``, replaced by the curated entity when the name is a curated alias or canonical name."""
    curated = curated_aliases().get(canonical_key(name))
    return (curated.name, curated.label) if curated else (name, label)


def resolve_corpus(
    mentions_by_article: Iterable[Iterable[Mention]], known: dict[str, tuple[str, str]]
) -> dict[str, tuple[str, str, str]]:
    """Assign every canonical name seen in a batch of articles to one corpus entity.

    Args:
        mentions_by_article: the mentions of each article, e.g. the output of `tag_entities` (or a dict's
            ``.values()``); ``canonical`` and ``label`` are read, ``surface`` only to count spellings.
        known: entities already in the database, ``canonical_key(name) -> (name, label)``.

    Returns:
        ``{canonical: (entity_key, display_name, label)}`` for every ``Mention.canonical`` seen. Names with the
        same ``entity_key`` are one entity. A known entity keeps its key, name and label, so replaying a batch
        changes nothing; a new entity's key is ``canonical_key(display_name)``.

    Linking rules:
        0. a curated alias is read as its curated name and label (`curate`), before the rules below;
        1. the same `canonical_key` is the same entity;
        2. full PERSON names (two words or more) that differ by one typo in one word of five letters or more
           (``Sergei``/``Sergey``, ``Guiado``/``Guaido``) are one person, unless both are known entities;
        3. a PERSON name that is the tail of exactly one full PERSON entity (``Maduro`` -> ``Nicolas Maduro``)
           joins it; if two entities share that tail (``Anna Smith``, ``John Smith``), ``Smith`` stays apart,
           and a name that is itself a known entity stays that entity.
    A new entity is displayed by a full name if it has one, then the form in most articles, then the form
    most often written out in full (a bare ``Lavrov`` says nothing about ``Sergei``/``Sergey``), then the form
    without accents. Its label is the majority over articles, PERSON winning ties when it was seen as a full
    PERSON name.
    """
    given = [list(article) for article in mentions_by_article]
    curated = [[_curated_mention(m) for m in article] for article in given]
    articles: Counter[str] = Counter()
    spelled: Counter[str] = Counter()
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for article in curated:
        for name, label in {(m.canonical, m.label) for m in article}:
            articles[name] += 1
            votes[canonical_key(name)][label] += 1
        spelled.update(m.canonical for m in article if _spells_out(m))
    for key, (_, label) in known.items():
        votes[key][label] += 1
    labels = {key: _vote(counts, person_wins_ties=" " in key) for key, counts in votes.items()}
    persons = {key for key, label in labels.items() if label == "PERSON"}
    linker = _Linker(votes, full={k for k in persons if " " in k}, attachable=persons, pinned=set(known))
    resolved = {}
    for root, members in linker.groups(articles).items():
        if root in known:
            entity = (root, *known[root])
        else:
            display = _display(members, articles, spelled)
            group_votes = sum((votes[canonical_key(m)] for m in members), Counter())
            seen_full = any(" " in key and votes[key]["PERSON"] for key in map(canonical_key, members))
            entity = (canonical_key(display), display, _vote(group_votes, person_wins_ties=seen_full))
        resolved.update(dict.fromkeys(members, entity))
    for article, curated_article in zip(given, curated, strict=True):
        resolved.update({m.canonical: resolved[c.canonical]
                         for m, c in zip(article, curated_article, strict=True) if m.canonical != c.canonical})
    return resolved


def _curated_mention(mention: Mention) -> Mention:
    name, label = curate(mention.canonical, mention.label)
    return replace(mention, canonical=name, label=label)


def _spells_out(mention: Mention) -> bool:
    return canonical_key(normalise_name(mention.surface)) == canonical_key(mention.canonical)


@dataclass(frozen=True)
class _Span:
    """One candidate mention: offsets into its own text, spaCy's (or the curated) label and the cleaned name."""

    start: int
    end: int
    label: str
    name: str


def _article_mentions(body: Doc, title: Doc) -> tuple[Mention, ...]:
    text = body.text
    body_spans = _candidates(body, text)
    resolved = _resolve_article(body_spans + _candidates(title, title.text))
    return tuple(
        Mention(
            surface=text[s.start : s.end],
            label=resolved[s.name][1],
            start_char=s.start,
            end_char=s.end,
            canonical=resolved[s.name][0],
        )
        for s in body_spans
    )


def _candidates(doc: Doc, text: str) -> list[_Span]:
    """Kept-label entity spans, cut at line breaks, trimmed of possessives and quotes, junk dropped.

    A span across a line break is two names glued together (``the United Nations\\nLavrov``): the body puts each
    paragraph on its own line, and the model does not take that as a boundary. A person's name never holds a
    possessive, so a PERSON span ends at one (``Trump's Ukraine`` is ``Trump``).

    ``text`` is ``doc.text``, passed in because spaCy rebuilds it from the tokens on every access.
    """
    lone_persons = {canonical_key(e.text) for e in doc.ents if e.label_ == "PERSON" and len(e) == 1}
    spans = []
    for ent in doc.ents:
        if ent.label_ not in KEPT_LABELS:
            continue
        for start, end in _split_lines(text, ent.start_char, _extend_cut_name(ent, text, lone_persons)):
            if ent.label_ == "PERSON" and (inner := _INNER_POSSESSIVE.search(text, start, end)):
                end = inner.start()
            start, end = _trim(text, start, end)
            name = normalise_name(text[start:end])
            if not _is_junk(name):
                name, label = curate(name, ent.label_)
                spans.append(_Span(start, end, label, name))
    return spans


def _extend_cut_name(ent: Span, text: str, lone_persons: set[str]) -> int:
    """End offset of ``ent``, one word further when the model cut a person's name short.

    The model tags just ``Donald`` in ``President Donald Trump spoke``: when the next word is capitalised, in no
    entity, and tagged as a person on its own elsewhere in the text, it is the rest of the name.
    """
    doc = ent.doc
    after = ent.end + (ent.end < len(doc) and doc[ent.end].is_space)
    if ent.label_ != "PERSON" or after >= len(doc):
        return ent.end_char
    following = doc[after]
    gap = text[ent.end_char : following.idx]
    if (
        gap.isspace()
        and "\n" not in gap
        and following.is_title
        and following.ent_iob_ == "O"
        and canonical_key(following.text) in lone_persons
    ):
        return following.idx + len(following)
    return ent.end_char


def _split_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    pieces, cursor = [], start
    for match in re.finditer(r"[\r\n]+", text[start:end]):
        pieces.append((cursor, start + match.start()))
        cursor = start + match.end()
    pieces.append((cursor, end))
    return pieces


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` past spaces and quotes, a leading ``'s`` left by the word before, a possessive."""
    while start < end and (text[start].isspace() or text[start] in _EDGE_PUNCTUATION):
        tail = _LEADING_POSSESSIVE_TAIL.match(text, start, end)
        start = tail.end() if tail else start + 1
    while True:
        while end > start and (text[end - 1].isspace() or text[end - 1] in _EDGE_PUNCTUATION):
            end -= 1
        possessive = _TRAILING_POSSESSIVE.search(text, start, end)
        if not possessive:
            return start, end
        end = possessive.start()


def _is_junk(name: str) -> bool:
    """Spans that name nothing: one character, no capital letter, numbers, dates, ordinals, a bare honorific."""
    return (
        len(name) < 2
        or not any(c.isupper() for c in name)
        or all(_NUMBER_OR_ORDINAL.match(w) or w in _DATE_WORDS for w in canonical_key(name).split())
        or _ONLY_HONORIFIC.match(name) is not None
    )


def _resolve_article(spans: list[_Span]) -> dict[str, tuple[str, str]]:
    """Map each span name to ``(canonical name, label)`` within one article, title spans included.

    The label is voted over the full-name mentions when the entity has any, since the model mislabels bare
    surnames far more often than full names; otherwise over all its mentions.
    """
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for span in spans:
        votes[canonical_key(span.name)][span.label] += 1
    full = {key for key, counts in votes.items() if " " in key and counts["PERSON"]}
    attachable = {key for key, counts in votes.items() if counts["PERSON"] or not counts.keys() <= {"GPE", "LOC"}}
    forms = Counter(span.name for span in spans)
    resolved = {}
    for members in _Linker(votes, full, attachable, pinned=set()).groups(forms).values():
        keys = {canonical_key(m) for m in members}
        full_votes = sum((votes[k] for k in keys if " " in k), Counter())
        label = _vote(
            full_votes or sum((votes[k] for k in keys), Counter()),
            person_wins_ties=bool(keys & full),
            first=next(span.label for span in spans if span.name in members),
        )
        resolved.update(dict.fromkeys(members, (_display(members, forms), label)))
    return resolved


def _vote(votes: Counter[str], person_wins_ties: bool, first: str | None = None) -> str:
    """The majority label; a tie goes to PERSON when allowed, else to ``first``, else alphabetically."""
    top = max(votes.values())
    tied = sorted(label for label, count in votes.items() if count == top)
    if person_wins_ties and "PERSON" in tied:
        return "PERSON"
    return first if first in tied else tied[0]


def _display(members: set[str], *counts: Counter[str]) -> str:
    """A full (several-word) form, then the most frequent by each counter in turn, then one without accents.

    Last comes the longer form, as typing drops letters more often than it adds them (``Nicola``/``Nicolas``).
    """
    return max(sorted(members), key=lambda m: (" " in m, *(c[m] for c in counts), m.isascii(), len(m)))


class _Linker:
    """Union-find over `canonical_key` keys, applying the linking rules listed in `resolve_corpus`.

    ``full`` are the several-word PERSON keys that others may join; ``attachable`` are the keys allowed to join
    one as its tail. Two ``pinned`` keys (entities already in the database) never end up in one group, and a
    group holding a pinned key has it as root.
    """

    def __init__(self, keys: Iterable[str], full: set[str], attachable: set[str], pinned: set[str]):
        self.parent = {key: key for key in keys}
        self.pinned = pinned
        self.by_last_word: dict[str, set[str]] = defaultdict(set)
        by_variant: dict[tuple, set[str]] = defaultdict(set)
        for key in sorted(full):
            words = key.split()
            self.by_last_word[words[-1]].add(key)
            for i, word in enumerate(words):
                for variant in _one_deletion_variants(word):
                    bucket = by_variant[(i, variant, *words[:i], "", *words[i + 1 :])]
                    for other in bucket:
                        if _one_typo(word, other.split()[i]):
                            self._union(key, other)
                    bucket.add(key)
        for key in sorted(attachable):
            self._attach_tail(key)

    def groups(self, names: Iterable[str]) -> dict[str, set[str]]:
        """Group the given names, each under the root of its `canonical_key`."""
        grouped: dict[str, set[str]] = defaultdict(set)
        for name in names:
            grouped[self._find(canonical_key(name))].add(name)
        return grouped

    def _attach_tail(self, key: str) -> None:
        """Join ``key`` to the full name it ends, if there is just one (typos are not matched: Harry is not Parry).

        A pinned key stays the entity it was: its rows are already in the database under that name.
        """
        if key in self.pinned:
            return
        targets = {self._find(f) for f in self.by_last_word.get(key.split()[-1], ()) if f.endswith(" " + key)}
        if len(targets) == 1:
            self._union(key, targets.pop())

    def _find(self, key: str) -> str:
        while self.parent[key] != key:
            self.parent[key] = key = self.parent[self.parent[key]]
        return key

    def _union(self, a: str, b: str) -> None:
        root_a, root_b = self._find(a), self._find(b)
        if root_a == root_b or (root_a in self.pinned and root_b in self.pinned):
            return
        if root_a in self.pinned:
            root_a, root_b = root_b, root_a
        self.parent[root_a] = root_b


def _one_deletion_variants(word: str) -> set[str]:
    """The word and each way of deleting one letter: two words one typo apart always share one of these."""
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}


def _one_typo(a: str, b: str) -> bool:
    """One substitution, insertion, deletion or swap of neighbours, in words long enough to tell apart.

    A change of a final ``a``/``o`` is another name (Daniel/Daniela, Mario/Maria), not a typo.
    """
    if a == b or min(len(a), len(b)) < _MIN_TYPO_WORD or abs(len(a) - len(b)) > 1:
        return False
    same = 0
    while same < min(len(a), len(b)) and a[same] == b[same]:
        same += 1
    rest_a, rest_b = a[same:], b[same:]
    if same >= min(len(a), len(b)) - 1 and {rest_a[-1:], rest_b[-1:]} & {"a", "o"}:
        return False
    swapped = len(rest_a) == len(rest_b) > 1 and rest_a[:2] == rest_b[1::-1] and rest_a[2:] == rest_b[2:]
    return rest_a[1:] == rest_b[1:] or rest_a[1:] == rest_b or rest_a == rest_b[1:] or swapped
