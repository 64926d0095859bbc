"""Embedded canvas datasets built from mnist10k: filled in by the experiment catalogue."""
