"""Job store implementations (plugins of the vts.stores entry-point group)."""
