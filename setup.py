"""Build cypool: Cython kernels in pyx/ compiled into extension modules of the cypool package.

OpenMP is used when a tiny test program compiles and links with it (scikit-learn's approach); otherwise
the kernels build serially with a warning, or the build fails when CYPOOL_REQUIRE_OPENMP=1.
CYPOOL_NATIVE=1 adds -march=native for people building for their own machine only.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class ParallelBuildExt(build_ext):
    """Compile the extension modules in parallel (pip gives no -j)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

COMPARE_REQUIRES = ["scikit-image>=0.19", "scikit-learn>=1.0", "matplotlib>=3.5", "tqdm>=4"]
DASK_REQUIRES = ["dask[array]>=2023.1", "distributed"]

# One table of extensions: module name inside cypool -> source in pyx/.
KERNEL_MODULES = ["_max", "_avg", "_adaptive", "_unpool", "_openmp_info", "_stochastic", "_lp", "_blur", "_stream"]

# C headers of the average-pooling fast paths: a change to them rebuilds _avg and _adaptive.
AVG_FAST_HEADERS = ["pyx/_avg_fast.h", "pyx/_avg_fast_body.h", "pyx/_global_avg_body.h",
                    "pyx/_avg_fast.pxd", "pyx/_clones.h", "pyx/_window.h", "pyx/_window_sum.pxd",
                    "pyx/_tile.pxd"]
MAX_FAST_HEADERS = ["pyx/_max_fast.h", "pyx/_max_fast_body.h", "pyx/_max_fast.pxd", "pyx/_clones.h",
                    "pyx/_window.h", "pyx/_tile.pxd"]

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d", n > 0);
        return 0;
    }
    """
)


def compiler_links_openmp(flag="-fopenmp"):
    """Compile, link and run a test program with `flag`; True when all three work."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()
    tmp = tempfile.mkdtemp(prefix="cypool-omp-")
    try:
        src = os.path.join(tmp, "probe.c")
        exe = os.path.join(tmp, "probe")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        subprocess.run(cc + [flag, src, "-o", exe], check=True, capture_output=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
        return out.strip() == "1"
    except (OSError, subprocess.CalledProcessError):
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_flags():
    # -ffp-contract=off: no fused multiply-adds, so the AVX2/AVX-512 clones of a kernel round exactly
    # like its baseline clone and results do not depend on the CPU that runs them
    compile_args = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"]
    link_args = []
    if os.environ.get("CYPOOL_NATIVE") == "1":
        compile_args.append("-march=native")
    if sys.platform != "win32" and compiler_links_openmp():
        compile_args.append("-fopenmp")
        link_args.append("-fopenmp")
    elif os.environ.get("CYPOOL_REQUIRE_OPENMP") == "1":
        raise RuntimeError("CYPOOL_REQUIRE_OPENMP=1 but the C compiler cannot link OpenMP")
    else:
        warnings.warn("cypool: the C compiler does not link OpenMP; building serial kernels")
    if os.environ.get("CYPOOL_SANITIZE") == "address":
        compile_args += ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1", "-g"]
        link_args += ["-fsanitize=address"]
    return compile_args, link_args


compile_args, link_args = build_flags()
extensions = [
    Extension(
        f"cypool.{name}",
        [f"pyx/{name}.pyx"],
        include_dirs=[np.get_include(), "pyx"],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=(AVG_FAST_HEADERS if name in ("_avg", "_adaptive")
                 else MAX_FAST_HEADERS if name == "_max" else []),
    )
    for name in KERNEL_MODULES
]

setup(
    name="cypool",
    version="0.1.0",
    description="Fast, exact CPU pooling for NumPy: typed Cython + OpenMP kernels with PyTorch semantics",
    long_description=open("README.md", encoding="utf-8").read() if os.path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=["cypool", "cypool.strategies", "cypool.compare"],
    package_data={"cypool": ["py.typed"]},
    # Pooling needs only numpy; `cypool compare` (photos, digits, figures, progress) needs the
    # compare extra, and the tests exercise compare and the Dask bridge.
    install_requires=["numpy>=1.23"],
    extras_require={
        "compare": COMPARE_REQUIRES,
        "test": ["pytest>=7", "hypothesis>=6", "threadpoolctl>=3", *COMPARE_REQUIRES, *DASK_REQUIRES],
        "bench": ["asv>=0.6", "matplotlib>=3.5", "virtualenv"],
        # Optional bridges (cypool.torch, cypool.dask). No upper pins, so an installed torch is
        # kept; never in install_requires or the test extra.
        "torch": ["torch>=2.0"],
        "dask": DASK_REQUIRES,
    },
    ext_modules=cythonize(
        extensions,
        nthreads=os.cpu_count() or 1,
        include_path=["pyx"],
        compiler_directives={
            "language_level": 3,
            "boundscheck": os.environ.get("CYPOOL_BOUNDSCHECK") == "1",
            "wraparound": False,
            "initializedcheck": False,
            "cdivision": True,
            "nonecheck": False,
        },
    ),
    cmdclass={"build_ext": ParallelBuildExt},
    entry_points={"console_scripts": ["cypool = cypool.cli:main"]},
    zip_safe=False,
)
