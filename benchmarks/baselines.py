"""The two references sklstm is measured against, on the same module and data.

``minimal_fit``: a hand-written PyTorch loop (tensors built once and moved to the
device once, batches sliced from a permutation, losses kept on the device), the
floor a wrapper can reach. ``skorch_fit``: plain skorch with its defaults
(DataLoader, internal 80/20 ``ValidSplit``, per-batch callbacks).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from skorch import NeuralNetRegressor

from sklstm._engine._module import LSTMNetwork


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def minimal_fit(X, y, *, hidden_size, num_layers, batch_size, epochs, device, seed=0):
    """Train with a plain loop; return (seconds, module)."""
    torch.manual_seed(seed)
    start = time.perf_counter()  # building the model is part of any fit
    module = LSTMNetwork(X.shape[2], 1, hidden_size, num_layers).to(device)
    opt = torch.optim.Adam(module.parameters(), lr=1e-3, fused=True)
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device)
    yt = torch.from_numpy(np.asarray(y, dtype=np.float32)).to(device)
    n = len(Xt)
    module.train()
    for _ in range(epochs):
        order = torch.randperm(n).to(device)
        total = torch.zeros((), device=device)
        for lo in range(0, n, batch_size):
            idx = order[lo : lo + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(module(Xt[idx]).squeeze(-1), yt[idx])
            loss.backward()
            opt.step()
            total += loss.detach()
        total.item()
    _sync(device)
    return time.perf_counter() - start, module


def minimal_predict(module, X, *, device, chunk=1024):
    """Predict with a plain loop; return seconds."""
    start = time.perf_counter()
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device)
    module.eval()
    with torch.inference_mode():
        out = torch.cat([module(Xt[i : i + chunk]) for i in range(0, len(Xt), chunk)])
    out.cpu().numpy()
    return time.perf_counter() - start


def skorch_net(X, *, hidden_size, num_layers, batch_size, epochs, device):
    return NeuralNetRegressor(
        LSTMNetwork,
        module__input_size=X.shape[2],
        module__output_size=1,
        module__hidden_size=hidden_size,
        module__num_layers=num_layers,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        batch_size=batch_size,
        max_epochs=epochs,
        device=device,
        verbose=0,
    )


def skorch_fit(X, y, **params):
    """Fit plain skorch; return (seconds, net)."""
    torch.manual_seed(0)
    net = skorch_net(X, **params)
    start = time.perf_counter()
    net.fit(X.astype(np.float32), np.asarray(y, dtype=np.float32).reshape(-1, 1))
    _sync(params["device"])
    return time.perf_counter() - start, net
