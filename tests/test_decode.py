import pytest

from pipeline.extract.decode import NotText, decode_text


def test_utf8_with_bom():
    assert decode_text("\ufeffNicolás Maduro".encode()) == "Nicolás Maduro"


def test_legacy_encodings_do_not_become_mojibake():
    text = "Президент Венесуэлы Николас Мадуро прибыл в Москву для переговоров с Путиным."
    assert decode_text(text.encode("windows-1251")) == text
    german = "Der Außenminister traf sich in München mit seinem Amtskollegen über Öl und Gas."
    assert decode_text(german.encode("latin-1")) == german


def test_declared_encoding_is_used_when_utf8_fails():
    assert decode_text("café crème".encode("latin-1"), declared="latin-1") == "café crème"


@pytest.mark.parametrize("content", [b"\x00\x01\x02binary\x00", bytes(range(32)) * 10])
def test_binary_is_refused(content):
    with pytest.raises(NotText, match="binary content"):
        decode_text(content)
