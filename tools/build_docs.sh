#!/usr/bin/env bash
# Build cypool's documentation and test it: warnings are errors, no network is needed.
#
#   tools/build_docs.sh            the HTML site in docs/_build/html, then the examples
#   tools/build_docs.sh --asv      the same, then `asv publish` into docs/_build/html/benchmarks/
#   tools/build_docs.sh --asv-only only the asv site (into an existing docs/_build/html)
#
# Steps, any failure stops the script with a non-zero exit status:
#  1. sphinx -W --keep-going -b html docs docs/_build/html, from a clean output folder:
#     every warning fails (a broken internal link or cross-reference included: the site is built
#     with nitpicky references and MyST's link checks), and the gallery's examples/plot_*.py are
#     executed (an example that raises fails the build).
#  2. tools/run_doc_examples.py: the docstring examples of every public name (doctest) and the
#     Python blocks of README.md and the guide pages.
#  3. With --asv: asv's HTML site of the measured history, published from .asv/results when it
#     exists, else from the committed docs/asv-results, into docs/_build/html/benchmarks/.
#
# Requirements: pip install ".[docs]" (Sphinx, myst-parser, numpydoc, sphinx-gallery,
# pydata-sphinx-theme, matplotlib, scikit-image, dask[array]) plus torch (any 2.x CPU build, for
# the cypool.torch reference and the PyTorch example; it is in no extra) and scikit-learn (the
# PyTorch example's digits); asv for --asv. A missing one is named before anything is built.
#
# Which cypool is documented: the source tree itself when it holds an in-place build
# (`python setup.py build_ext --inplace`; the script then sets CYPOOL_DOCS_INPLACE=1 and
# PYTHONPATH, see docs/conf.py), otherwise the installed cypool.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

html=0; asv=0
case "${1:-}" in
  "") html=1 ;;
  --asv) html=1; asv=1 ;;
  --asv-only) asv=1 ;;
  -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
  *) echo "unknown option: $1 (see $0 --help)" >&2; exit 2 ;;
esac

out="$root/docs/_build/html"

if compgen -G "cypool/_openmp_info*.so" > /dev/null; then
  export CYPOOL_DOCS_INPLACE=1
  export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
  echo "documenting the in-place build in $root"
else
  # Import from a neutral folder: the source tree without compiled kernels would shadow the
  # installed package.
  if ! (cd /tmp && python -c "import cypool" 2>/dev/null); then
    echo "cypool is neither built in place nor installed: run \`pip install \".[docs]\"\` or" \
         "\`python setup.py build_ext --inplace\` first" >&2
    exit 1
  fi
  echo "documenting the installed cypool: $(cd /tmp && python -c 'import cypool; print(cypool.__file__)')"
fi

need() {   # need MODULE... : name every missing Python module, then fail
  local missing=()
  for m in "$@"; do
    python -c "import $m" 2>/dev/null || missing+=("$m")
  done
  if [ "${#missing[@]}" -ne 0 ]; then
    echo "the documentation build needs these Python modules, missing here: ${missing[*]}" >&2
    echo "(pip install \".[docs]\" torch scikit-learn; asv for --asv)" >&2
    exit 1
  fi
}

if [ "$html" = 1 ]; then
  need sphinx myst_parser numpydoc sphinx_gallery pydata_sphinx_theme matplotlib skimage \
       sklearn dask torch
  export MPLBACKEND=agg
  # A clean build: generated API pages and gallery pages are made again, so a stale page can
  # neither hide a warning nor keep a deleted name alive.
  rm -rf docs/_build docs/api/generated docs/auto_examples docs/sg_execution_times.rst
  start=$(date +%s)
  # python -m sphinx: the Sphinx of the Python that has cypool (a sphinx-build script on PATH
  # may belong to another interpreter), run inside docs/ because `python -m` puts the current
  # folder first on sys.path, and the root's cypool/ without kernels would shadow the installed one.
  (cd docs && python -m sphinx -W --keep-going -b html . "$out")
  pages=$(cd "$out" && find . -name '*.html' -not -path './_*' | wc -l)
  echo "site built in $(( $(date +%s) - start )) s: $pages HTML pages in $out"

  python tools/run_doc_examples.py
fi

if [ "$asv" = 1 ]; then
  need asv
  if [ -d .asv/results ] && [ -n "$(ls -A .asv/results 2>/dev/null)" ]; then
    results="$root/.asv/results"
  else
    results="$root/docs/asv-results"
  fi
  # asv publish reads results_dir and html_dir from the configuration: a copy of asv.conf.json
  # (asv's JSON allows // comments, so it is rewritten by text) points them at the results and
  # at the site's benchmarks/ folder; asv still reads the project's git history from the root.
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  sed -e "s#\"results_dir\": *\"[^\"]*\"#\"results_dir\": \"$results\"#" \
      -e "s#\"html_dir\": *\"[^\"]*\"#\"html_dir\": \"$out/benchmarks\"#" \
      -e "s#\"repo\": *\"[^\"]*\"#\"repo\": \"$root\"#" \
      -e "s#\"benchmark_dir\": *\"[^\"]*\"#\"benchmark_dir\": \"$root/benchmarks\"#" \
      -e "s#\"env_dir\": *\"[^\"]*\"#\"env_dir\": \"$tmp/env\"#" \
      asv.conf.json > "$tmp/asv.conf.json"
  mkdir -p "$out"
  asv publish --config "$tmp/asv.conf.json"
  echo "asv site published from $results into $out/benchmarks/index.html"
fi
