"""French number formats, and how a published cell reads on screen."""

from analytics.formatting import SECRET_LEGEND, fr_cell, fr_float, fr_int, fr_pct


def test_french_number_formats():
    assert fr_int(1234567) == "1\u202f234\u202f567"
    assert fr_float(1234.5, 1) == "1\u202f234,5"
    assert fr_pct(0.123) == "12,3\u00a0%"


def test_a_secret_cell_reads_s_whatever_its_kind():
    assert fr_cell(None, "s") == "s"
    assert fr_cell(12, "s") == "s"  # a value never leaks through a secret status
    assert fr_cell(1234, "publie") == "1\u202f234"
    assert fr_cell(0, "publie") == "0"
    assert SECRET_LEGEND == "s : secret statistique"
