"""The one path validator (``gateway.core.paths``), table-driven.

A request path arrives still percent-encoded; it is split on raw ``/``, each segment decoded
exactly once (strict UTF-8), NFC-normalised and checked: no empty, ``.`` or ``..`` segment, no
separator (``/`` or ``\\``) or control character inside a name, no Windows device name, no name
starting with a space or ending with a dot or space, a name at most 255 bytes and the whole path
at most 4096 bytes. Anything else is an ordinary name: it never reaches the file system.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

import pytest
from hypothesis import given, settings, strategies as st

from gateway.core.paths import (
    MAX_DEPTH,
    MAX_PATH_BYTES,
    MAX_SEGMENT_BYTES,
    RequestPath,
    VirtualPath,
    parse_config_path,
    parse_raw,
    validate_segment,
)
from gateway.errors import InvalidPathError, RequestSyntaxError


def _enc(text: str) -> bytes:
    """Percent-encode every byte of one segment's UTF-8 (nothing left for the parser to guess)."""
    return "".join(f"%{b:02X}" for b in text.encode("utf-8")).encode("ascii")


def _segments(raw: bytes) -> tuple[str, ...]:
    return parse_raw(raw).path.segments


# ---------------------------------------------------------------------------------------------
# accepted
# ---------------------------------------------------------------------------------------------

ACCEPTED: list[tuple[str, bytes, tuple[str, ...]]] = [
    ("plain", b"inbox/report.csv", ("inbox", "report.csv")),
    ("leading_slash", b"/inbox/report.csv", ("inbox", "report.csv")),
    ("single_segment", b"inbox", ("inbox",)),
    ("deep", b"deep/a/b/c.txt", ("deep", "a", "b", "c.txt")),
    ("space_encoded", b"inbox/my%20file.txt", ("inbox", "my file.txt")),
    ("inner_spaces", b"inbox/a%20%20b", ("inbox", "a  b")),
    ("plus_is_literal", b"inbox/a+b.txt", ("inbox", "a+b.txt")),
    ("unicode_nfc", b"inbox/caf%C3%A9.txt", ("inbox", "caf\u00e9.txt")),
    ("unicode_lowercase_hex", b"inbox/caf%c3%a9.txt", ("inbox", "caf\u00e9.txt")),
    ("unicode_raw_utf8", "inbox/caf\u00e9.txt".encode(), ("inbox", "caf\u00e9.txt")),
    ("cjk", b"inbox/%E6%97%A5%E6%9C%AC.txt", ("inbox", "\u65e5\u672c.txt")),
    ("emoji", b"inbox/%F0%9F%98%80", ("inbox", "\U0001f600")),
    ("encoded_ordinary_letters", b"%69nbox/%78", ("inbox", "x")),
    ("double_encoded_dotdot_is_literal", b"%252e%252e/x", ("%2e%2e", "x")),
    ("double_encoded_slash_is_literal", b"inbox/a%252fb", ("inbox", "a%2fb")),
    ("double_encoded_nul_is_literal", b"inbox/a%2500", ("inbox", "a%00")),
    ("leading_dot_name", b"inbox/.hidden", ("inbox", ".hidden")),
    ("dotdot_prefix_name", b"inbox/..a", ("inbox", "..a")),
    ("dotdot_inside_name", b"inbox/a..b", ("inbox", "a..b")),
    ("dotdot_semicolon_is_name", b"inbox/..;", ("inbox", "..;")),
    ("device_name_prefix", b"inbox/console.txt", ("inbox", "console.txt")),
    ("com10_not_a_device", b"inbox/COM10", ("inbox", "COM10")),
    ("fullwidth_dots", b"%EF%BC%8E%EF%BC%8E/x", ("\uff0e\uff0e", "x")),
    ("two_dot_leader", b"%E2%80%A5/x", ("\u2025", "x")),
    ("one_dot_leader_pair", b"%E2%80%A4%E2%80%A4", ("\u2024\u2024",)),
    ("fullwidth_solidus_is_a_letter", b"a%EF%BC%8Fb", ("a\uff0fb",)),
    ("fullwidth_reverse_solidus_is_a_letter", b"a%EF%BC%BCb", ("a\uff3cb",)),
    ("leading_dot_name_is_ordinary", b".profile", (".profile",)),
    ("emoji_with_variation_selector", b"%E2%9D%A4%EF%B8%8F.txt", ("\u2764\ufe0f.txt",)),
    ("encoded_percent_is_literal", b"100%25.txt", ("100%.txt",)),
]


