"""The launcher tests run bash scripts in subprocesses and never need JAX."""
import pytest


@pytest.fixture(scope="session", autouse=True)
def _compilation_cache():
  """Replaces the suite-wide fixture of this name (tests/conftest.py), which imports
  jax to set up a compilation cache: these tests compile nothing, and importing jax
  would cost more than all of them together."""
