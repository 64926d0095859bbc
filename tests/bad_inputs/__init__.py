"""The cases of docs/bad-inputs.md, one module per area (tests/test_bad_inputs.py)."""
