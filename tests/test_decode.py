"""Bytes to text: byte order marks, declared charsets, UTF-8 with a few bad bytes, guesses as a last
resort, and binary refused; every repair said in a warning."""

from __future__ import annotations

import codecs

import pytest

from pipeline.extract.decode import NotText, decode, decode_text

ARTICLE = (
    "Here’s what the council decided on Tuesday: the new budget for schools and roads passed after a long "
    "debate, and the mayor said “we will start in spring”. "
) * 20
PAGE = f"""<!doctype html><html><head>
<meta charset="utf-8"><title>Budget passed</title>
</head><body><article><p>{ARTICLE}</p></article></body></html>"""


def _legacy_page(declaration: str, text: str, encoding: str) -> bytes:
    return f"<html><head>{declaration}<title>News</title></head><body><p>{text}</p></body></html>".encode(encoding)


def test_utf8_with_bom():
    decoded = decode("\ufeffNicolás Maduro".encode())
    assert (decoded.text, decoded.encoding, decoded.warnings) == ("Nicolás Maduro", "utf-8", ())


def test_legacy_encodings_do_not_become_mojibake():
    text = "Президент Венесуэлы Николас Мадуро прибыл в Москву для переговоров с Путиным."
    assert decode_text(text.encode("windows-1251")) == text
    german = "Der Außenminister traf sich in München mit seinem Amtskollegen über Öl und Gas."
    decoded = decode(german.encode("latin-1"))
    assert decoded.text == german
    assert decoded.warnings == (f"no usable charset declared and the bytes are not UTF-8: guessed {decoded.encoding}",)


def test_declared_encoding_is_used_when_utf8_fails():
    assert decode_text("café crème".encode("latin-1"), declared="latin-1") == "café crème"


def test_one_invalid_byte_keeps_the_page_utf8():
    """The measured failure: one bad byte made the whole page a codec guess, and "Here’s" became "HereŌĆÖs"."""
    content = PAGE.encode()
    broken = content[:400] + b"\x92" + content[400:]

    for html in (True, False):
        decoded = decode(broken, html=html)
        assert decoded.encoding == "utf-8"
        assert decoded.text.count("Here’s") == ARTICLE.count("Here’s")
        assert decoded.text.count("\ufffd") == 1
        assert decoded.warnings == ("decoded as UTF-8 with 1 invalid byte sequence replaced",)


def test_a_stray_byte_in_an_ascii_text_is_replaced_not_guessed():
    decoded = decode(b"The mayor said it" + b"\x92" + b"s done. " * 40)
    assert decoded.encoding == "utf-8"
    assert decoded.text.startswith("The mayor said it\ufffds done.")


@pytest.mark.parametrize(
    ("declaration", "text", "encoding"),
    [
        ('<meta charset="windows-1252">', "Here’s “quoted” café — naïve", "cp1252"),
        ('<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">', "Президент прибыл в Москву", "koi8-r"),
        ("<meta charset='windows-1251'>", "Президент Венесуэлы прибыл в Москву", "cp1251"),
        ('<meta charset="Shift_JIS">', "日本の首相は東京で記者会見を開いた。", "shift_jis"),
        ('<META HTTP-EQUIV="content-type" CONTENT="text/html;charset=EUC-KR">', "서울에서 회담이 열렸다", "euc-kr"),
        ('<meta charset="gb2312">', "北京举行新闻发布会", "gb2312"),
    ],
    ids=["windows-1252", "koi8-r-http-equiv", "cp1251", "shift-jis", "euc-kr", "gb2312"],
)
def test_declared_charset_of_a_page_is_used(declaration, text, encoding):
    decoded = decode(_legacy_page(declaration, text, encoding), html=True)
    assert text in decoded.text
    assert decoded.warnings == ()


def test_latin1_label_is_read_as_windows_1252_like_browsers_do():
    """Pages labelled ISO-8859-1 use bytes 0x80-0x9F for curly quotes and dashes, as windows-1252 does."""
    content = b'<?xml version="1.0" encoding="iso-8859-1"?>\n<p>It\x92s \x93done\x94 \x96 caf\xe9</p>'
    assert decode(content, html=True).text.endswith("<p>It’s “done” – café</p>")


