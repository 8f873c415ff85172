import pytest

from pipeline.enrich.language import detect_language

SAMPLES = {
    "en": "The president met his counterpart in Moscow on Wednesday to discuss trade and security.",
    "de": "Der Präsident traf sich am Mittwoch in Moskau mit seinem Amtskollegen, um über Handel zu sprechen.",
    "es": "El presidente se reunió el miércoles en Moscú con su homólogo para hablar de comercio y seguridad.",
}


@pytest.mark.parametrize("code", sorted(SAMPLES))
def test_detects_the_language_of_a_sentence(code):
    language, probability = detect_language(SAMPLES[code])
    assert language == code and probability > 0.8


def test_same_text_same_answer():
    text = "Venezuela Russia Putin Maduro Moscow Caracas oil deal talks"
    assert len({detect_language(text) for _ in range(5)}) == 1


def test_abstains_on_text_too_short_to_call():
    assert detect_language("OK") == (None, None)
