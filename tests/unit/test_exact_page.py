"""A REST query page decodes to exactly what requests' ``json(parse_float=Decimal)`` gives.

Differential (hypothesis): any JSON object (nested values, every string escape, integers past
64 bits, fractions and exponents) decodes to the same values with the same types, Decimals with
the same digits; bodies msgspec refuses or another charset fall back to the old reader, which
decodes them or raises ``UnreadableBody`` as before.
"""

from __future__ import annotations

import decimal
import json

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_salesforce_temporal.connection.client import UnreadableBody, json_object
from tap_salesforce_temporal.query.rest import exact_page

NUMBERS = (
    st.integers(-(2**70), 2**70)
    | st.decimals(allow_nan=False, allow_infinity=False).map(str)
    | st.sampled_from(["1e5", "-0.0", "1.5E-7", "0.10", "9876543210987654.32", "1.5e400"])
)
VALUES = st.recursive(
    st.none() | st.booleans() | st.text(max_size=6) | NUMBERS.map(lambda n: ("number", n)),
    lambda inner: (
        st.dictionaries(st.text(max_size=4), inner, max_size=4) | st.lists(inner, max_size=3)
    ),
    max_leaves=15,
)


def _encode(value: object) -> str:
    """JSON text with numbers written as given (``json.dumps`` would normalise them)."""
    if isinstance(value, tuple):
        return str(value[1])
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value)


def _response(
    body: bytes, content_type: str = "application/json;charset=UTF-8"
) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body
    if content_type:  # none: requests guesses the UTF from the bytes
        response.headers["Content-Type"] = content_type
    response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    return response


def _typed(value: object) -> object:
    """Values with their types and Decimal digits visible (1 == 1.0 == Decimal(1) in Python)."""
    if isinstance(value, dict):
        return [(k, _typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, str(value))


def _old(response: requests.Response) -> object:
    try:
        return _typed(json_object(response, parse_float=decimal.Decimal))
    except UnreadableBody as error:
        return ("UnreadableBody", str(error))


def _new(response: requests.Response) -> object:
    try:
        return _typed(exact_page(response))
    except UnreadableBody as error:
        return ("UnreadableBody", str(error))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=5), VALUES, max_size=5))
def test_given_any_page_then_the_values_are_those_of_the_old_reader(page: dict) -> None:
    body = _encode(page).encode()
    assert _new(_response(body)) == _old(_response(body))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"a":"\\ud800"}', "application/json"),  # a lone surrogate escape
        (b'{"a":"\\udc00x"}', "application/json;charset=UTF-8"),
        (b'\xef\xbb\xbf{"a":1.50}', "application/json"),  # a byte order mark
        (b'{"a":"\xff"}', "application/json;charset=UTF-8"),  # invalid UTF-8
        (b'{"a":"\xe9t\xe9"}', "application/json;charset=ISO-8859-1"),
        ('{"a":"été","b":2.50}'.encode("utf-16"), "application/json"),
        (b'{"a":NaN}', "application/json"),
        (b"[1.5]", "application/json"),  # not an object
        (b'{"a":1} trailing', "application/json"),
        (b"<html>maintenance</html>", "text/html"),
        (b'{"a":"\xc3\xa9","b":1.50}', ""),
        ('{"a":"\u00e9","b":1.50}'.encode("utf-16-le"), ""),
        (b'\xef\xbb\xbf{"a":1.50}', ""),
        (b'{"records":[{"Amount":9876543210987654.32}]}', "text/plain"),  # no charset
    ],
)
def test_given_an_unusual_body_then_the_answer_is_the_old_readers(
    body: bytes, content_type: str
) -> None:
    assert _new(_response(body, content_type)) == _old(_response(body, content_type))


def test_given_a_currency_beyond_float_precision_then_it_stays_exact() -> None:
    page = exact_page(_response(b'{"records":[{"Amount":9876543210987654.32,"N":3}]}'))
    assert page["records"][0] == {"Amount": decimal.Decimal("9876543210987654.32"), "N": 3}
    assert str(page["records"][0]["Amount"]) == "9876543210987654.32"
