"""Opaque pagination cursors: the position after which the next page starts."""

from __future__ import annotations

import base64

from vts.errors import ValidationError


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("s"):
            raise ValueError(cursor)
        return int(raw[1:])
    except ValueError:
        raise ValidationError(
            "cursor is not one this server issued", {"cursor": "unknown cursor"}
        ) from None
