"""Embedded regression datasets (notes 000/001): filled in by the experiment catalogue."""
