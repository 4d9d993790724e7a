"""`cypool compare`'s trained networks: the datasets, the strategies as torch modules, one training
run and the report's trained section, on tiny configurations."""
import csv
import math

import numpy as np
import pytest

from cypool import strategies

pytest.importorskip("sklearn", reason="the datasets need scikit-learn")
pytest.importorskip("skimage", reason="the datasets need scikit-image")

from cypool.compare import datasets  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


@pytest.fixture(scope="module")
def textures():
    return datasets.load("textures")


def test_datasets_shapes_classes_and_determinism(digits, textures):
    for d, n_classes in ((digits, 10), (textures, len(datasets.TEXTURES))):
        assert n_classes >= 5 and len(d.classes) == n_classes
        assert d.x_train.shape[1:] == (1, 32, 32) and d.x_train.dtype == np.float32
        assert d.x_test.shape[1:] == (1, 40, 40)
        assert set(np.unique(d.y_train)) == set(range(n_classes)) == set(np.unique(d.y_test))
    again = datasets.load("digits")
    np.testing.assert_array_equal(again.x_train, digits.x_train)
    np.testing.assert_array_equal(again.x_test, digits.x_test)
    assert (len(digits.y_train), len(digits.y_test)) == (1257, 540)
    assert (len(textures.y_train), len(textures.y_test)) == (1600, 500)
    # every crop standardised: the class is in the texture, not the brightness
    np.testing.assert_allclose(textures.x_train.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(textures.x_train.std(axis=(1, 2, 3)), 1, atol=1e-3)
    with pytest.raises(ValueError, match="dataset must be one of"):
        datasets.load("cifar")


def test_digits_stay_whole_in_every_shifted_view(digits):
    whole = digits.x_test.sum(axis=(1, 2, 3))
    for dy, dx in ((0, 0), (8, 8), (0, 8), (8, 0), (3, 5)):
        np.testing.assert_allclose(digits.view(dy, dx).sum(axis=(1, 2, 3)), whole, rtol=1e-5)
    # training digits sit anywhere on the canvas: both extreme corners occur
    rows = np.nonzero(digits.x_train.any(axis=(1, 3)))
    first_row = np.array([rows[1][rows[0] == i].min() for i in range(len(digits.x_train))])
    assert first_row.min() <= 1 and first_row.max() >= 15


def test_view_is_the_window_at_the_offset(digits):
    np.testing.assert_array_equal(digits.view(3, 5), digits.x_test[:, :, 3:35, 5:37])
    dy = np.arange(len(digits.x_test)) % 9
    v = digits.view(dy, 2)
    np.testing.assert_array_equal(v[10], digits.x_test[10, :, 1:33, 2:34])
    with pytest.raises(ValueError, match="offsets must be in 0..8"):
        digits.view(9, 0)


# ----------------------------------------------------------------------------- torch

def _tiny(d, n=96):
    return d.subset(n)


def test_every_builtin_gives_a_module_or_a_reason():
    torch = pytest.importorskip("torch")
    from cypool.compare import trained
    import cypool.torch
    reg = strategies.available(plugins=False)
    modules = {"max2x2": cypool.torch.MaxPool2d, "avg2x2": cypool.torch.AvgPool2d,
               "stochastic": cypool.torch.StochasticPool2d, "lp2": cypool.torch.LPPool2d,
               "blur": cypool.torch.BlurPool2d, "max-blur": cypool.torch.MaxBlurPool2d,
               "conv2x2s2": torch.nn.Conv2d, "conv3x3s2": torch.nn.Conv2d}
    for name, cls in modules.items():
        assert trained.not_trainable_reason(reg[name]) is None, name
        assert isinstance(reg[name].torch_module(8), cls), name
    assert "vector" in trained.not_trainable_reason(reg["spp"])
    from cypool.strategies._torch import StrategyModule
    assert isinstance(reg["subsample"].torch_module(8), StrategyModule)
    for ref in ("torch-max2x2", "torch-avg2x2", "torch-conv3x3s2"):
        assert "PyTorch reference" in trained.not_trainable_reason(reg[ref])


def test_numpy_strategy_module_gradients_are_the_strategys():
    torch = pytest.importorskip("torch")
    reg = strategies.available(plugins=False)
    x = torch.rand(2, 3, 9, 8, requires_grad=True)
    g = torch.rand(2, 3, 5, 4)
    m = reg["subsample"].torch_module(3)
    y = m(x)
    torch.testing.assert_close(y, x.detach()[..., ::2, ::2], rtol=0, atol=0)
    y.backward(g)
    expect = torch.zeros_like(x)
    expect[..., ::2, ::2] = g
    torch.testing.assert_close(x.grad, expect, rtol=0, atol=0)

    class MaxNumpy(strategies.Strategy):  # a plugin-style strategy: NumPy forward/backward only
        name = "max-numpy"

        def forward(self, a):
            self._shape = a.shape
            import cypool
            y, self._idx = cypool.max_pool2d(a, 2, return_indices=True)
            return y

        def backward(self, grad):
            import cypool
            return cypool.max_pool2d_backward(grad, self._idx, self._shape)

    m = MaxNumpy().torch_module(3)
    x2 = x.detach().clone().requires_grad_(True)
    x3 = x.detach().clone().requires_grad_(True)
    a, b = m(x2), torch.nn.functional.max_pool2d(x3, 2)
    other = m(x2 * 2)  # a second forward before the backward keeps each call's own state
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    (a * g[..., :4, :4]).sum().backward()
    (b * g[..., :4, :4]).sum().backward()
    torch.testing.assert_close(x2.grad, x3.grad, rtol=0, atol=0)
    assert other.shape == a.shape
    with pytest.raises(NotImplementedError, match="no backward"):
        strategies.FunctionStrategy("f", lambda a: a[..., ::2, ::2]).torch_module(3)


def test_train_one_measures_a_tiny_network(digits):
    pytest.importorskip("torch")
    from cypool.compare import trained
    reg = strategies.available(plugins=False)
    res = trained.train_one(reg["max2x2"], _tiny(digits), "flat", seed=0, epochs=2)
    for k in ("test_acc", "train_acc", "consistency", "acc_train_mode"):
        assert 0 <= res[k] <= 1, k
    assert res["gap"] == pytest.approx(res["train_acc"] - res["test_acc"])
    assert len(res["acc_by_shift"]) == datasets.MAX_SHIFT + 1
    assert res["acc_by_shift"][0] == res["test_acc"]
    assert res["acc_train_mode"] == res["test_acc"]  # max pooling has no training mode
    assert res["epoch_s"] > 0 and math.isfinite(res["final_loss"])
    again = trained.train_one(reg["max2x2"], _tiny(digits), "flat", seed=0, epochs=2)
    assert again["test_acc"] == res["test_acc"]  # seeded: the same network
    with pytest.raises(ValueError, match="head must be one of"):
        trained.train_one(reg["max2x2"], _tiny(digits), "dense", seed=0, epochs=1)


def test_stochastic_pooling_is_measured_in_both_modes(textures):
    pytest.importorskip("torch")
    from cypool.compare import trained
    reg = strategies.available(plugins=False)
    runs = [trained.train_one(reg["stochastic"], _tiny(textures, 160), "gap", seed, 2)
            for seed in (0, 1)]
    # sampling at test time draws other cells than the probability-weighted evaluation rule
    assert any(r["acc_train_mode"] != r["test_acc"] for r in runs)
    agg = trained.summarise(runs)
    assert agg["seeds"] == 2
    assert agg["test_acc"] == pytest.approx(np.mean([r["test_acc"] for r in runs]))
    assert agg["test_acc_sd"] == pytest.approx(np.std([r["test_acc"] for r in runs], ddof=1))
    assert len(agg["acc_by_shift_sd"]) == datasets.MAX_SHIFT + 1


def test_cypool_max_pooling_trains_like_torchs(digits):
    """The network with cypool.torch.MaxPool2d and the one with torch.nn.MaxPool2d (the
    torch-max2x2 reference's layer) reach the same weights from the same seed."""
    torch = pytest.importorskip("torch")
    from cypool.compare import trained

    class TorchMax(strategies.Strategy):
        name = "torch-layer"

        def torch_module(self, channels):
            return torch.nn.MaxPool2d(2)

    nets = []
    for s in (strategies.available(plugins=False)["max2x2"], TorchMax()):
        nets.append(_train_64(trained, s, digits))
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def _train_64(trained, s, digits):
    import torch
    with trained._one_thread():
        torch.manual_seed(0)
        net = trained.network(s, "gap", 10)
        opt = torch.optim.Adam(net.parameters(), lr=trained.LR)
        x, y = torch.from_numpy(digits.x_train[:64]), torch.from_numpy(digits.y_train[:64])
        for i in range(0, 64, 16):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[i:i + 16]), y[i:i + 16]).backward()
            opt.step()
    return net


