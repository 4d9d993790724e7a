"""The strategy registry, entry-point plugins (a real separately installed package) and
`cypool compare`."""
import csv
import importlib.metadata as md
import importlib.util
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import cypool
from cypool import strategies
from cypool.strategies import FunctionStrategy, Strategy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where the cypool under test lives (the in-place build, or site-packages after pip install).
from helpers import python_env_for_subprocess
PLUGIN_SRC = os.path.join(ROOT, "tests", "plugin_pkg")
# `cypool compare` runs only with the compare extra (photos, digits, figures)
needs_compare_extra = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("skimage", "sklearn", "matplotlib")),
    reason="cypool compare needs the compare extra: scikit-image, scikit-learn, matplotlib")
BUILTINS = ["max2x2", "avg2x2", "stochastic", "lp2", "blur", "max-blur", "spp", "conv2x2s2",
            "conv3x3s2", "subsample"]


def test_builtins_implement_the_interface():
    reg = strategies.available(plugins=False)
    assert set(BUILTINS) <= set(reg)
    x = np.random.default_rng(0).random((2, 4, 12, 10), dtype=np.float32)
    for name in BUILTINS:
        s = reg[name]
        assert s.name == name and s.description
        y = s.forward(x)
        assert y.dtype == np.float32
        if name == "spp":
            assert y.shape == (2, 4 * 21)
        elif name in ("blur", "subsample"):
            assert y.shape == (2, 4, 6, 5)
        else:
            assert y.shape[:2] == (2, 4) and y.shape[2] in (5, 6)
        gx = s.backward(np.ones_like(y))
        assert gx.shape == x.shape and gx.dtype == np.float32
        cost = s.cost(x.shape)
        assert set(cost) == {"flops", "bytes"} and cost["bytes"] > 0
        assert s.n_params(4) == (4 * 4 * int(name[4]) ** 2 + 4 if name.startswith("conv") else 0)
        assert s.trainable == name.startswith("conv")


def test_strategy_gradients_match_the_operators():
    x = np.random.default_rng(1).random((1, 2, 8, 8), dtype=np.float32)
    reg = strategies.available(plugins=False)
    g = np.random.default_rng(2).random((1, 2, 4, 4), dtype=np.float32)
    reg["avg2x2"].forward(x)
    np.testing.assert_allclose(reg["avg2x2"].backward(g), np.repeat(np.repeat(g, 2, 2), 2, 3) / 4)
    conv = reg["conv2x2s2"]
    conv.forward(x)
    gx = conv.backward(g)
    gx2, gw, gb = cypool.conv2d_backward(g, x, conv.weight, 2, 0)
    np.testing.assert_array_equal(gx, gx2)
    assert [a.shape for a in conv.grads()] == [p.shape for p in conv.params()]
    sub = reg["subsample"]
    sub.forward(x)
    assert sub.backward(g)[..., ::2, ::2].sum() == pytest.approx(g.sum())
    st = reg["stochastic"].train(False)
    st.forward(x)
    with pytest.raises(NotImplementedError):
        st.backward(g)


def test_import_cypool_does_not_import_torch(tmp_path):
    code = ("import sys, cypool, cypool.strategies as s; s.available(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True,
                         text=True, env=python_env_for_subprocess(),
                         check=True).stdout
    assert out.strip() == "False"


def test_register_and_conflicts():
    class Half(Strategy):
        name = "half-test"
        description = "x[..., ::2, ::2] / 2"

        def forward(self, x):
            return x[..., ::2, ::2] / 2

    s = strategies.register(Half())
    try:
        assert strategies.available()["half-test"] is s
        with pytest.raises(ValueError, match="already registered"):
            strategies.register(Half())
        strategies.register(Half(), replace=True)
    finally:
        strategies.unregister("half-test")
    assert "half-test" not in strategies.available()
    bad = Half()
    bad.name = "max2x2"
    with pytest.raises(ValueError, match="built-in"):
        strategies.register(bad)
    with pytest.raises(TypeError, match="Strategy"):
        strategies.register(object())


