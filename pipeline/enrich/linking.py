"""Corpus linking: every canonical name seen in a batch of articles assigned to one entity, old or new.

Per-article resolution (`pipeline.enrich.entities`) leaves one name per entity within an article; across articles the
same person still appears as ``Sergei Lavrov``, ``Sergey Lavrov`` and ``Lavrov``. `resolve_corpus` links those names
with each other and with the entities already in the database. Separate from tagging because it needs no model and
runs in the load stage, against what is stored; its union-find (`Linker`) and label vote also group the names within
one article.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace

from pipeline.enrich.names import canonical_key, curate, normalise_name
from pipeline.records import Mention

_MIN_TYPO_WORD = 5
DOMINANCE = 4
"""A surname shared by several full names joins the one seen in at least this many times the articles of the next
(``Trump``: Donald Trump in 112 articles, Melania Trump in 3); closer than that, it stays apart."""


def resolve_corpus(
    mentions_by_article: Iterable[Iterable[Mention]], known: dict[str, tuple[str, str]],
    known_articles: Mapping[str, int] | None = None,
) -> dict[str, tuple[str, str, str]]:
    """Assign every canonical name seen in a batch of articles to one corpus entity.

    Args:
        mentions_by_article: the mentions of each article, e.g. the output of `tag_entities` (or a dict's
            ``.values()``); ``canonical`` and ``label`` are read, ``surface`` only to count spellings.
        known: entities already in the database, ``canonical_key(name) -> (name, label)``.
        known_articles: how many stored articles mention each known entity (by key), for rule 3's dominance.

    Returns:
        ``{canonical: (entity_key, display_name, label)}`` for every ``Mention.canonical`` seen. Names with the
        same ``entity_key`` are one entity. A known entity keeps its key, name and label, so replaying a batch
        changes nothing; a new entity's key is ``canonical_key(display_name)``.

    Linking rules:
        0. a curated alias is read as its curated name and label (`curate`), before the rules below;
        1. the same `canonical_key` is the same entity;
        2. full PERSON names (two words or more) that differ by one typo in one word of five letters or more
           (``Sergei``/``Sergey``, ``Guiado``/``Guaido``) are one person, unless both are known entities;
        3. a name seen as a PERSON (in one article at least) that is the tail of exactly one full PERSON entity
           (``Maduro`` -> ``Nicolas Maduro``)
           joins it; if several share that tail, it joins the one in `DOMINANCE` times the articles of any other
           (stored and new articles counted), else it stays apart (``Anna Smith``, ``John Smith``: ``Smith``).
           A name that is itself a known entity stays that entity.
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
    labels = {key: majority_label(counts, person_wins_ties=" " in key) for key, counts in votes.items()}
    persons = {key for key, label in labels.items() if label == "PERSON"}
    weights = Counter({canonical_key(name): count for name, count in articles.items()})
    weights.update(known_articles or {})
    seen_as_person = {key for key, counts in votes.items() if counts["PERSON"]}
    linker = Linker(votes, full={k for k in persons if " " in k}, attachable=persons | seen_as_person,
                    pinned=set(known), weights=weights)
    resolved = {}
    for root, members in linker.groups(articles).items():
        if root in known:
            entity = (root, *known[root])
        else:
            display = display_name(members, articles, spelled)
            group_votes = sum((votes[canonical_key(m)] for m in members), Counter())
            seen_full = any(" " in key and votes[key]["PERSON"] for key in map(canonical_key, members))
            entity = (canonical_key(display), display, majority_label(group_votes, person_wins_ties=seen_full))
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


def majority_label(votes: Counter[str], person_wins_ties: bool, first: str | None = None) -> str:
    """The majority label; a tie goes to PERSON when allowed, else to ``first``, else alphabetically."""
    top = max(votes.values())
    tied = sorted(label for label, count in votes.items() if count == top)
    if person_wins_ties and "PERSON" in tied:
        return "PERSON"
    return first if first in tied else tied[0]


def display_name(members: set[str], *counts: Counter[str]) -> str:
    """A full (several-word) form, then the most frequent by each counter in turn, then one without accents.

    Last comes the longer form, as typing drops letters more often than it adds them (``Nicola``/``Nicolas``).
    """
    return max(sorted(members), key=lambda m: (" " in m, *(c[m] for c in counts), m.isascii(), len(m)))


class Linker:
    """Union-find over `canonical_key` keys, applying the linking rules listed in `resolve_corpus`.

    ``full`` are the several-word PERSON keys that others may join; ``attachable`` are the keys allowed to join
    one as its tail. Two ``pinned`` keys (entities already in the database) never end up in one group, and a
    group holding a pinned key has it as root.
    """

    def __init__(self, keys: Iterable[str], full: set[str], attachable: set[str], pinned: set[str],
                 weights: Mapping[str, int] | None = None):
        self.parent = {key: key for key in keys}
        self.pinned = pinned
        self.weights = weights or {}
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
        """Join ``key`` to the full name it ends, if there is just one or one dominates by articles (typos are not
        matched: Harry is not Parry).

        A pinned key stays the entity it was: its rows are already in the database under that name.
        """
        if key in self.pinned:
            return
        targets: Counter[str] = Counter()
        for full in self.by_last_word.get(key.split()[-1], ()):
            if full.endswith(" " + key):
                targets[self._find(full)] += self.weights.get(full, 0)
        ranked = targets.most_common(2)
        if len(ranked) == 1 or (ranked and ranked[0][1] >= DOMINANCE * max(ranked[1][1], 1)):
            self._union(key, ranked[0][0])

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
