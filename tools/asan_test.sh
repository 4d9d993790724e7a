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
work="$(mktemp -d "${TMPDIR:-/tmp}/cypool-asan-XXXXXX")"
trap 'rm -rf "$work"' EXIT

# A clean copy: sources only, no build products of the working tree.
tar -C "$src" --exclude=build --exclude='*.so' --exclude='pyx/*.c' --exclude='.git' \
    --exclude='.hypothesis' --exclude='.pytest_cache' --exclude='__pycache__' -cf - . \
    | tar -C "$work" -xf -

cd "$work"
echo "asan_test.sh: building in $work with CYPOOL_SANITIZE=address"
CYPOOL_SANITIZE=address python setup.py build_ext --inplace -j 2 > "$work/build.log" 2>&1 || {
    tail -50 "$work/build.log"; exit 1; }
grep -q -- "-fsanitize=address" "$work/build.log" || { echo "ASan flags missing" >&2; exit 1; }

export LD_PRELOAD="$libasan"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
python -c "import cypool._max as m, sys; print('asan_test.sh: testing', m.__file__)"
if [ "$#" -eq 0 ]; then set -- tests; fi
python -m pytest -q -p no:cacheprovider "$@"