def test_only_html_is_sniffed_for_a_declaration():
    content = _legacy_page('<meta charset="koi8-r">', "Президент прибыл в Москву", "koi8-r")
    assert decode(content, html=True).warnings == ()
    assert decode(content, html=False).warnings[0].startswith("no usable charset declared")


def test_declaration_inside_a_comment_does_not_count():
    content = _legacy_page('<!-- <meta charset="koi8-r"> -->', "Here’s the news in English", "utf-8")
    assert decode(content, html=True) == decode(content)


def test_http_header_charset_wins_over_the_page():
    content = _legacy_page('<meta charset="windows-1252">', "Президент прибыл в Москву", "cp1251")
    assert "Президент" in decode(content, declared="windows-1251", html=True).text


def test_valid_utf8_overrules_a_wrong_legacy_declaration():
    content = _legacy_page('<meta charset="iso-8859-1">', "Here’s the café in München", "utf-8")
    decoded = decode(content, html=True)
    assert "Here’s the café in München" in decoded.text
    assert decoded.warnings == ("declared charset 'iso-8859-1', but the bytes are valid UTF-8: read as UTF-8",)


def test_declared_utf8_that_does_not_fit_is_said_and_guessed():
    text = "Президент Венесуэлы Николас Мадуро прибыл в Москву для переговоров с Путиным. " * 5
    decoded = decode(_legacy_page('<meta charset="utf-8">', text, "cp1251"), html=True)
    assert decoded.warnings == (
        "declared charset 'utf-8' does not fit: 330 invalid byte sequences as UTF-8",
        "no usable charset declared and the bytes are not UTF-8: guessed cp1251",
    )
    assert text in decoded.text


def test_unknown_declared_charset_is_ignored_with_a_warning():
    decoded = decode(_legacy_page('<meta charset="unicode_escape">', r"Here’s \ud800 text", "utf-8"), html=True)
    assert "Here’s \\ud800 text" in decoded.text
    assert decoded.warnings == ("declared charset 'unicode_escape' is not a web text encoding: ignored",)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_byte_order_mark_decides(encoding):
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE,
           "utf-32-le": codecs.BOM_UTF32_LE, "utf-32-be": codecs.BOM_UTF32_BE}[encoding]
    text = "Here’s the news from Москва and 東京."
    decoded = decode(bom + text.encode(encoding))
    assert (decoded.text, decoded.encoding, decoded.warnings) == (text, encoding, ())


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_wide_text_without_bom_is_read_by_its_nul_pattern(encoding):
    text = "The council approved the new budget on Tuesday, après a long debate."
    decoded = decode(text.encode(encoding))
    assert (decoded.text, decoded.encoding) == (text, encoding)
    assert decoded.warnings == (f"no byte order mark: read as {encoding} by its NUL byte pattern",)


def test_lone_surrogate_in_utf16_is_replaced():
    decoded = decode(codecs.BOM_UTF16_LE + "Before ".encode("utf-16-le") + b"\x00\xd8" + "after".encode("utf-16-le"))
    assert decoded.text == "Before \ufffdafter"
    assert decoded.text.encode("utf-8")
    assert decoded.warnings == ("decoded as utf-16-le (byte order mark) with 1 invalid byte sequence replaced",)


def test_an_article_with_one_nul_byte_loads_without_it():
    decoded = decode(ARTICLE.encode().replace(b"council", b"coun\x00cil", 1))
    assert decoded.text == ARTICLE
    assert decoded.warnings == ("dropped 1 NUL character",)


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x01\x02binary\x00",
        bytes(range(32)) * 10,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"plain looking bytes " * 50,
        b"PK\x03\x04" + b"article.txt " * 50,
        b"%PDF-1.7\n" + b"text stream " * 50,
    ],
    ids=["controls", "all-controls", "png", "zip", "pdf"],
)
def test_binary_is_refused(content):
    with pytest.raises(NotText, match="binary content"):
        decode_text(content)


def test_a_real_latin1_page_decodes_by_its_meta(shared_dir):
    """A German page declaring ISO-8859-1 beyond the first 1024 bytes (after 2 KB of head)."""
    content = (shared_dir / "eval/pages/html/trafilatura-landwirt.com.sensortechnik.html").read_bytes()
    decoded = decode(content, html=True)
    assert (decoded.encoding, decoded.warnings) == ("cp1252", ())
    assert "Viertelleitfähigkeitssensor" in decoded.text