def test_plugin_kinds_and_broken_plugins(monkeypatch, tmp_path):
    mod = tmp_path / "fake_plugins_mod.py"
    mod.write_text(
        "import numpy as np\n"
        "from cypool.strategies import Strategy\n"
        "class Neg(Strategy):\n"
        "    name = 'neg-sub'\n"
        "    description = 'negated subsampling'\n"
        "    def forward(self, x): return -x[..., ::2, ::2]\n"
        "def factory(): return Neg()\n"
        "def plain(x):\n"
        "    '''first row/col of each 2x2'''\n"
        "    return x[..., ::2, ::2]\n"
        "def two_args(x, y): return x\n"
        "def bad_factory(): return 42\n"
        "NOT_CALLABLE = 3\n"
        "raise_on_import = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [md.EntryPoint(n, v, "cypool.strategies") for n, v in [
        ("neg", "fake_plugins_mod:factory"), ("plainfn", "fake_plugins_mod:plain"),
        ("cls", "fake_plugins_mod:Neg"), ("twoargs", "fake_plugins_mod:two_args"),
        ("badfactory", "fake_plugins_mod:bad_factory"), ("num", "fake_plugins_mod:NOT_CALLABLE"),
        ("missing", "no_such_module_xyz:thing"), ("max2x2", "fake_plugins_mod:plain")]]
    monkeypatch.setattr(strategies, "_entry_points", lambda: eps)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = strategies.available()
    messages = " ".join(str(w.message) for w in caught)
    assert "neg-sub" in reg and "plainfn" in reg
    assert isinstance(reg["plainfn"], FunctionStrategy)
    assert reg["plainfn"].description == "first row/col of each 2x2"
    for broken in ("twoargs", "badfactory", "num", "missing"):
        assert broken not in reg and broken in messages
    assert "'cls'" in messages  # the class loads a second 'neg-sub': name taken, skipped
    assert "'max2x2'" in messages and isinstance(reg["max2x2"], Strategy) \
        and not isinstance(reg["max2x2"], FunctionStrategy)
    x = np.ones((1, 1, 4, 4), np.float32)
    assert reg["plainfn"].forward(x).shape == (1, 1, 2, 2)
    with pytest.raises(NotImplementedError):
        reg["plainfn"].backward(x)


def _install_by_hand(src, target):
    """What pip would install: the package and a .dist-info with entry_points.txt (used only when
    pip cannot build offline, e.g. a venv without setuptools)."""
    import re
    import shutil
    shutil.copytree(os.path.join(src, "cypool_plugin_demo"), target / "cypool_plugin_demo")
    text = open(os.path.join(src, "pyproject.toml")).read()
    section = text.split('[project.entry-points."cypool.strategies"]')[1]
    entries = re.findall(r'^(\S+) = "([^"]+)"', section, re.M)
    info = target / "cypool_plugin_demo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cypool-plugin-demo\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[cypool.strategies]\n" + "".join(f"{n} = {v}\n" for n, v in entries))


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """tests/plugin_pkg installed as a separate distribution into its own directory."""
    target = tmp_path_factory.mktemp("plugin_site")
    build = tmp_path_factory.mktemp("plugin_build")
    import shutil
    shutil.copytree(PLUGIN_SRC, build / "src")  # pip may write build files next to the source
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                          "--no-build-isolation", "--no-index", "--target", str(target),
                          str(build / "src")], capture_output=True, text=True)
    if res.returncode != 0:
        _install_by_hand(str(build / "src"), target)
    assert any(p.name.endswith(".dist-info") for p in target.iterdir())
    return target


def _env(site):
    return python_env_for_subprocess(site)


def test_installed_plugin_is_available(plugin_site):
    code = ("import warnings; warnings.simplefilter('always');\n"
            "import cypool.strategies as s, numpy as np\n"
            "reg = s.available()\n"
            "print(sorted(reg))\n"
            "x = np.random.default_rng(0).random((1, 2, 6, 6), dtype=np.float32)\n"
            "print(reg['median2x2'].forward(x).shape, reg['min2x2'].forward(x).shape)\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=str(plugin_site), capture_output=True,
                         text=True, env=_env(plugin_site), check=True)
    names = res.stdout.splitlines()[0]
    for name in ("median2x2", "min2x2", "plugin-l2", "max2x2"):
        assert f"'{name}'" in names
    assert "'broken'" not in names
    assert "skipping strategy plugin 'broken'" in res.stderr
    assert res.stdout.splitlines()[1] == "(1, 2, 3, 3) (1, 2, 3, 3)"


