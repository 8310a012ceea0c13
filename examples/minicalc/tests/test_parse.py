from minicalc.parse import parse_numbers


def test_plain():
    assert parse_numbers("1,2.5,3") == [1.0, 2.5, 3.0]


def test_spaces():
    assert parse_numbers(" 1, 2 ,3 ") == [1.0, 2.0, 3.0]


def test_blank_fields_are_skipped():
    assert parse_numbers("1,,2,") == [1.0, 2.0]