@pytest.mark.parametrize(("raw", "expected"), [(r, e) for _, r, e in ACCEPTED], ids=[i for i, _, _ in ACCEPTED])
def test_parse_raw_valid_path_accepted(raw: bytes, expected: tuple[str, ...]) -> None:
    parsed = parse_raw(raw)
    assert parsed.path.segments == expected
    assert parsed.trailing_slash is False
    for name in parsed.path.segments:
        assert unicodedata.is_normalized("NFC", name)


@pytest.mark.parametrize("raw", [b"", b"/"], ids=["empty", "slash"])
def test_parse_raw_root_is_empty_path(raw: bytes) -> None:
    parsed = parse_raw(raw)
    assert parsed == RequestPath(VirtualPath(), trailing_slash=False)
    assert parsed.path.is_root
    assert parsed.path.text == ""
    assert str(parsed.path) == "/"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"inbox/", ("inbox",)),
        (b"/inbox/archive/", ("inbox", "archive")),
        (b"inbox/caf%C3%A9/", ("inbox", "caf\u00e9")),
    ],
    ids=["folder", "nested_with_leading_slash", "unicode"],
)
def test_parse_raw_trailing_slash_reported(raw: bytes, expected: tuple[str, ...]) -> None:
    parsed = parse_raw(raw)
    assert parsed.trailing_slash is True
    assert parsed.path.segments == expected


def test_parse_raw_no_trailing_slash_not_reported() -> None:
    assert parse_raw(b"inbox/archive").trailing_slash is False


NFD_NFC: list[tuple[str, bytes, bytes, str]] = [
    ("e_acute", b"inbox/cafe%CC%81.txt", b"inbox/caf%C3%A9.txt", "caf\u00e9.txt"),
    ("a_ring_folder", b"A%CC%8Angstr%C3%B6m/x", b"%C3%85ngstr%C3%B6m/x", "\u00c5ngstr\u00f6m"),
    ("hangul_jamo", b"%E1%84%92%E1%85%A1%E1%86%AB", b"%ED%95%9C", "\ud55c"),
    ("ohm_sign_singleton", b"%E2%84%A6", b"%CE%A9", "\u03a9"),
    ("angstrom_sign_singleton", b"%E2%84%AB", b"%C3%85", "\u00c5"),
    ("raw_utf8_nfd", "cafe\u0301".encode(), b"caf%C3%A9", "caf\u00e9"),
]


@pytest.mark.parametrize(
    ("nfd", "nfc", "name"), [(a, b, c) for _, a, b, c in NFD_NFC], ids=[i for i, _, _, _ in NFD_NFC]
)
def test_parse_raw_nfd_spelling_equals_nfc_spelling(nfd: bytes, nfc: bytes, name: str) -> None:
    a, b = parse_raw(nfd), parse_raw(nfc)
    assert a == b
    assert hash(a.path) == hash(b.path)
    assert name in a.path.segments
    assert all(unicodedata.is_normalized("NFC", s) for s in a.path.segments)


def test_parse_raw_nfd_name_measured_after_normalisation_accepted() -> None:
    # 120 x "e" + U+0301 is 360 bytes as sent but 240 bytes as the canonical name.
    raw = _enc("e\u0301" * 120)
    assert len(unicodedata.normalize("NFD", "\u00e9" * 120).encode()) > MAX_SEGMENT_BYTES
    assert _segments(raw) == ("\u00e9" * 120,)


def test_parse_raw_decomposition_exclusion_growing_past_limit_rejected() -> None:
    # U+0958 is a composition exclusion: NFC turns its 3 bytes into 6 (U+0915 U+093C).
    raw = _enc("\u0958" * 85)  # 255 bytes as sent, 510 bytes canonical
    with pytest.raises(InvalidPathError):
        parse_raw(raw)


@pytest.mark.parametrize(
    "raw", [b"%EF%BC%8E%EF%BC%8E", b"%E2%80%A5", b"%E2%80%A4%E2%80%A4", b"%C2%B7%C2%B7", b"%E3%80%82%E3%80%82"]
)
def test_parse_raw_dot_lookalike_is_ordinary_name(raw: bytes) -> None:
    """Look-alikes of ``..`` are names like any other: NFC (unlike NFKC) keeps them apart."""
    for path in (raw, raw + b"/x", b"inbox/" + raw):
        segments = _segments(path)
        assert ".." not in segments and "." not in segments
        assert all("/" not in s and "\\" not in s for s in segments)