@needs_compare_extra
def test_installed_plugin_in_compare_report(plugin_site, tmp_path):
    out = tmp_path / "report"
    res = subprocess.run([sys.executable, "-m", "cypool", "compare", "--quick", "--no-progress",
                          "--strategies", "median2x2,min2x2,max2x2", "--sizes", "16",
                          "--out", str(out)], cwd=str(tmp_path), env=_env(plugin_site),
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = {r["strategy"]: r for r in csv.DictReader(open(out / "results.csv"))}
    assert set(rows) == {"median2x2", "min2x2", "max2x2"}
    assert float(rows["median2x2"]["fwd_ms"]) > 0 and rows["median2x2"]["bwd_ms"] == ""
    assert float(rows["min2x2"]["bwd_ms"]) > 0
    report = (out / "report.md").read_text()
    assert "| median2x2 |" in report and "median of each 2x2 window" in report


@needs_compare_extra
def test_installed_plugin_is_trained_like_the_builtins(plugin_site, tmp_path):
    """A plugin with only NumPy forward/backward (min2x2) and one giving its own torch module
    (plugin-l2) get trained networks and report rows like max2x2; a plain-function plugin
    (median2x2, no backward) is reported as not trained, with the reason."""
    pytest.importorskip("torch")
    out = tmp_path / "report"
    res = subprocess.run([sys.executable, "-m", "cypool", "compare", "--no-progress",
                          "--threads", "1",
                          "--strategies", "median2x2,min2x2,plugin-l2,max2x2", "--sizes", "16",
                          "--seeds", "2", "--epochs", "1", "--train-images", "64",
                          "--datasets", "digits", "--out", str(out)], cwd=str(tmp_path),
                         env=_env(plugin_site), capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = {(r["strategy"], r["head"]): r for r in csv.DictReader(open(out / "trained.csv"))}
    assert set(rows) == {(s, h) for s in ("min2x2", "plugin-l2", "max2x2")
                         for h in ("gap", "flat")}
    for r in rows.values():
        assert r["seeds"] == "2" and 0 <= float(r["test_acc"]) <= 1
        assert 0 <= float(r["consistency"]) <= 1 and r["consistency_sd"] != ""
    summary = {r["strategy"]: r for r in csv.DictReader(open(out / "results.csv"))}
    assert "has no backward" in summary["median2x2"]["not_trained"]
    assert float(summary["min2x2"]["digits_acc"]) >= 0
    report = (out / "report.md").read_text()
    assert "| min2x2 | gap |" in report and "| plugin-l2 | flat |" in report
    assert "`median2x2` (strategy 'median2x2' has no backward)" in report


@needs_compare_extra
def test_compare_quick_covers_every_builtin(tmp_path):
    from cypool import cli
    out = tmp_path / "rep"
    assert cli.main(["compare", "--quick", "--no-progress", "--sizes", "16,32",
                     "--out", str(out)]) == 0
    rows = {r["strategy"]: r for r in csv.DictReader(open(out / "results.csv"))}
    assert set(BUILTINS) <= set(rows)
    for name in BUILTINS:
        r = rows[name]
        assert float(r["fwd_ms"]) > 0 and float(r["fwd_GBps"]) > 0, name
        assert float(r["bwd_ms"]) > 0, name
        assert float(r["shift_features_pct"]) >= 0 and float(r["shift_photos_pct"]) >= 0, name
        assert float(r["noise_gain"]) > 0, name
    assert float(rows["conv3x3s2"]["params"]) == 16 * 16 * 9 + 16
    # subsampling is the identity on aligned even shifts and aliases on odd ones: not zero
    assert float(rows["subsample"]["shift_features_pct"]) > 0
    pngs = [p for p in os.listdir(out) if p.endswith(".png")]
    assert len(pngs) >= 2
    report = (out / "report.md").read_text()
    for name in BUILTINS:
        assert f"| {name} |" in report
    for png in pngs:
        assert f"({png})" in report
    speed = list(csv.DictReader(open(out / "speed.csv")))
    assert {r["size"] for r in speed} == {"16", "32"}


def test_compare_without_its_extra_says_what_to_install(monkeypatch, tmp_path):
    """Pooling needs only numpy; `cypool compare` names the missing compare extra, before any work."""
    import importlib.util
    from cypool import cli
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sklearn" else real(name, *a))
    with pytest.raises(SystemExit, match=r"sklearn.*cypool\[compare\]"):
        cli.main(["compare", "--quick", "--no-progress", "--out", str(tmp_path / "r")])
    assert not (tmp_path / "r").exists()
