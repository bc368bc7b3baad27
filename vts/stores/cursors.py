"""Opaque pagination cursors: the position after which the next page starts."""

from __future__ import annotations

import base64

from vts.errors import ValidationError


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        seq = int(raw[1:])
        # A sequence number is a signed 64-bit integer in every store.
        if not raw.startswith("s") or not 0 <= seq < 2**63:
            raise ValueError(cursor)
        return seq
    except ValueError:
        raise ValidationError(
            "cursor is not one this server issued", {"cursor": "unknown cursor"}
        ) from None
