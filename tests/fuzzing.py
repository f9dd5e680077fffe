"""The byte mutations the fuzz tests share: truncations, bit flips, overwrites, appends."""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["mutations"]


@st.composite
def mutations(draw, data: bytes) -> bytes:
    """Truncate, flip bits, overwrite a slice, or append bytes: one or more of them."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "append"]))
        if kind == "truncate":
            del out[draw(st.integers(0, max(len(out) - 1, 0))) :]
        elif kind == "flip" and out:
            at = draw(st.integers(0, len(out) - 1))
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite" and out:
            at = draw(st.integers(0, len(out) - 1))
            chunk = draw(st.binary(min_size=1, max_size=8))
            out[at : at + len(chunk)] = chunk
        else:
            out += draw(st.binary(min_size=1, max_size=8))
    return bytes(out)
