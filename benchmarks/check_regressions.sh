#!/usr/bin/env bash
# Regression gate: time BASE and HEAD with `asv continuous` on the gate subset and fail on a slowdown.
#
#   benchmarks/check_regressions.sh [BASE [HEAD]]
#
# BASE defaults to the merge base of HEAD with main; on main itself (merge base == HEAD) to the latest
# tag before HEAD, else HEAD's parent. Both commits are built by asv in its virtualenv environment
# (asv.conf.json; a wheel per commit is cached under .asv/env, so a second run against the same base
# only builds HEAD). The two commits' benchmark processes run in interleaved rounds, so both see the
# same machine state; a benchmark counts as slower when HEAD is slower than BASE by more than FACTOR
# *and* asv's statistics call the difference significant. The gate fails when the benchmarks asv
# flagged are flagged again in a second run of just those (a confirmation that a chance outlier of
# a shared machine rarely passes, while a real slowdown does).
#
# Settings (environment): CYPOOL_GATE_FACTOR (default 1.25), CYPOOL_GATE_ROUNDS (default 6),
# CYPOOL_GATE_BENCH (regex, default '^benchmark_gate\.'). The defaults were chosen from repeated runs
# on a shared 2-core machine (3 rounds missed a 30% slowdown, 6 caught it and passed identical
# code): docs/records/2026-11-29-asv-gate-experiment.md.
#
# Exit status: 0 no regression (or a flagged slowdown that did not reproduce); asv's non-zero status
# on a confirmed regression or on a failed build or benchmark (asv's exit code is passed on, never
# filtered through a pipe); 2 on a usage error.
set -euo pipefail
cd "$(dirname "$0")/.."

factor=${CYPOOL_GATE_FACTOR:-1.25}
rounds=${CYPOOL_GATE_ROUNDS:-6}
bench=${CYPOOL_GATE_BENCH:-'^benchmark_gate\.'}

if ! python -m asv --version >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    python -m pip install --quiet "asv>=0.6" virtualenv
  else
    echo "check_regressions: asv is not installed; run: pip install '.[bench]'" >&2
    exit 2
  fi
fi

head=$(git rev-parse --verify "${2:-HEAD}^{commit}")
if [ -n "${1:-}" ]; then
  base=$(git rev-parse --verify "$1^{commit}")
else
  base=""
  if git rev-parse --quiet --verify "main^{commit}" >/dev/null; then
    merge_base=$(git merge-base main "$head" || true)
    if [ -n "$merge_base" ] && [ "$merge_base" != "$head" ]; then
      base=$merge_base
    fi
  fi
  if [ -z "$base" ]; then
    tag=$(git describe --tags --abbrev=0 "$head^" 2>/dev/null || true)
    if [ -n "$tag" ]; then
      base=$(git rev-parse --verify "$tag^{commit}")
    fi
  fi
  if [ -z "$base" ]; then
    if ! base=$(git rev-parse --quiet --verify "$head^^{commit}"); then
      echo "check_regressions: HEAD has no parent, tag or merge base to compare with; nothing to gate"
      exit 0
    fi
  fi
fi

echo "check_regressions: base $(git log -1 --format='%h %s' "$base")"
echo "check_regressions: head $(git log -1 --format='%h %s' "$head")"
echo "check_regressions: factor $factor, $rounds interleaved rounds, benchmarks matching '$bench'"

python -m asv machine --yes >/dev/null

# -a rounds: each commit's benchmarks run in $rounds separate processes, alternating with the other
# commit's; asv pools the samples of all rounds before comparing.
run_continuous() {
  python -m asv continuous --factor "$factor" --bench "$1" --interleave-rounds \
    --attribute rounds="$rounds" --show-stderr "$base" "$head"
}

if run_continuous "$bench"; then
  echo "check_regressions: no regression beyond a factor of $factor"
  exit 0
else
  status=$?
fi

# asv flagged something (or failed). On a shared machine an identical commit is occasionally
# flagged (docs/records/2026-11-29-asv-gate-experiment.md), so a slowdown must reproduce: the benchmarks asv reported
# slower are run once more, alone, and the gate fails only if asv flags them again. A benchmark that
# failed to run (!) or an asv error fails the gate at once.
report=$(mktemp)
trap 'rm -f "$report"' EXIT
python -m asv compare --only-changed --factor "$factor" "$base" "$head" >"$report"
verdict=$(python - "$report" "$bench" <<'EOF'
import re
import sys

# asv compare tables every benchmark with results for both commits; keep the gate's subset.
slower, failed = [], []
for line in open(sys.argv[1], encoding="utf-8"):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) >= 5 and cells[0] in ("+", "!") and re.search(sys.argv[2], cells[-1]):
        (slower if cells[0] == "+" else failed).append(cells[-1])
if failed or not slower:
    print("FAIL")
else:
    print("^(" + "|".join(re.escape(name) + "$" for name in slower) + ")")
EOF
)
if [ "$verdict" = "FAIL" ]; then
  echo "check_regressions: FAILED (asv exit status $status): a build or benchmark failed" \
       "or asv reported an error; see above" >&2
  exit "$status"
fi

echo "check_regressions: asv flagged $(tr '|' '\n' <<<"$verdict" | wc -l) benchmark(s);" \
     "running them again to confirm"
if run_continuous "$verdict"; then
  echo "check_regressions: the slowdown did not reproduce (noise); no regression beyond a" \
       "factor of $factor"
  exit 0
else
  status=$?
  echo "check_regressions: FAILED (asv exit status $status): a benchmark regressed by more than" \
       "a factor of $factor in two runs; see the tables above" >&2
  exit "$status"
fi
