"""The typed, documented API: every public function has type hints, a numpydoc docstring naming
each of its parameters, and Examples that run (doctest)."""
import doctest
import inspect
import typing

import pytest

import cypool
import cypool.pooling

PUBLIC = [name for name in dir(cypool.pooling) if not name.startswith("_")
          and inspect.isfunction(getattr(cypool.pooling, name))
          and getattr(cypool.pooling, name).__module__ == "cypool.pooling"]
THREADS = ["set_num_threads", "get_num_threads", "threads", "openmp_enabled", "show_config"]


def test_every_pooling_function_is_public_and_covered():
    assert len(PUBLIC) == 42
    assert all(getattr(cypool, name) is getattr(cypool.pooling, name) for name in PUBLIC)


@pytest.mark.parametrize("name", PUBLIC + THREADS)
def test_type_hints_and_numpydoc(name):
    fn = getattr(cypool, name)
    hints = typing.get_type_hints(fn)
    params = inspect.signature(fn).parameters
    assert set(params) <= set(hints) and "return" in hints, name
    doc = inspect.getdoc(fn)
    assert "Examples\n--------\n>>> " in doc, name
    if params:
        section = doc.split("Parameters\n----------\n")[1].split("\n\n")[0]
        for p in params:
            assert f"\n{p} : " in "\n" + section, (name, p)


def test_help_tells_what_the_readme_table_says():
    doc = cypool.max_pool2d.__doc__
    for words in ["kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices",
                  "data_format", '"same"', '"valid"', "None means ``stride = kernel_size``",
                  "channels_last", "int64", "h * W + w", "float16", "bool", "unbatched"]:
        assert words in doc, words
    assert "divisor_override" not in cypool.avg_pool1d.__doc__   # as in PyTorch
    assert "divisor_override" in cypool.avg_pool2d.__doc__


def test_doctests_of_the_pooling_module():
    result = doctest.testmod(cypool.pooling, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 42 * 3 and result.failed == 0


def test_doctests_of_threads_and_dask():
    import cypool._threads
    result = doctest.testmod(cypool._threads)
    assert result.attempted > 0 and result.failed == 0
    pytest.importorskip("dask")
    import cypool.dask
    result = doctest.testmod(cypool.dask)
    assert result.attempted > 0 and result.failed == 0


def test_package_ships_py_typed():
    import pathlib
    assert (pathlib.Path(cypool.__file__).parent / "py.typed").exists()
    project = (pathlib.Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert 'cypool = ["py.typed"]' in project
