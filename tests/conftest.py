"""Shared pytest setup: makes the helpers in tests/python importable from every test folder."""

import sys
from pathlib import Path

_HELPERS = Path(__file__).resolve().parent / "python"
if str(_HELPERS) not in sys.path:
    sys.path.insert(0, str(_HELPERS))
