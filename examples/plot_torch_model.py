"""
cypool in a PyTorch model
=========================

``cypool.torch`` provides PyTorch's pooling modules computed by cypool's kernels, with autograd.
This example trains the same small CNN twice on scikit-learn's bundled digits (8 x 8 images):
once with ``torch.nn`` pooling, once with ``cypool.torch`` pooling, from the same initial weights
and the same batches. The two runs follow each other step for step.

Needs torch (``pip install ".[torch]"``) and scikit-learn.
"""

import copy

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import cypool
import cypool.torch as ct

# The tensors here are tiny (8 x 8 images): one thread each for torch and cypool is fastest.
torch.manual_seed(0)
torch.set_num_threads(1)
cypool.set_num_threads(1)

# %%
# The data: 1,797 digits, split into training and test images, as float32 tensors of shape
# (N, 1, 8, 8) in PyTorch's channels_last memory format (cypool runs its channels-last kernels
# on that memory directly, without a copy).

digits = load_digits()
images = (digits.images / 16.0).astype(np.float32)[:, None]
x_train, x_test, y_train, y_test = train_test_split(images, digits.target, test_size=0.3,
                                                    random_state=0)
to_tensor = lambda a: torch.from_numpy(a).to(memory_format=torch.channels_last)
x_train, x_test = to_tensor(x_train), to_tensor(x_test)
y_train, y_test = torch.from_numpy(y_train), torch.from_numpy(y_test)

# %%
# The model, written with torch's modules. ``ct.replace_pooling`` swaps its pooling modules for
# cypool's, which subclass torch's: same constructor, attributes and ``repr``.

torch_model = torch.nn.Sequential(
    torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(),
    torch.nn.MaxPool2d(2),                                   # 8x8 -> 4x4
    torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(),
    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
    torch.nn.Linear(32, 10),
)
cypool_model = ct.replace_pooling(copy.deepcopy(torch_model))
print(cypool_model)
print(type(cypool_model[2]), isinstance(cypool_model[2], torch.nn.MaxPool2d))

# %%
# Training: 15 epochs of Adam on batches of 32, the same batches for both models.


def train(model, epochs=15, batch=32):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    order = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(epochs):
        perm = torch.randperm(len(x_train), generator=order)
        for i in range(0, len(perm), batch):
            idx = perm[i:i + batch]
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()                                  # through cypool's backward kernels
            opt.step()
            losses.append(loss.item())
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    return np.array(losses), accuracy


torch_losses, torch_acc = train(torch_model)
cypool_losses, cypool_acc = train(cypool_model)
print(f"test accuracy: torch pooling {torch_acc:.3f}, cypool pooling {cypool_acc:.3f}")
print(f"largest relative difference of the losses: "
      f"{np.max(np.abs(cypool_losses - torch_losses) / torch_losses):.2e}")

# %%
# The two loss curves lie on top of each other: cypool's max pooling picks the same cells as
# torch's (ties and NaN included) and its adaptive average gives the same gradients.

fig, ax = plt.subplots(figsize=(7, 3.6))
ax.plot(torch_losses, label=f"torch.nn pooling (test accuracy {torch_acc:.3f})", lw=3, alpha=0.5)
ax.plot(cypool_losses, label=f"cypool.torch pooling (test accuracy {cypool_acc:.3f})", lw=1)
ax.set_xlabel("training step")
ax.set_ylabel("cross-entropy loss")
ax.set_yscale("log")
ax.legend()
fig.tight_layout()
plt.show()
cypool.set_num_threads(None)          # back to the default thread count
