"""Bytes to text without mojibake, and a clear refusal for bytes that are not text.

The order follows what browsers do (WHATWG "encoding sniffing"), with one lesson from real crawls added:
a byte order mark wins; then a declared charset (the `declared` argument, e.g. from an HTTP header, then
the page's own `<meta charset>` or XML prolog); bytes that are UTF-8 apart from a few bad bytes stay UTF-8
with those bytes replaced, because guessing a codec for the whole document turns every "’" into "ŌĆÖ";
only bytes that are clearly not UTF-8 and declare nothing get a statistical guess. Every repair or guess
is reported in `Decoded.warnings`, so a loaded article says how it was read.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass

import charset_normalizer

from pipeline.textnorm import without_surrogates

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
"""UTF-32 LE before UTF-16 LE: its mark starts with the UTF-16 LE mark."""

BINARY_MAGIC = (b"\x89PNG", b"PK\x03\x04", b"%PDF-", b"GIF87a", b"GIF89a", b"\xff\xd8\xff", b"\x1f\x8b", b"BZh",
                b"\x7fELF", b"RIFF", b"OggS", b"\x00\x00\x01\xba", b"7z\xbc\xaf", b"Rar!")
"""File signatures of images, archives, PDFs and media: such files are refused whatever their bytes look like."""

SAMPLE_BYTES = 8192
MAX_CONTROL_SHARE = 0.1
"""Share of NUL and other control bytes (tab, newlines, form feed and ESC aside) above which a sample is binary.
A stray NUL in an article is far below it; images, archives and executables are far above."""

SNIFF_BYTES = 4096
"""Where a page's charset declaration is looked for. WHATWG scans 1024 bytes, but pages with long inline
scripts or many link tags in their head declare it later, and a later declaration is still the author's."""

HANDFUL = 3
"""Bad bytes that never justify a codec guess: a stray cp1252 quote in an ASCII page is replaced, not guessed."""

WIDE_PATTERNS = (
    ("utf-32-le", (2, 3), 0.9, (0,)),
    ("utf-32-be", (0, 1), 0.9, (3,)),
    ("utf-16-le", (1, 3), 0.3, (0, 2)),
    ("utf-16-be", (0, 2), 0.3, (1, 3)),
)
"""Per encoding: the byte offsets (within 4) that are mostly NUL, how mostly, and the offsets that are not."""

WEB_ENCODINGS = frozenset(codecs.lookup(name).name for name in (
    "utf-8", "utf-16-le", "utf-16-be", "cp866", "iso8859-2", "iso8859-3", "iso8859-4", "iso8859-5", "iso8859-6",
    "iso8859-7", "iso8859-8", "iso8859-10", "iso8859-13", "iso8859-14", "iso8859-15", "iso8859-16", "koi8-r",
    "koi8-u", "mac-roman", "mac-cyrillic", "cp874", "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255",
    "cp1256", "cp1257", "cp1258", "gb18030", "big5hkscs", "euc-jp", "iso2022-jp", "cp932", "cp949",
))
"""The encodings of the WHATWG Encoding Standard, by their Python codec names. A declared charset outside
it is ignored: Python also knows codecs such as base64 or unicode_escape that no page is written in."""

LABEL_FIXES = {
    "windows-874": "cp874", "x-sjis": "cp932", "x-mac-cyrillic": "mac-cyrillic", "x-mac-ukrainian": "mac-cyrillic",
    "x-mac-roman": "mac-roman", "iso-8859-8-i": "iso8859-8", "unicode-1-1-utf-8": "utf-8", "x-gbk": "gb18030",
    "x-euc-jp": "euc-jp", "x-user-defined": "cp1252", "utf-16": "utf-16-le",
}
"""WHATWG labels that Python's codec lookup does not know, or reads differently."""

BROWSER_DECODERS = {
    "iso8859-1": "cp1252", "ascii": "cp1252", "iso8859-9": "cp1254", "iso8859-11": "cp874", "tis-620": "cp874",
    "gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs", "shift_jis": "cp932", "euc_kr": "cp949",
}
"""Labels that browsers read with a superset: a page labelled latin-1 or ASCII is decoded as windows-1252,
so its curly quotes (bytes 0x80-0x9F) come out as quotes, as its author saw them."""

SEVEN_BIT_ENCODINGS = frozenset({codecs.lookup("iso2022-jp").name})
"""Declared encodings whose text is ASCII bytes: for these, bytes that are valid UTF-8 still need the declaration."""

_CHARSET_DECLARATION = re.compile(
    rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([-\w.:()]+)|^\s*<\?xml\b[^>]*?\bencoding\s*=\s*["']([-\w.:]+)""",
    re.IGNORECASE,
)
_HTML_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)


class NotText(ValueError):
    """The input's bytes do not decode to readable text."""