def test_parse_raw_percent_encoded_length_not_counted_accepted() -> None:
    """The limits are on decoded bytes: 16 x 240 bytes sent as %41 (11.5 kB raw) is a 3.9 kB path."""
    segment = b"%41" * 240
    raw = b"/".join([segment] * 16)
    assert len(raw) > MAX_PATH_BYTES * 2
    assert _segments(raw) == ("A" * 240,) * 16


# ---------------------------------------------------------------------------------------------
# rejected
# ---------------------------------------------------------------------------------------------

DOT_DOT_SPELLINGS = [b"..", b"%2e%2e", b"%2E%2E", b".%2e", b"%2e.", b".%2E", b"%2E."]
DOT_SPELLINGS = [b".", b"%2e", b"%2E"]

REJECTED: list[tuple[str, bytes]] = [
    *[(f"dotdot_{i}_alone", s) for i, s in enumerate(DOT_DOT_SPELLINGS)],
    *[(f"dotdot_{i}_first", s + b"/etc/passwd") for i, s in enumerate(DOT_DOT_SPELLINGS)],
    *[(f"dotdot_{i}_middle", b"inbox/" + s + b"/" + s + b"/etc/passwd") for i, s in enumerate(DOT_DOT_SPELLINGS)],
    *[(f"dotdot_{i}_last", b"inbox/" + s) for i, s in enumerate(DOT_DOT_SPELLINGS)],
    *[(f"dotdot_{i}_before_trailing_slash", b"inbox/" + s + b"/") for i, s in enumerate(DOT_DOT_SPELLINGS)],
    *[(f"dot_{i}_first", s + b"/inbox") for i, s in enumerate(DOT_SPELLINGS)],
    *[(f"dot_{i}_middle", b"inbox/" + s + b"/x") for i, s in enumerate(DOT_SPELLINGS)],
    *[(f"dot_{i}_last", b"inbox/" + s) for i, s in enumerate(DOT_SPELLINGS)],
    ("dot_alone", b"."),
    ("dot_slash", b"./"),
    ("dotdot_slash", b"../"),
    ("dotdot_encoded_slash", b"..%2fetc%2fpasswd"),
    ("dotdot_encoded_slash_upper", b"..%2Fetc%2Fpasswd"),
    ("all_encoded_traversal", b"%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
    ("four_dots_double_slash", b"....//....//etc/passwd"),
    ("three_dots", b"inbox/..."),
    ("encoded_slash_in_segment", b"inbox%2fx"),
    ("encoded_slash_upper_in_segment", b"inbox%2Farchive/x"),
    ("encoded_slash_in_file_name", b"inbox/a%2fb"),
    ("encoded_backslash", b"inbox/a%5cb"),
    ("encoded_backslash_upper", b"inbox/a%5Cb"),
    ("encoded_backslash_traversal", b"..%5c..%5cetc%5cpasswd"),
    ("raw_backslash", b"inbox/a\\b"),
    ("raw_backslash_traversal", b"..\\..\\etc\\passwd"),
    ("raw_backslash_name", b"inbox\\x"),
    ("nul", b"inbox/x%00"),
    ("nul_before_extension", b"inbox/x%00.txt"),
    ("nul_alone", b"%00"),
    ("newline", b"inbox/x%0a"),
    ("carriage_return", b"inbox/x%0d"),
    ("crlf_header_injection", b"inbox/x%0d%0aSet-Cookie:%20a=b"),
    ("tab", b"inbox/a%09b"),
    ("delete_char", b"inbox/x%7f"),
    ("escape_char", b"inbox/x%1b[31m"),
    ("next_line_c1", b"inbox/x%c2%85"),
    ("line_separator", b"inbox/x%e2%80%a8"),
    ("paragraph_separator", b"inbox/x%e2%80%a9"),
    ("overlong_dotdot", b"%C0%AE%C0%AE"),
    ("overlong_dotdot_lower", b"%c0%ae%c0%ae/etc/passwd"),
    ("overlong_dotdot_three_bytes", b"%e0%80%ae%e0%80%ae"),
    ("overlong_slash", b"..%c0%af..%c0%afetc"),
    ("overlong_backslash", b"..%c1%9c..%c1%9cetc"),
    ("invalid_byte_ff", b"inbox/%ff"),
    ("invalid_byte_fe", b"inbox/%fe"),
    ("lone_continuation_byte", b"inbox/%80"),
    ("truncated_sequence", b"inbox/caf%C3"),
    ("surrogate_encoded", b"inbox/%ed%a0%80"),
    ("raw_invalid_utf8", b"inbox/\xff"),
    ("empty_middle_segment", b"a//b"),
    ("empty_segment_after_folder", b"inbox//x"),
    ("leading_double_slash", b"//inbox"),
    ("double_trailing_slash", b"inbox//"),
    ("only_slashes", b"///"),
    ("windows_con", b"inbox/CON"),
    ("windows_con_lower", b"inbox/con"),
    ("windows_nul_txt", b"inbox/nul.txt"),
    ("windows_nul_double_extension", b"inbox/Nul.tar.gz"),
    ("windows_com1", b"inbox/COM1"),
    ("windows_com9", b"inbox/com9.bin"),
    ("windows_lpt9_log", b"inbox/LPT9.log"),
    ("windows_lpt1", b"inbox/lpt1"),
    ("windows_aux", b"inbox/AUX"),
    ("windows_prn", b"inbox/prn.txt"),
    ("windows_conin", b"inbox/CONIN$"),
    ("windows_conout", b"inbox/conout$.txt"),
    ("windows_con_space_before_extension", b"inbox/con%20.txt"),
    ("windows_device_as_folder", b"CON/x"),
    ("trailing_dot", b"inbox/evil."),
    ("trailing_dots", b"inbox/evil..."),
    ("trailing_space", b"inbox/evil%20"),
    ("trailing_space_folder", b"inbox%20/x"),
    ("leading_space", b"inbox/%20evil"),
    ("space_only", b"inbox/%20"),
    ("trailing_dot_folder", b"inbox./x"),
    # colons: drive letters and NTFS streams
    ("colon_in_name", b"inbox/a:b"),
    ("ntfs_stream", b"inbox/file.txt::$DATA"),
    ("drive_letter", b"C:/x"),
    ("encoded_colon", b"inbox/a%3ab"),
    # invisible characters (Cf and look-alikes)
    ("bidi_override", b"inbox/%E2%80%AEgnp.exe"),
    ("bidi_isolate", b"inbox/%E2%81%A6x"),
    ("zero_width_space", b"inbox/a%E2%80%8Bb"),
    ("zero_width_joiner", b"inbox/a%E2%80%8Db"),
    ("word_joiner", b"inbox/a%E2%81%A0b"),
    ("bom", b"inbox/%EF%BB%BFx"),
    ("soft_hyphen", b"inbox/a%C2%ADb"),
    ("mongolian_vowel_separator", b"inbox/a%E1%A0%8Eb"),
    ("no_break_space", b"inbox/a%C2%A0b"),
    ("ideographic_space", b"inbox/a%E3%80%80b"),
    ("hangul_filler", b"inbox/%E3%85%A4"),
    ("braille_blank", b"inbox/%E2%A0%80"),
    ("combining_grapheme_joiner", b"inbox/a%CD%8Fb"),
    ("private_use", b"inbox/%EE%80%80"),
    ("unassigned", b"inbox/%F3%A0%80%80"),
    ("tag_character", b"inbox/a%F3%A0%80%81"),
    # percent-escapes that are not two hex digits
    ("bad_escape_letters", b"inbox/%zz"),
    ("bad_escape_alone", b"inbox/%"),
    ("bad_escape_one_digit", b"inbox/%2"),
    ("bad_escape_iis_unicode", b"%u002e%u002e/etc/passwd"),
    ("bad_escape_in_folder", b"in%g0box/x"),
    # depth
    ("too_deep", b"/".join([b"d"] * 65)),
]


@pytest.mark.parametrize("raw", [r for _, r in REJECTED], ids=[i for i, _ in REJECTED])
def test_parse_raw_hostile_path_rejected(raw: bytes) -> None:
    with pytest.raises(InvalidPathError):
        parse_raw(raw)


def test_parse_raw_invalid_path_is_request_syntax_error() -> None:
    with pytest.raises(RequestSyntaxError) as info:
        parse_raw(b"../etc/passwd")
    assert info.value.error_type == "request_syntax"


C0_AND_C1 = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]


