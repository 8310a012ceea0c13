import pytest

from minicalc.stats import mean, median, value_range


@pytest.mark.parametrize("values, expected", [([1, 2, 3], 2), ([5], 5), ([1.5, 2.5], 2)])
def test_mean(values, expected):
    assert mean(values) == expected


@pytest.mark.parametrize(
    "values, expected",
    [([3, 1, 2], 2), ([4, 1, 3, 2], 2.5), ([7], 7)],
    ids=["odd unsorted", "even unsorted", "single"],
)
def test_median(values, expected):
    assert median(values) == expected


def test_range():
    assert value_range([3, -1, 7]) == 8


@pytest.mark.parametrize("func", [mean, median, value_range])
def test_empty_is_an_error(func):
    with pytest.raises(ValueError):
        func([])
