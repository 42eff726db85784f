"""The canonical JSON the chain is hashed over must not change with the encoder that
writes it: orjson's fast path has to give json's bytes exactly, or old chains would stop
verifying."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atalaya.audit.service import canonical_bytes

REFERENCE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def reference(value: Any) -> bytes:
    return REFERENCE.encode(value).encode()


def test_every_unicode_scalar_value_is_written_as_json_writes_it() -> None:
    for start in range(0, 0x110000, 4096):
        chars = [chr(c) for c in range(start, start + 4096) if not 0xD800 <= c <= 0xDFFF]
        value = {"one": "".join(chars), "each": "|".join(chars[:64]), "at": chars[-1]}
        assert canonical_bytes(value) == reference(value), hex(start)


plain = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(),
)


@given(st.dictionaries(st.text(), plain, max_size=20))
def test_flat_objects_match_json(value: dict[str, Any]) -> None:
    assert canonical_bytes(value) == reference(value)


@given(
    st.dictionaries(
        st.text(max_size=5),
        st.one_of(plain, st.floats(), st.lists(plain, max_size=3), st.dates()),
        max_size=6,
    )
)
def test_anything_else_goes_to_json(value: dict[str, Any]) -> None:
    assert canonical_bytes(value) == reference(value)


def test_what_orjson_refuses_goes_to_json() -> None:
    for value in ({"big": 2**64}, {1: "key that is no string"}, [1, "x"]):
        assert canonical_bytes(value) == reference(value)


def test_a_lone_surrogate_is_refused_as_before() -> None:
    """No UTF-8 holds it, so no entry could be hashed with one, then or now."""
    with pytest.raises(UnicodeEncodeError):
        reference({"lone": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        canonical_bytes({"lone": "\ud800"})
