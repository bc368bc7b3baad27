"""Processor implementations (plugins of the vts.processors entry-point group)."""