@dataclass(frozen=True)
class Decoded:
    """Text read from bytes, the codec that read it, and what was repaired or guessed on the way."""

    text: str
    encoding: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Utf8Fit:
    """How well bytes fit UTF-8: `invalid` bad sequences (each replaced by one U+FFFD) against `multibyte`
    characters that decoded correctly, the evidence that the document really is UTF-8."""

    text: str
    invalid: int
    multibyte: int

    @classmethod
    def of(cls, content: bytes) -> _Utf8Fit:
        text = content.decode("utf-8", errors="replace")
        replaced = text.count("\ufffd")
        non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
        return cls(text, replaced - content.count(b"\xef\xbf\xbd"), non_ascii - replaced)

    def nearly_utf8(self, size: int) -> bool:
        """A few bad bytes in a UTF-8 document: up to 1 % of its bytes when there are at least as many correctly
        decoded multi-byte characters, else a handful."""
        if self.multibyte >= self.invalid:
            return self.invalid <= max(HANDFUL, size // 100)
        return self.invalid <= HANDFUL

    def proves_utf8(self, size: int) -> bool:
        """Enough correctly decoded multi-byte characters to overrule a declared single-byte charset."""
        return self.multibyte > 0 and self.multibyte >= self.invalid and self.nearly_utf8(size)


def decode_text(content: bytes, declared: str | None = None, html: bool = False) -> str:
    """The text of `content`; use `decode` to also learn what was repaired."""
    return decode(content, declared=declared, html=html).text


def decode(content: bytes, declared: str | None = None, html: bool = False) -> Decoded:
    """Read `content` as text, HTML when `html` (then its own charset declaration counts).

    `declared` is a charset label from outside the bytes (an HTTP Content-Type header) and wins over the
    page's own declaration. Raises NotText for binary files and bytes no text encoding fits.
    """
    if content.startswith(BINARY_MAGIC):
        raise NotText("binary content")
    decoded = _decode_by_bom(content) or _decode_wide(content) or _decode_bytes(content, declared, html)
    return _cleaned(decoded)


def looks_binary(content: bytes) -> bool:
    """A high share of NUL and other control bytes means a binary file; a few NULs in an article do not."""
    return _control_share(content[:SAMPLE_BYTES]) > MAX_CONTROL_SHARE


def web_encoding(label: str) -> str | None:
    """The Python codec a browser would decode a charset `label` with; None for labels no web page uses."""
    label = label.strip().strip("\"'").lower()
    name = LABEL_FIXES.get(label, label)
    try:
        name = codecs.lookup(name).name
    except LookupError:
        return None
    name = BROWSER_DECODERS.get(name, name)
    return name if name in WEB_ENCODINGS else None


def sniff_charset(content: bytes) -> str | None:
    """The charset label a page declares near its start: `<meta charset>`, `<meta http-equiv="Content-Type"
    content="...; charset=...">` or an XML prolog's `encoding`. Declarations inside comments do not count."""
    head = _HTML_COMMENT.sub(b"", content[:SNIFF_BYTES])
    found = _CHARSET_DECLARATION.search(head)
    if not found:
        return None
    return (found.group(1) or found.group(2)).decode("ascii", errors="replace")


def _decode_by_bom(content: bytes) -> Decoded | None:
    for bom, encoding in BOMS:
        if content.startswith(bom):
            return _decoded_replacing(content[len(bom):], encoding, "byte order mark")
    return None


def _decode_wide(content: bytes) -> Decoded | None:
    """UTF-16 or UTF-32 without a byte order mark, recognised by its NUL bytes: the high byte of every Latin
    character is NUL (UTF-16, at every other byte), and the top two bytes of every character are (UTF-32)."""
    sample = content[:SAMPLE_BYTES]
    sample = sample[: len(sample) - len(sample) % 4]
    if len(sample) < 16 or b"\x00" not in sample:
        return None
    nul_share = [sample[offset::4].count(0) * 4 / len(sample) for offset in range(4)]
    for encoding, nul_offsets, min_nul_share, text_offsets in WIDE_PATTERNS:
        if (min(nul_share[i] for i in nul_offsets) >= min_nul_share
                and max(nul_share[i] for i in text_offsets) < 0.05 and _readable(sample, encoding)):
            decoded = _decoded_replacing(content, encoding, "its NUL byte pattern")
            guess = f"no byte order mark: read as {encoding} by its NUL byte pattern"
            return Decoded(decoded.text, encoding, (guess, *decoded.warnings))
    return None


def _readable(sample: bytes, encoding: str) -> bool:
    try:
        text = sample.decode(encoding)
    except UnicodeDecodeError:
        return False
    return _control_share([ord(ch) for ch in text]) <= MAX_CONTROL_SHARE


def _control_share(codes: Sequence[int]) -> float:
    controls = sum(1 for code in codes if code < 9 or (13 < code < 32 and code != 27))
    return controls / len(codes) if codes else 0.0


def _decoded_replacing(content: bytes, encoding: str, reason: str) -> Decoded:
    """Decode with `encoding`, known to be right (by `reason`); bytes that do not fit it are replaced and counted."""
    try:
        return Decoded(content.decode(encoding), encoding)
    except UnicodeDecodeError:
        text = content.decode(encoding, errors="replace")
    return Decoded(text, encoding, (f"decoded as {encoding} ({reason}) with {_invalid(text.count(chr(0xFFFD)))} "
                                    "replaced",))


def _decode_bytes(content: bytes, declared: str | None, html: bool) -> Decoded:
    if looks_binary(content):
        raise NotText("binary content")
    warnings: list[str] = []
    label = declared or (sniff_charset(content) if html else None)
    encoding = web_encoding(label) if label else None
    if label and not encoding:
        warnings.append(f"declared charset {label!r} is not a web text encoding: ignored")
    if encoding and encoding.startswith("utf-16") and not declared:
        encoding = "utf-8"  # a page whose <meta> could be read as ASCII is not UTF-16, as WHATWG says
    fit = _Utf8Fit.of(content)
    if fit.invalid == 0:
        return _valid_utf8(content, fit, label, encoding, warnings)
    if encoding and encoding != "utf-8":
        return _declared_legacy(content, fit, label, encoding, warnings)
    if fit.nearly_utf8(len(content)) or (encoding == "utf-8" and fit.invalid <= max(HANDFUL, len(content) // 100)):
        return _utf8_replacing(fit, warnings)
    if encoding == "utf-8":
        warnings.append(f"declared charset {label!r} does not fit: {_invalid(fit.invalid)} as UTF-8")
    return _guessed(content, warnings)


def _valid_utf8(content: bytes, fit: _Utf8Fit, label: str | None, encoding: str | None,
                warnings: list[str]) -> Decoded:
    """Valid UTF-8 is taken as UTF-8: legacy text with accents is almost never valid UTF-8 by chance.
    Only an ASCII-only text declared in a 7-bit encoding (ISO-2022-JP) needs its declaration."""
    if encoding in SEVEN_BIT_ENCODINGS and content.isascii():
        try:
            return Decoded(content.decode(encoding), encoding, tuple(warnings))
        except UnicodeDecodeError:
            warnings.append(f"declared charset {label!r} does not fit the bytes: read as UTF-8")
    elif encoding and encoding != "utf-8" and not content.isascii():
        warnings.append(f"declared charset {label!r}, but the bytes are valid UTF-8: read as UTF-8")
    return Decoded(fit.text, "utf-8", tuple(warnings))


def _declared_legacy(content: bytes, fit: _Utf8Fit, label: str | None, encoding: str,
                     warnings: list[str]) -> Decoded:
    """A declared legacy charset is used unless the bytes prove to be UTF-8 with a few bad bytes; when it
    does not fit, it still wins with a few bytes replaced, and only a misfit all over falls back."""
    if fit.proves_utf8(len(content)):
        warnings.append(f"declared charset {label!r}, but the bytes are UTF-8 apart from {_invalid(fit.invalid)}")
        return _utf8_replacing(fit, warnings)
    try:
        return Decoded(content.decode(encoding), encoding, tuple(warnings))
    except UnicodeDecodeError:
        text = content.decode(encoding, errors="replace")
    misfits = text.count("\ufffd")
    if misfits <= max(HANDFUL, len(content) // 100):
        warnings.append(f"decoded as {encoding} (declared {label!r}) with {_invalid(misfits)} replaced")
        return Decoded(text, encoding, tuple(warnings))
    warnings.append(f"declared charset {label!r} does not fit: {_invalid(misfits)} as {encoding}")
    if fit.nearly_utf8(len(content)):
        return _utf8_replacing(fit, warnings)
    return _guessed(content, warnings)


def _utf8_replacing(fit: _Utf8Fit, warnings: list[str]) -> Decoded:
    warnings.append(f"decoded as UTF-8 with {_invalid(fit.invalid)} replaced")
    return Decoded(fit.text, "utf-8", tuple(warnings))


def _guessed(content: bytes, warnings: list[str]) -> Decoded:
    """A statistical guess over the whole document, the last resort for bytes that are clearly not UTF-8."""
    best = charset_normalizer.from_bytes(content.replace(b"\x00", b"")).best()
    if best is None:
        raise NotText("undecodable bytes: no text encoding fits")
    text = content.decode(best.encoding, errors="replace")
    warnings.append(f"no usable charset declared and the bytes are not UTF-8: guessed {best.encoding}")
    return Decoded(text, best.encoding, tuple(warnings))


def _cleaned(decoded: Decoded) -> Decoded:
    """NUL characters dropped and lone surrogates replaced, so the text can be stored anywhere."""
    warnings = list(decoded.warnings)
    text = decoded.text
    if "\x00" in text:
        nuls = text.count("\x00")
        warnings.append(f"dropped {nuls} NUL character{'s' * (nuls != 1)}")
        text = text.replace("\x00", "")
    safe = without_surrogates(text)
    if safe != text:
        warnings.append("lone surrogates replaced by U+FFFD")
    return Decoded(safe, decoded.encoding, tuple(warnings))


def _invalid(count: int) -> str:
    return f"{count} invalid byte sequence{'s' * (count != 1)}"
