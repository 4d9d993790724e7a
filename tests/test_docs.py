"""The typed, documented API: every public function has type hints, a numpydoc docstring naming
each of its parameters, and Examples that run (doctest)."""
import doctest
import inspect
import typing

import pytest

import cypool
from cypool import (adaptive, adaptive_backward, avg, avg_backward, blur, conv, fractional,
                    global_pool, global_pool_backward, lp, lp_backward, max as max_,
                    max_backward, spp, stochastic, unpool, unpool_backward)

# The operator families: one module each (two for the larger ones: the forward and its gradient),
# every public function defined (and documented) there.
POOLING = (max_, max_backward, avg, avg_backward, adaptive, adaptive_backward, global_pool,
           global_pool_backward, unpool, unpool_backward)
DOWNSAMPLING = (stochastic, lp, lp_backward, blur, spp, conv)
FAMILIES = POOLING + DOWNSAMPLING + (fractional,)


def _defined_in(modules):
    return [name for module in modules for name in dir(module) if not name.startswith("_")
            and inspect.isfunction(getattr(module, name))
            and getattr(module, name).__module__ == module.__name__]


PUBLIC = _defined_in(FAMILIES)
THREADS = ["set_num_threads", "get_num_threads", "threads", "openmp_enabled", "show_config",
           "set_output_cache", "output_cache_info"]


def test_every_pooling_function_is_public_and_covered():
    assert len(_defined_in(POOLING)) == 42 and len(_defined_in(DOWNSAMPLING)) == 17
    assert len(_defined_in((fractional,))) == 4
    assert len(PUBLIC) == len(set(PUBLIC)) == 63
    assert all(getattr(cypool, name).__module__ in {m.__name__ for m in FAMILIES}
               for name in PUBLIC)
    # the names gathered in cypool.pooling and cypool.downsample are the same objects
    from cypool import downsample, pooling
    assert all(getattr(pooling, name) is getattr(cypool, name) for name in _defined_in(POOLING))
    assert all(getattr(downsample, name) is getattr(cypool, name)
               for name in _defined_in(DOWNSAMPLING))


@pytest.mark.parametrize("name", PUBLIC + THREADS)
def test_type_hints_and_numpydoc(name):
    fn = getattr(cypool, name)
    hints = typing.get_type_hints(fn)
    params = inspect.signature(fn).parameters
    assert set(params) <= set(hints) and "return" in hints, name
    doc = inspect.getdoc(fn)
    assert "Examples\n--------\n>>> " in doc, name
    if name not in THREADS:
        for section in ("Parameters", "Returns", "Raises"):
            assert f"\n{section}\n{'-' * len(section)}\n" in doc, (name, section)
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


@pytest.mark.parametrize("module", FAMILIES, ids=lambda m: m.__name__)
def test_doctests_of_the_operator_families(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    names = _defined_in([module])
    assert result.attempted >= len(names) * 3 and result.failed == 0


def test_docstrings_are_written_at_each_def():
    """No docstring is generated at import time: each one is in the source of its function."""
    for name in PUBLIC:
        fn = getattr(cypool, name)
        assert inspect.getdoc(fn) and inspect.getdoc(fn) in inspect.cleandoc(
            inspect.getsource(fn).split('"""')[1]), name


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
