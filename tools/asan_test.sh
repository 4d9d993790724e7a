#!/usr/bin/env bash
# Build cypool's extensions with AddressSanitizer in a throw-away copy of the source tree and run the
# test suite against that build. The in-place build of the working tree is never touched.
#
#   tools/asan_test.sh                 # whole default suite
#   tools/asan_test.sh tests/test_fuzz.py -x   # or any pytest arguments (paths relative to the root)
#
# How: setup.py adds -fsanitize=address -fno-omit-frame-pointer -O1 -g when CYPOOL_SANITIZE=address.
# CPython itself is not instrumented, so the ASan runtime must be loaded first (LD_PRELOAD), and
# leak detection is off: the interpreter keeps memory alive at exit by design and would drown the
# report. Any heap/stack/global out-of-bounds access or use-after-free in a kernel aborts the run
# with an ASan report (exit code != 0).
set -euo pipefail

src="$(cd "$(dirname "$0")/.." && pwd)"
cc="${CC:-gcc}"
libasan="$("$cc" -print-file-name=libasan.so)"
if [ ! -e "$libasan" ]; then
    echo "asan_test.sh: $cc has no libasan.so (install the compiler's ASan runtime)" >&2
    exit 2
fi
if [ -n "${CYPOOL_ASAN_DIR:-}" ]; then   # keep (and reuse) the sanitized build there
    work="$CYPOOL_ASAN_DIR"; mkdir -p "$work"
else
    work="$(mktemp -d "${TMPDIR:-/tmp}/cypool-asan-XXXXXX")"
    trap 'rm -rf "$work"' EXIT
fi

# A clean copy: sources only, no build products of the working tree.
tar -C "$src" --exclude=build --exclude='*.so' --exclude='pyx/*.c' --exclude='.git' \
    --exclude='.hypothesis' --exclude='.pytest_cache' --exclude='__pycache__' -cf - . \
    | tar -C "$work" -xf -

cd "$work"
echo "asan_test.sh: building in $work with CYPOOL_SANITIZE=address"
CYPOOL_SANITIZE=address python setup.py build_ext --inplace -j 2 > "$work/build.log" 2>&1 || {
    tail -50 "$work/build.log"; exit 1; }
for so in cypool/*.so; do   # every extension must carry the instrumentation
    nm -D "$so" | grep __asan_init > /dev/null || { echo "asan_test.sh: $so is not instrumented" >&2; exit 1; }
done

# libstdc++ is preloaded too: ASan's __cxa_throw interceptor must find the real one when a C++
# library (torch, in the cross-check tests) throws, or ASan aborts with "CHECK failed".
libstdcxx="$("$cc" -print-file-name=libstdc++.so.6)"
export LD_PRELOAD="$libasan${libstdcxx:+:$libstdcxx}"
# pytest captures fd 2, so reports also go to files: $work/asan.<pid>.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:log_path=$work/asan:${ASAN_OPTIONS:-}"
rm -f "$work"/asan.*
python -c "import cypool._max as m, sys; print('asan_test.sh: testing', m.__file__)"
if [ "$#" -eq 0 ]; then set -- tests; fi
status=0
python -m pytest -q -p no:cacheprovider "$@" || status=$?
if ls "$work"/asan.* > /dev/null 2>&1; then
    echo "asan_test.sh: AddressSanitizer reports:" >&2
    cat "$work"/asan.* >&2
    status=1
fi
exit $status