@pytest.mark.parametrize("code", C0_AND_C1, ids=[f"U+{c:04X}" for c in C0_AND_C1])
def test_parse_raw_control_character_rejected(code: int) -> None:
    encoded = _enc(chr(code))
    for raw in (b"inbox/a" + encoded + b"b", b"inbox/" + encoded, encoded + b"/x"):
        with pytest.raises(InvalidPathError):
            parse_raw(raw)


@pytest.mark.parametrize("code", C0_AND_C1, ids=[f"U+{c:04X}" for c in C0_AND_C1])
def test_validate_segment_control_character_rejected(code: int) -> None:
    with pytest.raises(InvalidPathError):
        validate_segment(f"a{chr(code)}b")


# ---------------------------------------------------------------------------------------------
# length limits
# ---------------------------------------------------------------------------------------------

SEGMENT_LENGTHS: list[tuple[str, str, bool]] = [
    ("ascii_255", "a" * 255, True),
    ("ascii_256", "a" * 256, False),
    ("ascii_300", "a" * 300, False),
    ("two_byte_254_plus_ascii", "\u00e9" * 127 + "a", True),
    ("two_byte_crossing_256", "\u00e9" * 128, False),
    ("three_byte_255", "\u20ac" * 85, True),
    ("three_byte_crossing_256", "\u20ac" * 85 + "a", False),
    ("four_byte_252_plus_ascii", "\U0001f600" * 63 + "abc", True),
    ("four_byte_crossing_256", "\U0001f600" * 64, False),
    ("four_byte_crossing_from_253", "a" * 253 + "\U0001f600", False),
]


