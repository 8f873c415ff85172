"""Named entities of one article: spaCy NER over its body, its spans cleaned and resolved to one name per entity.

spaCy's small English model finds the names but labels a bare surname inconsistently (``Maduro`` is ORG in one
sentence and PERSON in the next) and knows nothing of spelling variants, possessives or honorifics. The functions
here run the model within bounded memory and time and turn its spans into ``Mention`` records whose ``canonical`` is
one name per entity within an article, using the name rules of `pipeline.enrich.names`; `pipeline.enrich.linking`
then links those names across articles. This is the only module that loads spaCy.
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span

from pipeline.enrich.linking import Linker, display_name, majority_label
from pipeline.enrich.list_names import (
    after_demonym,
    is_field_label,
    is_named_as_place,
    is_organisation_name,
    is_place_name,
    is_table_label,
    list_person_spans,
    team_spans,
)
from pipeline.enrich.names import INNER_POSSESSIVE, canonical_key, curate, is_junk, normalise_name, trim_name
from pipeline.records import ENTITY_LABELS, Mention

KEPT_LABELS = frozenset(ENTITY_LABELS)

LONG_RUN_CHARS = 100
_LONG_RUN = re.compile(f"\\S{{{LONG_RUN_CHARS + 1},}}")
PIECE_CHARS = 20_000
"""Longest text the model reads at once; the model's memory grows with it (a 950k-character body took 3 GB)."""
BATCH_CHARS = 30_000
"""Most characters the model reads in one batch; a batch of short articles stays at `batch_size` articles. A
worker's peak fell by 70 MB from 100,000 with no loss of speed (8 batches of 50 generated articles: 13.8 s
against 14.3 s)."""


@functools.lru_cache(maxsize=4)
def load_model(model_name: str) -> Language:
    """Load the spaCy pipeline once per process with only what NER needs: ``ner``, the components it listens to,
    and a sentence splitter.

    In the small English model ``ner`` embeds tokens itself; the shared ``tok2vec`` feeds only the tagger and the
    parser, and the parser served NER only by setting sentence starts (spans do not cross them). The model's own
    statistical ``senter`` (else the rule-based ``sentencizer``) sets them at a fraction of the cost: NER runs
    1.8x faster here and gives the same entities on the evaluation sets (DESIGN.md, "Entities").
    """
    nlp = spacy.load(model_name)
    if "senter" in nlp.component_names:
        nlp.enable_pipe("senter")
        needed = {"ner", "senter"}
    else:
        nlp.add_pipe("sentencizer", first=True)
        needed = {"ner", "sentencizer"}
    needed |= {name for name, component in nlp.components
               if needed & set(getattr(component, "listening_components", ()))}
    nlp.select_pipes(enable=[name for name in nlp.pipe_names if name in needed])
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
    space) and joined again, and the model fed at most `batch_size` pieces and `BATCH_CHARS` characters at a
    time, so memory follows the batch, not the article (a 420k-character body took 1.3 GB in one batch)."""
    pieces = ((piece, index) for index, text in enumerate(texts) for piece in _pieces(model_text(text)))
    current = 0
    parts: list[Doc] = []
    for group in _char_batches(pieces, batch_size):
        for doc, index in nlp.pipe(group, batch_size=len(group), as_tuples=True):
            if index != current:
                yield _joined(parts)
                current, parts = index, []
            parts.append(doc)
    if texts:
        yield _joined(parts)


def _char_batches(pieces: Iterable[tuple[str, int]], batch_size: int) -> Iterator[list[tuple[str, int]]]:
    group: list[tuple[str, int]] = []
    chars = 0
    for piece in pieces:
        if group and (len(group) >= batch_size or chars + len(piece[0]) > BATCH_CHARS):
            yield group
            group, chars = [], 0
        group.append(piece)
        chars += len(piece[0])
    if group:
        yield group


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


NAME_PARTICLE = r"(?:wa|bin|ibn|bint|ould|abu|al|el|van|von|de|da|del|della|di|dos|du|la|le)"
NAME_PARTICLE_GAP = re.compile(rf" {NAME_PARTICLE} ")
NAME_PARTICLE_TAIL = re.compile(rf" {NAME_PARTICLE} [A-Z][\w'’\-]+")
"""A lower-case particle and a capitalised word after a person's name: the rest of it (``Kengo wa Dondo``)."""


@dataclass(frozen=True)
class _Span:
    """One candidate mention: offsets into its own text, spaCy's (or the curated) label and the cleaned name."""

    start: int
    end: int
    name: str
    label: str


def _article_mentions(body: Doc, title: Doc) -> tuple[Mention, ...]:
    text = body.text
    body_spans = _with_teams(_with_list_people(_joined_names(_candidates(body, text), text), text), text)
    title_spans = _joined_names(_candidates(title, title.text), title.text)
    body_spans, title_spans = _places_as_places(body_spans, title_spans)
    resolved = _resolve_article(body_spans + title_spans)
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
    ents = doc.ents  # spaCy builds the tuple from every token on each access
    lone_persons = {canonical_key(e.text) for e in ents if e.label_ == "PERSON" and len(e) == 1}
    spans = []
    for ent in ents:
        if ent.label_ not in KEPT_LABELS:
            continue
        for start, end in _split_lines(text, ent.start_char, _extend_cut_name(ent, text, lone_persons)):
            if ent.label_ == "PERSON" and (inner := INNER_POSSESSIVE.search(text, start, end)):
                end = inner.start()
            if ent.label_ == "PERSON":
                start = after_demonym(text, start, end)
            start, end = trim_name(text, start, end, ent.label_)
            name = normalise_name(text[start:end])
            label = "GPE" if ent.label_ == "PERSON" and is_named_as_place(text, start) else ent.label_
            if not is_junk(name) and not is_field_label(text, start, end) and not is_table_label(text, start, end):
                spans.append(_Span(start, end, *curate(name, label)))
    return spans