def test_compare_reports_trained_networks(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    from cypool import cli
    out = tmp_path / "rep"
    assert cli.main(["compare", "--no-progress", "--threads", "1", "--sizes", "16",
                     "--strategies", "max2x2,stochastic,spp,torch-max2x2", "--seeds", "2", "--epochs", "1",
                     "--train-images", "64", "--datasets", "digits", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "trained.csv")))
    assert {(r["strategy"], r["head"]) for r in rows} == {
        (s, h) for s in ("max2x2", "stochastic") for h in ("gap", "flat")}
    assert all(r["seeds"] == "2" and r["test_acc_sd"] != "" for r in rows)
    assert len(list(csv.DictReader(open(out / "trained_runs.csv")))) == 8
    summary = {r["strategy"]: r for r in csv.DictReader(open(out / "results.csv"))}
    assert 0 <= float(summary["max2x2"]["digits_acc"]) <= 1
    assert summary["max2x2"]["textures_acc"] == ""  # not asked for
    assert "vector" in summary["spp"]["not_trained"]
    assert "PyTorch reference" in summary["torch-max2x2"]["not_trained"]
    report = (out / "report.md").read_text()
    assert "## Trained networks" in report and "| max2x2 | gap |" in report
    assert "Only the first 64 training images" in report
    for png in ("trained_accuracy.png", "trained_shift.png"):
        assert (out / png).stat().st_size > 0 and f"({png})" in report


def test_compare_without_torch_says_so(monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    from cypool import cli
    monkeypatch.setattr(strategies, "torch_available", lambda: False)
    out = tmp_path / "rep"
    assert cli.main(["compare", "--no-progress", "--sizes", "16", "--strategies", "max2x2",
                     "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "PyTorch is not installed: no networks trained" in report
    assert "## Trained networks" not in report and not (out / "trained.csv").exists()
    assert "digits acc" not in report


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--epochs", "-1"], "--epochs must be >= 1"),
    (["--train-images", "0"], "--train-images must be >= 1"),
    (["--datasets", "digits,cifar"], "--datasets must name some of digits, textures"),
])
def test_bad_training_options(argv, message, tmp_path):
    from cypool import cli
    with pytest.raises(SystemExit, match=message):
        cli.main(["compare", "--no-progress", "--out", str(tmp_path / "r")] + argv)