@pytest.mark.parametrize(
    ("name", "ok"), [(n, ok) for _, n, ok in SEGMENT_LENGTHS], ids=[i for i, _, _ in SEGMENT_LENGTHS]
)
def test_parse_raw_segment_byte_limit_enforced(name: str, ok: bool) -> None:
    raw = b"inbox/" + quote(name, safe="").encode("ascii")
    if ok:
        assert len(name.encode("utf-8")) <= MAX_SEGMENT_BYTES
        assert _segments(raw) == ("inbox", name)
        assert validate_segment(name) == name
    else:
        assert len(name.encode("utf-8")) > MAX_SEGMENT_BYTES
        with pytest.raises(InvalidPathError):
            parse_raw(raw)
        with pytest.raises(InvalidPathError):
            validate_segment(name)


def _path_of(total: int) -> bytes:
    """A path of exactly ``total`` bytes (no leading slash) made of 200-byte names."""
    parts: list[str] = []
    size = -1
    while size + 201 <= total:
        parts.append("a" * 200)
        size += 201
    rest = total - size - 1
    assert 0 < rest <= 200, rest
    parts.append("b" * rest)
    text = "/".join(parts)
    assert len(text) == total
    return text.encode("ascii")


def test_parse_raw_path_within_limit_accepted() -> None:
    raw = _path_of(MAX_PATH_BYTES)  # as documented: the path without its leading slash
    assert "/".join(_segments(raw)).encode() == raw
    assert "/".join(_segments(b"/" + raw + b"/")).encode() == raw


def test_parse_raw_path_within_limit_fully_encoded_accepted() -> None:
    raw = _path_of(MAX_PATH_BYTES)
    encoded = b"/".join(b"".join(b"%%%02X" % c for c in seg) for seg in raw.split(b"/"))
    assert "/".join(_segments(b"/" + encoded + b"/")).encode() == raw


def test_parse_raw_depth_limit() -> None:
    assert len(_segments(b"/".join([b"d"] * MAX_DEPTH))) == MAX_DEPTH
    with pytest.raises(InvalidPathError, match="segments"):
        parse_raw(b"/".join([b"d"] * 1000))


@pytest.mark.parametrize("total", [MAX_PATH_BYTES + 1, 5000, 20_000])
def test_parse_raw_path_over_limit_rejected(total: int) -> None:
    with pytest.raises(InvalidPathError):
        parse_raw(_path_of(total))
    with pytest.raises(InvalidPathError):
        parse_raw(b"/" + _path_of(total))


def test_parse_raw_multibyte_path_over_limit_rejected() -> None:
    segment = _enc("\u00e9" * 120)  # 240 bytes decoded
    assert len(_segments(b"/".join([segment] * 17))) == 17  # 17 x 240 + 16 = 4096
    with pytest.raises(InvalidPathError):
        parse_raw(b"/".join([segment] * 17) + b"/a")  # 4098


def test_parse_raw_huge_encoded_input_rejected() -> None:
    with pytest.raises(InvalidPathError):
        parse_raw(b"%41" * 100_000)
    with pytest.raises(InvalidPathError):
        parse_raw(b"a/" * 50_000)


