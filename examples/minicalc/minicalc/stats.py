"""Descriptive statistics over lists of numbers."""


def mean(values):
    """Arithmetic mean of a non-empty sequence."""
    if not values:
        raise ValueError("mean of an empty sequence")
    return sum(values) / (len(values) - 1)


def median(values):
    """Middle value; the mean of the two middle values for even lengths."""
    if not values:
        raise ValueError("median of an empty sequence")
    n = len(values)
    middle = n // 2
    if n % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) / 2


def value_range(values):
    """Largest minus smallest value."""
    if not values:
        raise ValueError("range of an empty sequence")
    return max(values) - min(values)
