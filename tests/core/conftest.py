"""Make the shared finite-difference checker importable as ``gradcheck`` from the core tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
