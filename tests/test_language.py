import pytest

from pipeline.enrich.language import (
    SURE_FASTTEXT_PROBABILITY,
    LanguageGuess,
    detect_language,
    langdetect_languages,
)

SAMPLES = {
    "en": "The president met his counterpart in Moscow on Wednesday to discuss trade and security.",
    "de": "Der Präsident traf sich am Mittwoch in Moskau mit seinem Amtskollegen, um über Handel zu sprechen.",
    "es": "El presidente se reunió el miércoles en Moscú con su homólogo para hablar de comercio y seguridad.",
}
XHOSA = ("Umongameli uye wadibana nogxa wakhe eMoscow ngoLwesithathu ukuze baxoxe ngorhwebo nokhuseleko "
         "lwelizwe, watsho umthetho-siseko omtsha.")
"""Xhosa, which neither detector knows: langdetect calls text like it Swahili with confidence."""
ARMENIAN = "Նախագահը չորեքշաբթի օրը Մոսկվայում հանդիպել է իր գործընկերոջ հետ՝ քննարկելու առևտուրը և անվտանգությունը։"


RESULTS_LIST = "Results: Greg Blewett 57, Mark Taylor 23, Steve Waugh 12 not out, Ian Healy 4, Shane Warne 0 retired."
"""English to langdetect for certain, only likely English to fastText (0.91)."""


@pytest.mark.parametrize("code", sorted(SAMPLES))
def test_a_sure_fasttext_names_the_language_without_langdetect(code):
    guess = detect_language(SAMPLES[code])
    assert guess.language == code and guess.probability >= SURE_FASTTEXT_PROBABILITY
    assert guess.candidates.startswith(f"fasttext:{code}=") and "langdetect" not in guess.candidates


def test_a_less_sure_fasttext_labels_what_langdetect_agrees_with():
    guess = detect_language(RESULTS_LIST)
    assert guess.language == "en"
    assert "langdetect:en=" in guess.candidates and "fasttext:en=0.9" in guess.candidates


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


def test_sparse_profiles_give_langdetects_probabilities_exactly():
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    from pipeline.enrich.sparse_langdetect import SparseDetectorFactory

    dense, sparse = DetectorFactory(), SparseDetectorFactory()
    dense.load_profile(PROFILES_DIRECTORY)
    sparse.load_profile()
    assert sparse.langlist == dense.langlist and sparse.word_lang_prob_map.keys() == dense.word_lang_prob_map.keys()
    for factory in (dense, sparse):
        factory.set_seed(0)
    for text in [*SAMPLES.values(), XHOSA, ARMENIAN, RESULTS_LIST]:
        answers = []
        for factory in (dense, sparse):
            detector = factory.create()
            detector.append(text)
            answers.append([(found.lang, found.prob) for found in detector.get_probabilities()])
        assert answers[0] == answers[1], text
