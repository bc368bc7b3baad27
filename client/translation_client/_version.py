"""The client's version, written here only: the build reads it (pyproject's dynamic
version), User-Agent and `vts-client --version` name it."""

from __future__ import annotations

__version__ = "0.1.0"