def _with_list_people(spans: list[_Span], text: str) -> list[_Span]:
    """The model's spans, with the people of results-table lines (`list_person_spans`) taking the place of any
    span they overlap: there the patterns know better than a model trained on sentences."""
    found = [span for start, end in list_person_spans(text) if (span := _named(text, start, end, "PERSON"))]
    if not found:
        return spans
    kept = [s for s in spans if not any(s.start < f.end and f.start < s.end for f in found)]
    return sorted(kept + found, key=lambda s: s.start)


def _named(text: str, start: int, end: int, label: str) -> _Span | None:
    """The span of a name the rules found at ``text[start:end]``, trimmed, normalised and curated like the model's;
    None when what is left names nothing (`is_junk`)."""
    start, end = trim_name(text, start, end, label)
    name = normalise_name(text[start:end])
    return None if is_junk(name) else _Span(start, end, *curate(name, label))


def _joined_names(spans: list[_Span], text: str) -> list[_Span]:
    """A person's name the model cut in two, joined: two PERSON spans one space apart (``Zine al-Abidine`` and
    ``Ben Ali``), or a PERSON span, a particle and the next span or capitalised word (``Kengo wa Dondo``, where the
    model read ``Dondo`` as an organisation)."""
    joined: list[_Span] = []
    for span in spans:
        last = joined[-1] if joined else None
        if last and last.label == "PERSON" and _joins(text[last.end:span.start], span.label) and (
                whole := _named(text, last.start, span.end, "PERSON")):
            joined[-1] = whole
        else:
            joined.append(span)
    return [_particle_extended(span, text) if span.label == "PERSON" else span for span in joined]


def _joins(gap: str, label: str) -> bool:
    return (gap == " " and label == "PERSON") or NAME_PARTICLE_GAP.fullmatch(gap) is not None


def _particle_extended(span: _Span, text: str) -> _Span:
    match = NAME_PARTICLE_TAIL.match(text, span.end)
    return (_named(text, span.start, match.end(), "PERSON") if match else None) or span


def _with_teams(spans: list[_Span], text: str) -> list[_Span]:
    """The teams of results, standings and fixture lines (`team_spans`) as organisations, in place of the PERSON
    spans that overlap them (``Pohang 3 Ulsan`` is two teams)."""
    teams = list(team_spans(text))
    if not teams:
        return spans
    kept, found = [], {}
    for span in spans:
        overlapped = [(a, b) for a, b in teams if span.start < b and a < span.end]
        if span.label != "PERSON" or not overlapped:
            kept.append(span)
            continue
        for start, end in overlapped:
            if team := _named(text, start, end, "ORG"):
                found[team.start, team.end] = team
    return sorted(kept + list(found.values()), key=lambda s: s.start)


def _places_as_places(*groups: list[_Span]) -> tuple[list[_Span], ...]:
    """A PERSON span naming a place (``Surrey`` in ``Surrey 429-7``) relabelled GPE, unless a full person name in
    the article ends with it (``Washington`` beside ``Malivai Washington``); one holding a company or team word
    (``Manchester United``), or standing inside a longer organisation's name in the article and ending no full
    person name (``Jones`` of ``Jones Medical Industries Inc``, ``Ericsson`` of ``LM Ericsson AB``; not a headline
    in capitals the model took for one), relabelled ORG."""
    tails = {canonical_key(s.name).split()[-1] for group in groups for s in group
             if s.label == "PERSON" and " " in s.name.strip()}
    organisations = {f" {canonical_key(s.name)} " for group in groups for s in group
                     if s.label == "ORG" and not s.name.isupper()}

    def inside_organisation(key: str) -> bool:
        return key not in tails and any(f" {key} " in name and name != f" {key} " for name in organisations)

    def relabelled(span: _Span) -> _Span:
        if span.label != "PERSON":
            return span
        if is_organisation_name(span.name) or inside_organisation(canonical_key(span.name)):
            return replace(span, label="ORG")
        if canonical_key(span.name) not in tails and is_place_name(span.name):
            return replace(span, label="GPE")
        return span

    return tuple([relabelled(s) for s in group] for group in groups)


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
    for members in Linker(votes, full, attachable, pinned=set()).groups(forms).values():
        keys = {canonical_key(m) for m in members}
        full_votes = sum((votes[k] for k in keys if " " in k), Counter())
        label = majority_label(
            full_votes or sum((votes[k] for k in keys), Counter()),
            person_wins_ties=bool(keys & full),
            first=next(span.label for span in spans if span.name in members),
        )
        resolved.update(dict.fromkeys(members, (display_name(members, forms), label)))
    return resolved
