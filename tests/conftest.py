"""Test setup: the repository root first on sys.path, so `import matcalc` is this checkout.

`matcalc.rules` and `matcalc.cli` live in rules/ and cli/ and are found through the
editable install (`pip install -e '.[test]'`), as the README says.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
