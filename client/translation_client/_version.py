"""The client's version, apart so the HTTP layer can name it in User-Agent."""

from __future__ import annotations

__version__ = "0.1.0"
