"""Kubernetes operator for TranslationJob resources; talks to vts through translation_client."""

from __future__ import annotations

__version__ = "0.1.0"

# `kopf run -m vts_operator` registers the handlers too (same as `-m vts_operator.handlers`).
from vts_operator import handlers as handlers
