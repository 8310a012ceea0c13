"""Reading numbers from text."""


def parse_numbers(text):
    """Numbers from comma-separated text, e.g. "1, 2.5,3" -> [1.0, 2.5, 3.0].

    Blank fields (as in "1,,2" or a trailing comma) are skipped.
    """
    return [float(field) for field in text.split(",")]
