"""Build cypool's compiled kernels: the Cython modules in pyx/ become extension modules of the
cypool package. Everything else (metadata, dependencies, extras, package data) is in pyproject.toml.

What must be code is here: the extension table, the OpenMP probe and the per-compiler flags.
OpenMP is used when a tiny program compiles, links and runs with it (scikit-learn's approach), with
the compiler's own flags: GCC/Clang `-fopenmp`, MSVC `/openmp`, Apple clang `-Xpreprocessor
-fopenmp -lomp` with Homebrew's libomp. Otherwise the kernels build serially with a warning.
A second probe decides whether the hot loops get AVX2 and AVX-512 clones (pyx/_clones.h).

Switches (environment variables, "1" to enable):
  CYPOOL_REQUIRE_OPENMP=1     fail instead of building serial kernels when OpenMP does not link
  CYPOOL_NATIVE=1             -march=native: fastest on the building machine, unportable
  CYPOOL_SANITIZE=address     AddressSanitizer build (-O1 -g), see tools/asan_test.sh
  CYPOOL_BOUNDSCHECK=1        Cython bounds checks in every kernel (slow; for debugging)
"""
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import warnings

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, CompileError, LinkError

# One table of extensions: module name inside cypool -> source in pyx/.
KERNEL_MODULES = ["_max", "_avg", "_adaptive", "_unpool", "_openmp_info", "_stochastic", "_lp",
                  "_blur", "_stream", "_buffers", "_fractional", "_conv", "_convert"]

# What a change rebuilds: the shared declarations every kernel module, the fast-path headers the
# modules that include them (_avg and _adaptive the average ones, _max the max ones, _adaptive
# _lp, _blur, _stochastic and _fractional the window reductions).
SHARED_HEADERS = ["pyx/_window.h", "pyx/_window.pxd", "pyx/_window_sum.pxd", "pyx/_types.pxd",
                  "pyx/_openmp.pxd", "pyx/_channel_block.pxd", "pyx/_tile.pxd",
                  "pyx/_tile.h", "pyx/_transpose8.h"]
AVG_FAST_HEADERS = ["pyx/_avg_fast.h", "pyx/_avg_fast_body.h", "pyx/_global_avg_body.h",
                    "pyx/_global_avg_half_body.h", "pyx/_global_avg_bwd_body.h",
                    "pyx/_avg_fast.pxd", "pyx/_clones.h", "pyx/_half.h"]
MAX_FAST_HEADERS = ["pyx/_max_fast.h", "pyx/_max_fast_body.h", "pyx/_max_fast.pxd", "pyx/_clones.h",
                    "pyx/_half.h", "pyx/_max_tiles_body.h"]
CONV_HEADERS = ["pyx/_conv.h", "pyx/_conv_body.h", "pyx/_clones.h"]
# Modules whose loops may fuse multiply-adds (GCC/Clang -ffp-contract=fast where the ISA has FMA):
# the convolution's sums, as a BLAS's; every other kernel rounds the same on every CPU.
FUSED_MULTIPLY_ADD_MODULES = ["_conv"]
REDUCE_FAST_HEADERS = ["pyx/_reduce_fast.h", "pyx/_reduce_fast_body.h", "pyx/_reduce_fast.pxd",
                       "pyx/_clones.h"]

CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": os.environ.get("CYPOOL_BOUNDSCHECK") == "1",
    "wraparound": False,
    "initializedcheck": False,
    "cdivision": True,
    "nonecheck": False,
}

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


def libomp_prefixes():
    """Where Homebrew's libomp may be: `brew --prefix libomp`, then its usual places (Apple
    silicon, Intel)."""
    prefixes = []
    if shutil.which("brew"):
        res = subprocess.run(["brew", "--prefix", "libomp"], capture_output=True, text=True)
        if res.returncode == 0 and res.stdout.strip():
            prefixes.append(res.stdout.strip())
    prefixes += ["/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"]
    return [p for p in dict.fromkeys(prefixes)
            if os.path.exists(os.path.join(p, "include", "omp.h"))]


def openmp_candidates(compiler_type):
    """(compile args, link args) to try, in order, for this compiler."""
    if compiler_type == "msvc":
        return [(["/openmp"], [])]
    candidates = [(["-fopenmp"], ["-fopenmp"])]  # GCC, LLVM clang, MinGW
    if sys.platform == "darwin":  # Apple clang: no -fopenmp driver support, but libomp works
        for prefix in libomp_prefixes():
            candidates.append((["-Xpreprocessor", "-fopenmp", f"-I{prefix}/include"],
                               [f"-L{prefix}/lib", "-lomp", f"-Wl,-rpath,{prefix}/lib"]))
    return candidates


def links_openmp(compiler, compile_args, link_args):
    """Whether the OpenMP probe compiles, links and runs with these flags."""
    out = runs_probe(compiler, OPENMP_PROBE, compile_args, link_args)
    return out is not None and out.strip() == "1"


