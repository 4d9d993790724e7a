"""Trained networks: each strategy as the downsampling of a small CNN trained with PyTorch on the
datasets of datasets.py, several seeds, then measured on the test set.

The network: three stages conv3x3 (pad 1, no bias) -> batch norm -> ReLU -> the strategy's torch
module (`Strategy.torch_module`; for cypool's strategies a cypool.torch module, so cypool's kernels
run forward and backward and torch does autograd and the optimiser), with 8, 16 and 32 channels,
then a head: "gap" (global average pooling -> dense) or "flat" (flatten -> dense). Adam, learning
rate 3e-3, batch 32, cross-entropy; the seed fixes the initial weights, the batch order and
stochastic pooling's draws. Training and measuring run on one thread (see _one_thread).

Measured per run (`train_one`): test accuracy (unshifted view); Zhang's (2019) classification
consistency, the probability that two random shifts (dy, dx uniform in 0..MAX_SHIFT) of a test
image get the same class; accuracy vs shift s = 0..MAX_SHIFT (the test view moved by s rows and
s columns, i.e. diagonally); training accuracy, so the train-test gap; seconds per epoch; and test
accuracy with the strategy's layers in training mode (batch norm stays in evaluation mode), which
differs from evaluation mode only for stochastic pooling.
"""
from __future__ import annotations

import contextlib
import math
import time

import numpy as np

from .datasets import MAX_SHIFT

CHANNELS = (8, 16, 32)
HEADS = ("gap", "flat")
CONSISTENCY_PAIRS = 5   # random shift pairs per test image
BATCH, LR = 32, 3e-3


def network(strategy, head: str, n_classes: int, size: int = 32):
    """The CNN with `strategy` after each of its conv stages. Raises NotImplementedError (with
    the reason) when the strategy gives no torch module that fits."""
    import torch
    nn = torch.nn
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    layers, c_in = [], 1
    for c in CHANNELS:
        layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                   strategy.torch_module(c)]
        c_in = c
    body = nn.Sequential(*layers)
    with torch.no_grad():
        body.eval()
        shape = body(torch.zeros(2, 1, size, size)).shape
    if len(shape) != 4 or shape[1] != c_in:
        raise NotImplementedError(f"its torch module gives {tuple(shape)} after three stages, "
                                  f"not a (N, {c_in}, H, W) map")
    if head == "gap":
        tail = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, n_classes)]
    else:
        tail = [nn.Flatten(), nn.Linear(int(np.prod(shape[1:])), n_classes)]
    return nn.Sequential(body, *tail)


def _predict(model, x: np.ndarray, batch: int = 128) -> np.ndarray:
    import torch
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch])))
                       .argmax(1).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.int64)


@contextlib.contextmanager
def _one_thread():
    """torch and cypool on one thread: these tensors are small, and with two threads on a loaded
    2-core machine an epoch took 27 s instead of 0.5 s (every parallel region waits for a
    descheduled thread)."""
    import torch

    import cypool
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with cypool.threads(1):
            yield
    finally:
        torch.set_num_threads(old)


def train_one(strategy, data, head: str, seed: int, epochs: int) -> dict:
    """Train one network and measure it (the module docstring lists what), on one thread."""
    with _one_thread():
        return _train_one(strategy, data, head, seed, epochs)


def _train_one(strategy, data, head, seed, epochs):
    import torch
    torch.manual_seed(seed)
    model = network(strategy, head, len(data.classes), data.x_train.shape[-1])
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    x_tr, y_tr = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    g = torch.Generator().manual_seed(seed)
    model.train()
    t0 = time.perf_counter()
    loss = math.nan
    for _ in range(epochs):
        order = torch.randperm(len(x_tr), generator=g)
        for i in range(0, len(order), BATCH):
            ids = order[i:i + BATCH]
            opt.zero_grad(set_to_none=True)
            out = loss_fn(model(x_tr[ids]), y_tr[ids])
            out.backward()
            opt.step()
            loss = out.item()
    epoch_s = (time.perf_counter() - t0) / max(epochs, 1)

    rng = np.random.default_rng(seed)
    model.eval()
    m = len(data.y_test)
    train_acc = float(np.mean(_predict(model, data.x_train) == data.y_train))
    by_shift = []
    for s in range(MAX_SHIFT + 1):
        by_shift.append(float(np.mean(_predict(model, data.view(s, s)) == data.y_test)))
    same = []
    for _ in range(CONSISTENCY_PAIRS):
        a = rng.integers(0, MAX_SHIFT + 1, (2, m))
        b = rng.integers(0, MAX_SHIFT + 1, (2, m))
        same.append(_predict(model, data.view(a[0], a[1])) ==
                    _predict(model, data.view(b[0], b[1])))
    for stage in model[0][3::4]:  # the strategy modules only: batch norm keeps its statistics
        stage.train()
    acc_train_mode = float(np.mean(_predict(model, data.view(0, 0)) == data.y_test))
    return {"test_acc": by_shift[0], "train_acc": train_acc, "gap": train_acc - by_shift[0],
            "consistency": float(np.mean(same)), "acc_by_shift": by_shift,
            "acc_train_mode": acc_train_mode, "final_loss": loss, "epoch_s": epoch_s}


METRICS = ("test_acc", "train_acc", "gap", "consistency", "acc_train_mode", "epoch_s")


def summarise(runs: list) -> dict:
    """Mean and sample standard deviation over seeds of every metric of `train_one`'s results
    (keys `<metric>` and `<metric>_sd`; `acc_by_shift` and `acc_by_shift_sd` are lists)."""
    out = {"seeds": len(runs)}
    for k in METRICS:
        v = np.array([r[k] for r in runs], float)
        out[k] = float(v.mean())
        out[k + "_sd"] = float(v.std(ddof=1)) if len(v) > 1 else math.nan
    curves = np.array([r["acc_by_shift"] for r in runs], float)
    out["acc_by_shift"] = curves.mean(0).tolist()
    out["acc_by_shift_sd"] = (curves.std(0, ddof=1) if len(runs) > 1
                              else np.full(curves.shape[1], math.nan)).tolist()
    return out


def not_trainable_reason(strategy) -> str | None:
    """Why `strategy` cannot be trained in the network (None when it can)."""
    try:
        network(strategy, "gap", 2)
    except NotImplementedError as exc:
        return str(exc) or "no torch module"
    return None