# ---------------------------------------------------------------------------------------------
# validate_segment, VirtualPath, parse_config_path
# ---------------------------------------------------------------------------------------------

BAD_NAMES = ["", ".", "..", "a/b", "/", "a\\b", "\\", "a\x00", "x\n", "CON", "nul.txt", "evil.", "evil ", " evil"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n) for n in BAD_NAMES])
def test_validate_segment_bad_name_rejected(name: str) -> None:
    with pytest.raises(InvalidPathError):
        validate_segment(name)


def test_validate_segment_nfd_name_normalised_to_nfc() -> None:
    assert validate_segment("cafe\u0301") == "caf\u00e9"
    assert validate_segment("\u2126") == "\u03a9"


@pytest.mark.parametrize("name", ["\uff0e\uff0e", "\u2025", "\uff0e", "\u2024"])
def test_validate_segment_dot_lookalike_kept_as_is(name: str) -> None:
    assert validate_segment(name) == name
    assert validate_segment(name) not in (".", "..")


@pytest.mark.parametrize("name", ["..", ".", "a/b", "", "CON", "x\x00"])
def test_virtual_path_child_hostile_name_rejected(name: str) -> None:
    with pytest.raises(InvalidPathError):
        VirtualPath(("inbox",)).child(name)


def test_virtual_path_child_nfd_name_normalised() -> None:
    assert VirtualPath(("inbox",)).child("cafe\u0301") == VirtualPath(("inbox", "caf\u00e9"))


CONFIG_ACCEPTED: list[tuple[str, tuple[str, ...]]] = [
    ("/", ()),
    ("", ()),
    ("/inbox", ("inbox",)),
    ("/inbox/archive", ("inbox", "archive")),
    ("inbox/archive/", ("inbox", "archive")),
    ("/caf\u00e9", ("caf\u00e9",)),
    ("/cafe\u0301", ("caf\u00e9",)),
    ("/a%2e%2e", ("a%2e%2e",)),  # configuration is not percent-encoded: a literal name
]


@pytest.mark.parametrize(("text", "expected"), CONFIG_ACCEPTED, ids=[t or "empty" for t, _ in CONFIG_ACCEPTED])
def test_parse_config_path_valid_path_accepted(text: str, expected: tuple[str, ...]) -> None:
    assert parse_config_path(text) == VirtualPath(expected)


CONFIG_REJECTED = [
    "/inbox/../etc",
    "/..",
    "/./inbox",
    "/inbox//archive",
    "/inbox\\archive",
    "/inbox/x\x00",
    "/inbox/\n",
    "/CON",
    "/inbox/evil.",
    "/" + "a" * 256,
]


@pytest.mark.parametrize("text", CONFIG_REJECTED, ids=[repr(t[:20]) for t in CONFIG_REJECTED])
def test_parse_config_path_hostile_path_rejected(text: str) -> None:
    with pytest.raises(InvalidPathError):
        parse_config_path(text)


def test_virtual_path_is_within_compares_whole_segments() -> None:
    inbox = parse_raw(b"inbox").path
    assert parse_raw(b"inbox/x").path.is_within(inbox)
    assert not parse_raw(b"inboxes/x").path.is_within(inbox)
    assert not parse_raw(b"%69nbox2").path.is_within(inbox)
    assert parse_raw(b"%69nbox/x").path.is_within(inbox)


def _outcome(raw: bytes) -> RequestPath | str:
    try:
        return parse_raw(raw)
    except InvalidPathError as exc:
        return str(exc)


# Bytes that matter to the rules: separators, dots, spaces, ":", "\\", a control byte, a device
# name's letters, and the lead and continuation bytes of multi-byte (and broken) UTF-8.
_PATH_BYTES = st.lists(
    st.sampled_from(list(b"/./ :\\\x00\x7faAbCoNnUuLl1") + [0xC3, 0xA9, 0xE2, 0x80, 0x8B, 0xFF]), max_size=24
).map(bytes)


@settings(max_examples=400, deadline=None)
@given(_PATH_BYTES)
def test_parse_raw_unescaped_path_reads_as_its_fully_escaped_form(raw: bytes) -> None:
    """A path without ``%`` skips the unescaping of its segments; every segment of it, spelled
    with every byte escaped, must give the same path, trailing slash or refusal."""
    escaped = b"/".join(b"".join(b"%%%02X" % b for b in seg) for seg in raw.split(b"/"))
    assert _outcome(raw) == _outcome(escaped)
