"""Run the examples of cypool's documentation: the docstring examples of every public name and
the Python code blocks of the documentation pages. Exit status 1 when one fails.

    python tools/run_doc_examples.py [--docstrings] [--pages]     (both when neither is given)

Docstring examples are found from the public names (``cypool.__all__``, ``cypool.torch.__all__``,
``cypool.dask.__all__``, ``cypool.strategies.__all__``), not from module paths, and run with the
globals of the module that defines each function, as ``doctest.testmod`` would. A page's
```` ```python ```` blocks run in order in one namespace per page (a block may use what an
earlier one defined); a page whose code imports torch or dask is skipped, with a message, when
that library is missing. tools/build_docs.sh runs this after building the site.
"""
from __future__ import annotations

import argparse
import doctest
import importlib
import inspect
import os
import re
import sys
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLIC_MODULES = ["cypool", "cypool.torch", "cypool.dask", "cypool.strategies"]
NEEDS = {"cypool.torch": "torch", "cypool.dask": "dask"}      # the optional library of a bridge
PAGES = ["README.md", "docs/index.md", "docs/getting-started.md", "docs/user-guide.md",
         "docs/torch-bridge.md", "docs/dask-bridge.md", "docs/strategies.md"]
OPTIONS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def _optional(name: str) -> bool:
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False


def public_objects():
    """(qualified name, object) for every public name of the documented modules."""
    for modname in PUBLIC_MODULES:
        if modname in NEEDS and not _optional(NEEDS[modname]):
            print(f"  skipped {modname}: {NEEDS[modname]} is not installed")
            continue
        module = importlib.import_module(modname)
        for name in module.__all__:
            yield f"{modname}.{name}", getattr(module, name)


def run_docstrings() -> tuple[int, int]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    seen = set()
    for qualname, obj in public_objects():
        if not (inspect.isfunction(obj) or inspect.isclass(obj)) or id(obj) in seen:
            continue
        seen.add(id(obj))
        module = sys.modules.get(getattr(obj, "__module__", ""), None)
        globs = dict(vars(module)) if module else {}
        for test in finder.find(obj, qualname, module=False, globs=globs):
            if inspect.isclass(obj) and not test.name.startswith(qualname):
                continue
            runner.run(test)
    result = runner.summarize(verbose=False)
    return result.failed, result.attempted


_FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def run_pages() -> tuple[int, int]:
    failed = ran = 0
    for page in PAGES:
        path = os.path.join(ROOT, page)
        blocks = _FENCE.findall(open(path, encoding="utf-8").read())
        if not blocks:
            continue
        code = "\n".join(blocks)
        missing = [lib for lib in ("torch", "dask") if re.search(rf"^\s*import {lib}\b|"
                   rf"cypool\.{lib}", code, re.M) and not _optional(lib)]
        if missing:
            print(f"  skipped {page}: needs {', '.join(missing)}")
            continue
        namespace = {"__name__": "__docs__"}
        for i, block in enumerate(blocks, 1):
            ran += 1
            try:
                exec(compile(block, f"{page} (python block {i})", "exec"), namespace)
            except Exception:
                failed += 1
                print(f"FAILED: {page}, python block {i}:")
                traceback.print_exc()
                break
    return failed, ran


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docstrings", action="store_true", help="only the docstring examples")
    parser.add_argument("--pages", action="store_true", help="only the pages' code blocks")
    args = parser.parse_args(argv)
    both = not (args.docstrings or args.pages)
    status = 0
    if args.docstrings or both:
        failed, attempted = run_docstrings()
        print(f"docstring examples: {attempted} run, {failed} failed")
        status |= failed > 0 or attempted == 0
    if args.pages or both:
        failed, ran = run_pages()
        print(f"documentation pages: {ran} python blocks run, {failed} failed")
        status |= failed > 0
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
