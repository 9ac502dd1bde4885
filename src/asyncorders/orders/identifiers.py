"""Reference ids in Tango's style: async orders start with `AA` (the async source)."""

from __future__ import annotations

import secrets
from datetime import datetime


def reference_order_id(now: datetime) -> str:
    return f"AA{now:%y%m%d}-{secrets.randbelow(10**12):012d}"


def reference_line_item_id(order_reference: str, position: int) -> str:
    return f"{order_reference}-{position + 1:05d}"
