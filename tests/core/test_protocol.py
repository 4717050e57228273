import math

import pytest

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
