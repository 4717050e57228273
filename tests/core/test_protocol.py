import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpo.runkit.logtail import LogTail
from hpo.trial.protocol import ProtocolError, format_report, parse_line


def test_key_value_and_json_forms():
    assert parse_line("@hpo step=3 loss=0.25 acc=1").metrics == {"loss": 0.25, "acc": 1.0}
    assert parse_line("@hpo step=3 loss=0.25").step == 3
    r = parse_line('@hpo {"step": 2, "loss": 0.5}')
    assert (r.step, r.metrics) == (2, {"loss": 0.5})
    assert parse_line("@hpo loss=0.1").step is None


def test_other_lines_are_output():
    assert parse_line("epoch 3 loss=0.1") is None
    assert parse_line("@hpolicy x=1") is None
    assert parse_line("") is None


def test_nan_and_inf_are_numbers():
    r = parse_line("@hpo loss=nan gain=inf")
    assert math.isnan(r.metrics["loss"]) and r.metrics["gain"] == math.inf


@pytest.mark.parametrize(
    "line",
    ["@hpo", "@hpo loss", "@hpo loss=abc", "@hpo step=-1 loss=1", "@hpo step=1.5 loss=1",
     "@hpo {bad json", "@hpo [1, 2]", '@hpo {"loss": true}'],
)
def test_malformed_reports_raise(line):
    with pytest.raises(ProtocolError):
        parse_line(line)


def test_format_roundtrips():
    line = format_report(4, {"loss": 0.125, "acc": 0.5})
    r = parse_line(line)
    assert (r.step, r.metrics) == (4, {"loss": 0.125, "acc": 0.5})
    with pytest.raises(ValueError):
        format_report(1, {"step": 2})


def test_logtail_consumes_whole_lines_only(tmp_path):
    path = tmp_path / "out"
    path.write_bytes(b"hello\n@hpo loss=1\n@hpo los")
    tail = LogTail(path)
    got = tail.read_reports()
    assert [(r.metrics, off) for r, off in got] == [({"loss": 1.0}, 18)]
    with open(path, "ab") as fh:
        fh.write(b"s=2\n@hpo bad\n")
    got = tail.read_reports()
    assert [r.metrics for r, _ in got] == [{"loss": 2.0}]
    assert len(tail.protocol_errors) == 1
    # resuming from a recorded offset skips what was already recorded
    again = LogTail(path, offset=18)
    assert [r.metrics for r, _ in again.read_reports()] == [{"loss": 2.0}]


def test_logtail_flush_reads_last_line_without_newline(tmp_path):
    path = tmp_path / "out"
    path.write_bytes(b"@hpo loss=1\n@hpo loss=3")
    tail = LogTail(path)
    assert [r.metrics["loss"] for r, _ in tail.flush_reports()] == [1.0, 3.0]


# -- hostile lines: a report line can never take the engine down ---------------------------------

HOSTILE = [
    '@hpo {"loss": ' + "9" * 5000 + "}",  # an integer too big for a float
    "@hpo {\"loss\": " + "[" * 100_000 + "]" * 100_000 + "}",  # nesting deeper than the recursion limit
    "@hpo step=1e23 loss=1",  # a step SQLite cannot store
    '@hpo {"step": 1e300, "loss": 1}',
    "@hpo loss=\u0663",  # ARABIC-INDIC DIGIT THREE: float() reads it, we do not
    "@hpo loss=1_000",  # float() reads it, we do not
    "@hpo loss=0x10",
    '@hpo {"": 1}',  # an empty name
    "@hpo " + "n" * 100_000 + "=1",  # a 100 KB name
    "@hpo " + " ".join(f"m{i}=1" for i in range(20_000)),  # 20,000 metrics in one line
    "@hpo " + " ".join(f"m{i}=1" for i in range(101)),
    '@hpo {"lo ss": 1}',
    '@hpo {"loss": "1e5x"}',
]


@pytest.mark.parametrize("line", HOSTILE, ids=range(len(HOSTILE)))
def test_a_hostile_line_is_a_protocol_error_and_nothing_else(line):
    with pytest.raises(ProtocolError) as info:
        parse_line(line)
    assert len(str(info.value)) < 300  # the message quotes the line, clipped


@pytest.mark.parametrize("text", ["9223372036854775807", "9223372036854775806", "9007199254740993"])
def test_a_step_is_kept_exactly_up_to_2_63_minus_1(text):
    """The largest step SQLite stores is accepted, and a step above 2**53 is not rounded (a float
    holds no integer beyond it exactly), in both forms."""
    assert parse_line(f"@hpo step={text} loss=1").step == int(text)
    assert parse_line(f'@hpo {{"step": {text}, "loss": 1}}').step == int(text)
    with pytest.raises(ProtocolError, match="at most"):
        parse_line("@hpo step=9223372036854775808 loss=1")
    with pytest.raises(ProtocolError, match="at most"):
        parse_line('@hpo {"step": 9223372036854775808, "loss": 1}')


