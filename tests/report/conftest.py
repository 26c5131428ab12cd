import sys
from pathlib import Path

# the tiny sweep and its test-only method live with the experiments tests
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
