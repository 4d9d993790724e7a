#!/usr/bin/env bash
# Regression gate: counts (instructions, simulated cache misses; callgrind) and wall time of HEAD
# against its first parent, each commit built once; fails on a confirmed regression.
#
#   benchmarks/check_regressions.sh [BASE [HEAD]]
#
# BASE defaults to HEAD^. The rules, settings (CYPOOL_GATE_* environment variables) and the
# `Perf-accept: <case pattern>` commit-message marker for an intended slowdown are described in
# benchmarks/gate.py; the experiment behind them is docs/records/2026-12-04-count-gate-experiment.md.
#
# Needs git, a C compiler, valgrind (without it: wall time only, said in the output) and, to build
# the two commits, numpy and Cython in this Python; under CI=true a missing Cython/setuptools is
# installed from PyPI. Exit status: 0 no regression (or only accepted ones, or nothing to compare),
# 1 a regression, 2 a usage or set-up error.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python -c "import Cython, setuptools, numpy" >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    python -m pip install --quiet "cython>=3" "setuptools>=64" wheel "numpy>=1.23"
  else
    echo "check_regressions: building the commits needs Cython, setuptools and numpy:" \
         "pip install cython setuptools wheel numpy" >&2
    exit 2
  fi
fi
exec python benchmarks/gate.py "$@"
