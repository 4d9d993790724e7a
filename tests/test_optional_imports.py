"""torch and dask are optional: `import cypool` (and using it) must not import either."""
import subprocess
import sys
import os

CODE = """
import sys, numpy as np, cypool
cypool.max_pool2d(np.zeros((1, 1, 4, 4)), 2)
print(sorted(m for m in ("torch", "dask", "distributed") if m in sys.modules))
"""


def test_import_cypool_imports_neither_torch_nor_dask():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", CODE], cwd=root, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