# cypool's hot loops are built for the baseline ISA, AVX2 and AVX-512, picked per CPU by the dynamic
# loader (pyx/_clones.h). That needs target_clones with the x86-64-vN names (GCC >= 11, LLVM clang)
# and ifunc support in the C library (glibc; not musl): a program using them must build and run.
CLONES_PROBE = textwrap.dedent(
    """
    __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
    static void twice(float* a, int n) { for (int i = 0; i < n; i++) a[i] *= 2.0f; }
    int main(void) {
        float a[32] = {1.0f};
        twice(a, 32);
        return a[0] == 2.0f ? 0 : 1;
    }
    """)


def runs_probe(compiler, source, compile_args, link_args):
    """source's standard output when it compiles, links and runs (exit status 0) with these flags
    and the compiler that builds cypool; None when any step fails."""
    tmp = tempfile.mkdtemp(prefix="cypool-probe-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(source)
        objects = compiler.compile([src], output_dir=tmp, extra_postargs=compile_args)
        compiler.link_executable(objects, "probe", output_dir=tmp, extra_postargs=link_args)
        exe = os.path.join(tmp, "probe.exe" if sys.platform == "win32" else "probe")
        return subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    except (CCompilerError, CompileError, LinkError, OSError, subprocess.CalledProcessError):
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_flags(compiler):
    """(compile args, link args) for every kernel module, for this compiler."""
    msvc = compiler.compiler_type == "msvc"
    if msvc:
        # /fp:precise: no contractions (VS 2022+), as -ffp-contract=off below
        compile_args, link_args = ["/O2", "/fp:precise"], []
    else:
        # -ffp-contract=off: no fused multiply-adds, so the AVX2/AVX-512 clones of a kernel round
        # exactly like its baseline clone and results do not depend on the CPU that runs them
        compile_args = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"]
        link_args = []
    for omp_compile, omp_link in openmp_candidates(compiler.compiler_type):
        if links_openmp(compiler, omp_compile, omp_link):
            compile_args += omp_compile
            link_args += omp_link
            break
    else:
        if os.environ.get("CYPOOL_REQUIRE_OPENMP") == "1":
            raise RuntimeError("CYPOOL_REQUIRE_OPENMP=1 but the C compiler cannot link OpenMP")
        warnings.warn("cypool: the C compiler does not link OpenMP; building serial kernels")
    if not msvc and platform.machine().lower() in ("x86_64", "amd64") and \
            runs_probe(compiler, CLONES_PROBE, compile_args, link_args) is not None:
        compile_args.append("-DCYPOOL_TARGET_CLONES=1")
    if os.environ.get("CYPOOL_NATIVE") == "1":
        if msvc:
            warnings.warn("cypool: CYPOOL_NATIVE=1 is ignored by MSVC (no -march=native)")
        else:
            compile_args.append("-march=native")
    if os.environ.get("CYPOOL_SANITIZE") == "address":
        if msvc:
            compile_args += ["/fsanitize=address", "/Zi"]
        else:
            compile_args += ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1", "-g"]
            link_args += ["-fsanitize=address"]
    return compile_args, link_args


class BuildExt(build_ext):
    """Cythonize and pick the compiler's flags at build time (not when setup.py is read, so an
    sdist needs neither Cython nor NumPy nor a compiler); compile the modules in parallel (pip
    gives no -j)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        import numpy as np
        from Cython.Build import cythonize
        for ext in self.extensions:
            ext.include_dirs.append(np.get_include())
        # cythonize returns new Extension objects: keep setuptools' own (finalized) ones, with the
        # generated C sources
        generated = cythonize(self.extensions, nthreads=os.cpu_count() or 1, include_path=["pyx"],
                              compiler_directives=CYTHON_DIRECTIVES)
        sources = {ext.name: ext.sources for ext in generated}
        for ext in self.extensions:
            ext.sources = sources[ext.name]
        compile_args, link_args = build_flags(self.compiler)
        msvc = self.compiler.compiler_type == "msvc"
        for ext in self.extensions:
            fma = not msvc and ext.name.split(".")[-1] in FUSED_MULTIPLY_ADD_MODULES
            ext.extra_compile_args = (compile_args + (["-ffp-contract=fast"] if fma else [])
                                      + ext.extra_compile_args)
            ext.extra_link_args = link_args + ext.extra_link_args
        super().build_extensions()


extensions = [
    Extension(
        f"cypool.{name}",
        [f"pyx/{name}.pyx"],
        include_dirs=["pyx"],
        define_macros=[
            ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
            # built against NumPy 2, importable on every NumPy that pyproject.toml accepts (1.23+)
            ("NPY_TARGET_VERSION", "NPY_1_23_API_VERSION"),
        ],
        depends=SHARED_HEADERS + (AVG_FAST_HEADERS if name in ("_avg", "_adaptive")
                                  else MAX_FAST_HEADERS if name == "_max" else [])
        + (REDUCE_FAST_HEADERS
           if name in ("_adaptive", "_lp", "_blur", "_stochastic", "_fractional") else [])
        + (CONV_HEADERS if name == "_conv" else [])
        + (["pyx/_half.h", "pyx/_clones.h"] if name == "_convert" else []),
    )
    for name in KERNEL_MODULES
]

setup(ext_modules=extensions, cmdclass={"build_ext": BuildExt})
