"""The documentation: a short README, an API reference that lists every public name, dated
records, and examples in the pages that run. (The site itself is built, with warnings as errors,
by tools/build_docs.sh.)"""
import importlib.util
import os
import re

import pytest

import cypool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def test_readme_is_short_and_starts_with_the_two_commands():
    text = read("README.md")
    assert len(text.splitlines()) <= 150
    first_block = re.search(r"^```\n(.*?)^```", text, re.S | re.M).group(1)
    assert first_block.splitlines() == [
        'pip install ".[compare]" && cypool compare --quick --out cypool-report',
        'pip install ".[test]" && pytest',
    ]
    assert text.index("```") < text.index("## ")         # the commands come first


def test_readme_holds_no_record_of_a_run():
    text = read("README.md")
    dated = re.findall(r"\b20\d\d-\d\d-\d\d\b|\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|"
                       r"Oct|Nov|Dec)\w* 20\d\d\b", text)
    assert dated == []


def test_readme_links_to_pages_that_exist():
    for target in re.findall(r"\]\(([^)#]+)\)", read("README.md")):
        if "://" not in target:
            assert os.path.exists(os.path.join(ROOT, target)), target


def _documented(page):
    """Names an API page documents: its autosummary entries and its py:data directives."""
    text = read("docs", "api", page)
    names = set(re.findall(r"^\.\. py:data:: (\w+)", text, re.M))
    for block in re.findall(r"^\.\. autosummary::\n(?:   :.*\n)*\n((?:   \w+\n)+)", text, re.M):
        names.update(block.split())
    return names


@pytest.mark.parametrize("module, page", [("cypool", "cypool.rst"), ("cypool.torch", "torch.rst"),
                                          ("cypool.dask", "dask.rst"),
                                          ("cypool.strategies", "strategies.rst")])
def test_api_reference_lists_every_public_name(module, page):
    if module == "cypool.torch":
        pytest.importorskip("torch", reason="cypool.torch needs torch")
    if module == "cypool.dask":
        pytest.importorskip("dask", reason="cypool.dask needs dask")
    mod = importlib.import_module(module)
    assert _documented(page) == set(mod.__all__)


def test_all_lists_every_public_name_of_the_package():
    import types
    public = {n for n, v in vars(cypool).items()
              if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    assert set(cypool.__all__) == public
    assert len(cypool.__all__) == len(set(cypool.__all__))


def test_records_are_dated():
    names = sorted(os.listdir(os.path.join(DOCS, "records")))
    assert "index.md" in names
    for name in names:
        if name != "index.md":
            # a dated page, or a dated figure or table that a page shows
            assert re.fullmatch(r"20\d\d-\d\d-\d\d-[a-z0-9-]+\.(md|png|csv)", name), name


def test_gallery_examples_have_a_title():
    examples = sorted(f for f in os.listdir(os.path.join(ROOT, "examples"))
                      if f.startswith("plot_") and f.endswith(".py"))
    assert len(examples) >= 4
    for name in examples:
        title = re.match(r'"""\n(.+)\n(=+)\n', read("examples", name))
        assert title and len(title.group(2)) >= len(title.group(1)), name


def test_code_blocks_of_the_pages_run(capsys):
    spec = importlib.util.spec_from_file_location(
        "run_doc_examples", os.path.join(ROOT, "tools", "run_doc_examples.py"))
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    failed, ran = runner.run_pages()
    assert failed == 0, capsys.readouterr().out
    assert ran > 0
