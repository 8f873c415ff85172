import pytest

from pipeline.enrich.language import LanguageGuess, detect_language, langdetect_languages

SAMPLES = {
    "en": "The president met his counterpart in Moscow on Wednesday to discuss trade and security.",
    "de": "Der Präsident traf sich am Mittwoch in Moskau mit seinem Amtskollegen, um über Handel zu sprechen.",
    "es": "El presidente se reunió el miércoles en Moscú con su homólogo para hablar de comercio y seguridad.",
}
XHOSA = ("Umongameli uye wadibana nogxa wakhe eMoscow ngoLwesithathu ukuze baxoxe ngorhwebo nokhuseleko "
         "lwelizwe, watsho umthetho-siseko omtsha.")
"""Xhosa, which neither detector knows: langdetect calls text like it Swahili with confidence."""
ARMENIAN = "Նախագահը չորեքշաբթի օրը Մոսկվայում հանդիպել է իր գործընկերոջ հետ՝ քննարկելու առևտուրը և անվտանգությունը։"


@pytest.mark.parametrize("code", sorted(SAMPLES))
def test_detects_the_language_both_detectors_agree_on(code):
    guess = detect_language(SAMPLES[code])
    assert guess.language == code and guess.probability > 0.6
    assert f"langdetect:{code}=" in guess.candidates and f"fasttext:{code}=" in guess.candidates


def test_a_language_langdetect_lacks_is_named_by_a_confident_fasttext():
    assert "hy" not in langdetect_languages()
    assert detect_language(ARMENIAN).language == "hy"


def test_a_language_neither_detector_knows_is_null_with_the_candidates_kept():
    guess = detect_language(XHOSA)
    assert guess.language is None and guess.probability is None
    assert "langdetect:" in guess.candidates and "fasttext:" in guess.candidates


def test_same_text_same_answer():
    text = "Venezuela Russia Putin Maduro Moscow Caracas oil deal talks"
    assert len({detect_language(text) for _ in range(5)}) == 1


def test_abstains_on_text_too_short_to_call():
    assert detect_language("OK") == LanguageGuess(None, None, None)
