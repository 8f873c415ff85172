"""No article can reach spaCy's length limit or the tokenizer's slow path, offsets still index the body, and tagging
leaves the model's vocabulary as it found it."""

from __future__ import annotations

import pytest

from pipeline.enrich import entities
from pipeline.enrich.entities import load_model, model_text, tag_entities
from pipeline.settings import load_settings
from tests.conftest import SEEDS


@pytest.fixture(scope="module")
def nlp():
    return load_model(load_settings().spacy_model)


@pytest.fixture(scope="module")
def bodies() -> list[str]:
    return [path.read_text() for path in sorted(SEEDS.glob("*.txt"))]


def test_a_body_read_in_pieces_gives_the_mentions_of_the_body_read_whole(nlp, bodies, monkeypatch):
    long_body = "\n".join(bodies)
    [whole] = tag_entities(nlp, [(None, long_body)])
    monkeypatch.setattr(entities, "PIECE_CHARS", 3000)
    [pieces] = tag_entities(nlp, [(None, long_body)])
    assert len(long_body) > 4 * 3000
    assert all(long_body[m.start_char:m.end_char] == m.surface for m in pieces)
    same = {(m.start_char, m.surface) for m in whole} & {(m.start_char, m.surface) for m in pieces}
    assert len(same) >= 0.97 * len(whole)


def test_a_body_longer_than_the_model_limit_is_tagged(nlp, bodies):
    huge = ("\n".join(bodies) + "\n") * (nlp.max_length // len("\n".join(bodies)) + 1)
    assert len(huge) > nlp.max_length
    [mentions] = tag_entities(nlp, [(None, huge)])
    assert mentions and all(huge[m.start_char:m.end_char] == m.surface for m in mentions)


def test_a_long_run_without_spaces_is_blanked_and_the_names_around_it_found(nlp):
    body = "(" * 200_000 + " Vladimir Putin met Angela Merkel in Berlin on Monday."
    assert len(model_text(body)) == len(body) and model_text(body).lstrip().startswith("Vladimir")
    [mentions] = tag_entities(nlp, [(None, body)])
    assert {m.surface for m in mentions} == {"Vladimir Putin", "Angela Merkel", "Berlin"}
    assert all(body[m.start_char:m.end_char] == m.surface for m in mentions)


def test_tagging_leaves_the_vocabulary_as_it_found_it(nlp, bodies):
    from pipeline.stages.process import _model_mentions

    articles = [{"article_id": str(number), "title": None, "body": body.replace("the", "thexqz"), "language": "en"}
                for number, body in enumerate(bodies)]
    before = len(nlp.vocab.strings)
    rows = _model_mentions(articles, load_settings().spacy_model)
    assert rows and len(nlp.vocab.strings) == before
    assert "thexqz" not in nlp.vocab.strings
