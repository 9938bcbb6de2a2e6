# The text sandbox_run() returns: headers, newlines, decoding, truncation.
import re

LIMIT = 50000
MARKER_ALLOWANCE = 64  # the truncation marker may follow the cut


def test_exit_code_is_reported(sb, fake):
    assert sb.sandbox_run("exit 7").startswith("exit=7\n--- stdout ---\n")


def test_text_form_exact(sb, fake):
    out = sb.sandbox_run("printf 'a\\n'; printf 'e\\n' >&2")
    assert out == "exit=0\n--- stdout ---\na\n--- stderr ---\ne\n"


def test_stdout_without_newline_gets_exactly_one(sb, fake):
    out = sb.sandbox_run("printf a; printf e >&2")
    assert out == "exit=0\n--- stdout ---\na\n--- stderr ---\ne"


def test_empty_stdout_puts_stderr_header_right_after(sb, fake):
    out = sb.sandbox_run("printf e >&2")
    assert out == "exit=0\n--- stdout ---\n--- stderr ---\ne"


def test_empty_everything(sb, fake):
    assert sb.sandbox_run("true") == "exit=0\n--- stdout ---\n--- stderr ---\n"


def test_stdout_newlines_are_kept_not_collapsed(sb, fake):
    out = sb.sandbox_run("printf 'a\\n\\n'")
    assert out == "exit=0\n--- stdout ---\na\n\n--- stderr ---\n"


def test_stderr_is_kept_as_produced(sb, fake):
    out = sb.sandbox_run("printf 'x\\n\\n' >&2")
    assert out.endswith("--- stderr ---\nx\n\n")


def test_invalid_utf8_becomes_replacement_character(sb, fake):
    out = sb.sandbox_run("printf 'a\\377b'; printf '\\376' >&2")
    assert "a\ufffdb\n" in out
    assert out.endswith("--- stderr ---\n\ufffd")


def _bytes(s):
    return len(s.encode("utf-8"))


def test_truncation_is_bounded_in_bytes(sb, fake):
    out = sb.sandbox_run("head -c 200000 /dev/zero | tr '\\0' a")
    assert _bytes(out) <= LIMIT + MARKER_ALLOWANCE, \
        "%d bytes: the text must be cut to 50,000 bytes" % _bytes(out)
    assert out.count("a") >= LIMIT - 200, "cut far too early"
    assert out.startswith("exit=0\n--- stdout ---\naaa")


def test_truncation_applies_to_the_whole_text(sb, fake):
    out = sb.sandbox_run("head -c 49990 /dev/zero | tr '\\0' a; "
                         "head -c 30000 /dev/zero | tr '\\0' e >&2")
    assert _bytes(out) <= LIMIT + MARKER_ALLOWANCE, \
        "%d bytes: the limit is for the whole text, headers and stderr " \
        "included" % _bytes(out)


def _multibyte(sb, char, prefix):
    # prefix bytes shift the 50,000-byte boundary into the middle of a char
    cmd = ("printf '%s'; i=0; while [ $i -lt 7 ]; do "
           "head -c 10000 /dev/zero | sed 's/./%s/g'; i=$((i+1)); done"
           % (prefix, char))
    out = sb.sandbox_run(cmd)
    assert _bytes(out) <= LIMIT + MARKER_ALLOWANCE, \
        "%d bytes: cut to 50,000 bytes, not characters" % _bytes(out)
    assert "\ufffd" not in out, \
        "the cut landed inside a multi-byte character (U+FFFD appeared)"
    body = re.sub(r"[^%s]" % char, "", out)
    assert _bytes(body) >= LIMIT - 100, "cut far too early"


def test_truncation_never_splits_a_two_byte_character(sb, fake):
    _multibyte(sb, "\u00e9", "x")


def test_truncation_never_splits_a_three_byte_character(sb, fake):
    _multibyte(sb, "\u20ac", "xy")


def test_truncation_never_splits_a_four_byte_character(sb, fake):
    _multibyte(sb, "\U0001F600", "xyz")
