"""Kubernetes operator for TranslationJob resources; talks to vts through translation_client."""

from __future__ import annotations

__version__ = "0.1.0"