def test_strict_numbers_still_take_every_ascii_form():
    r = parse_line("@hpo a=1 b=-2.5 c=.5 d=3. e=1e-4 f=+2E+3 g=NaN h=-Inf i=infinity")
    assert [r.metrics[k] for k in "abcdef"] == [1.0, -2.5, 0.5, 3.0, 1e-4, 2000.0]
    assert math.isnan(r.metrics["g"]) and r.metrics["h"] == -math.inf and r.metrics["i"] == math.inf
    assert parse_line('@hpo {"step": 9007199254740992, "loss": null, "acc": "0.5"}').metrics == {
        "loss": None, "acc": 0.5}
    assert parse_line("@hpo val/loss=1 top-1=0.5 acc@5=0.9").metrics == {
        "val/loss": 1.0, "top-1": 0.5, "acc@5": 0.9}


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_after_the_prefix_parses_or_is_a_protocol_error(body):
    for line in (f"@hpo {body}", "@hpo {" + body, '@hpo {"m": ' + body + "}"):
        try:
            report = parse_line(line)
        except ProtocolError:
            continue
        assert report is not None
        assert 0 < len(report.metrics) <= 100
        assert report.step is None or 0 <= report.step <= 2**63 - 1
        for name, value in report.metrics.items():
            assert name.isascii() and name.isprintable() and " " not in name
            assert value is None or isinstance(value, float)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_the_output_reader_takes_any_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("out") / "stdout.log"
    path.write_bytes(b"@hpo loss=1\n" + data.replace(b"\r", b"") + b"\n@hpo " + data[:50] + b"\n")
    tail = LogTail(path)
    reports = tail.read_reports() + tail.flush_reports()
    assert reports[0][0].metrics == {"loss": 1.0}
    assert tail.offset == path.stat().st_size
    offsets = [off for _, off in reports]
    assert offsets == sorted(offsets)


# -- bounded reading: memory never follows the longest line ---------------------------------------


def test_an_overlong_plain_line_is_skipped_and_reports_around_it_are_kept(tmp_path):
    path = tmp_path / "out"
    path.write_bytes(b"@hpo loss=1\n" + b"x" * 3_000_000 + b"\n@hpo loss=2\n")
    tail = LogTail(path)
    assert [(r.metrics["loss"], off) for r, off in tail.read_reports()] == [(1.0, 12), (2.0, path.stat().st_size)]
    assert tail.protocol_errors == []


def test_an_overlong_report_line_is_a_protocol_error(tmp_path):
    path = tmp_path / "out"
    path.write_bytes(b"@hpo loss=" + b"1" * 3_000_000 + b"\n@hpo loss=3\n")
    tail = LogTail(path)
    assert [r.metrics for r, _ in tail.read_reports()] == [{"loss": 3.0}]
    assert len(tail.protocol_errors) == 1 and "longer than 262,144 bytes" in tail.protocol_errors[0]


def test_an_overlong_line_written_over_many_polls(tmp_path):
    path = tmp_path / "out"
    path.write_bytes(b"@hpo loss=1\n")
    tail = LogTail(path)
    assert len(tail.read_reports()) == 1
    for _ in range(5):  # 5 x 200 KB without a newline, read between the writes
        with open(path, "ab") as fh:
            fh.write(b"y" * 200_000)
        assert tail.read_reports() == []
    with open(path, "ab") as fh:
        fh.write(b"\n@hpo loss=4\n@hpo loss=")
    assert [r.metrics for r, _ in tail.read_reports()] == [{"loss": 4.0}]
    with open(path, "ab") as fh:
        fh.write(b"5")
    assert [r.metrics for r, _ in tail.flush_reports()] == [{"loss": 5.0}]
    assert tail.offset == path.stat().st_size


def test_flush_skips_an_overlong_last_line(tmp_path):
    path = tmp_path / "out"
    path.write_bytes(b"@hpo loss=1\n@hpo " + b"z" * 2_000_000)
    tail = LogTail(path)
    assert [r.metrics for r, _ in tail.flush_reports()] == [{"loss": 1.0}]
    assert tail.offset == path.stat().st_size and len(tail.protocol_errors) == 1


def test_reading_a_50_mb_line_holds_about_a_chunk(tmp_path):
    import tracemalloc

    path = tmp_path / "out"
    with open(path, "wb") as fh:
        for _ in range(50):
            fh.write(b"w" * 1_000_000)
        fh.write(b"\n@hpo loss=6\n")
    tail = LogTail(path)
    tracemalloc.start()
    try:
        reports = tail.read_reports()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r.metrics for r, _ in reports] == [{"loss": 6.0}]
    assert peak < 5_000_000


def test_bad_lines_are_counted_and_only_the_first_few_kept(tmp_path):
    path = tmp_path / "out"
    path.write_bytes(b"".join(b"@hpo loss=%d_0\n" % i for i in range(100_000)) + b"@hpo loss=2\n")
    tail = LogTail(path)
    assert [r.metrics for r, _ in tail.read_reports()] == [{"loss": 2.0}]
    assert tail.error_count == 100_000
    assert [e.rsplit(": ", 1)[1] for e in tail.protocol_errors] == [f"@hpo loss={i}_0" for i in range(5)]
