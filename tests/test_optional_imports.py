"""torch and dask are optional: `import cypool` (and using it) must not import either."""
import subprocess
import sys

from helpers import python_env_for_subprocess

CODE = """
import sys, numpy as np, cypool
cypool.max_pool2d(np.zeros((1, 1, 4, 4)), 2)
print(sorted(m for m in ("torch", "dask", "distributed") if m in sys.modules))
"""


def test_import_cypool_imports_neither_torch_nor_dask(tmp_path):
    out = subprocess.run([sys.executable, "-c", CODE], cwd=str(tmp_path), capture_output=True,
                         text=True, env=python_env_for_subprocess(), check=True).stdout
    assert out.strip() == "[]"
