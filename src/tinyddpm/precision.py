"""Which float precision the network runs in: bfloat16 autocast where it is free, float32 elsewhere.

Only the network's forward pass changes precision. Everything around it, the schedule
(float64), x_t* = sqrt(alpha_bar) y, and the combination x0 = (x_t - sqrt(1 - alpha_bar) eps) /
sqrt(alpha_bar) (Ho et al. 2020, Eq. 15), stays in float32 or float64: the network's output is
cast back to the input's dtype before it is used. That division by sqrt(alpha_bar) is where
low precision would hurt (it magnifies eps's rounding error at small alpha_bar), so it never sees
bfloat16 numbers other than eps itself.

``precision`` takes three values:

- ``"auto"`` (default): bfloat16 autocast for ``nn.Module`` networks, on batches of at least
  ``AUTO_MIN_BATCH`` images (below that, bf16 measured no faster on CPU), on a CPU with native
  bfloat16 (AVX-512 BF16 or AMX, which oneDNN uses) or a CUDA device that supports it; float32
  otherwise, always for plain callables (closed-form models stay exact), and in
  :func:`tinyddpm.denoise` for images whose sigma is below ``AUTO_FP32_BELOW_SIGMA``;
- ``"bf16"``: bfloat16 autocast for any model (slow on CPUs without native support);
- ``"fp32"``: no autocast.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import Tensor, nn

from .options import check_choice

Precision = Literal["auto", "bf16", "fp32"]
PRECISIONS = get_args(Precision)
# under "auto", smaller batches run in float32: on a 2-core AVX-512 BF16 CPU a batch of 1 ran at
# 178 images/s in bf16 against 193 in fp32, a batch of 16 at 701 against 445 (benchmarks)
AUTO_MIN_BATCH = 8
# under "auto", denoising at pixel sigma below this runs in float32: bf16 rounds the network's
# input to 2^-9 of its size (~0.004 in model units), and at small sigma that is no longer small
# against the posterior mean's own error (shipped model, 1,000 bundled digits: -0.0104 dB at
# sigma 0.05, -0.0039 dB at 0.1; src/tinyddpm/harness/results/bench_speed.json, "precision")
AUTO_FP32_BELOW_SIGMA = 0.075


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 convolutions and matrix products natively."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def autocast_dtype(model: object, precision: Precision, device: torch.device) -> torch.dtype | None:
    """The dtype the network's forward pass runs in (None: as it is, float32)."""
    check_choice(precision, Precision, "precision")
    if precision == "bf16" or (precision == "auto" and isinstance(model, nn.Module) and native_bf16(device)):
        return torch.bfloat16
    return None


class Autocast:
    """An eps_model that runs ``model`` under autocast and returns its output in the input's dtype.

    Batches of fewer than ``min_batch`` images run without autocast.
    """

    def __init__(self, model: object, dtype: torch.dtype, device_type: str, *, min_batch: int = 1) -> None:
        self.model, self.dtype, self.device_type, self.min_batch = model, dtype, device_type, min_batch

    def __call__(self, x_t: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        with torch.autocast(self.device_type, dtype=self.dtype, enabled=x_t.shape[0] >= self.min_batch):
            eps = self.model(x_t, t) if y is None else self.model(x_t, t, y)
        return eps.to(x_t.dtype)


def with_precision(model: object, precision: Precision, device: torch.device | None = None) -> object:
    """``model`` itself (float32) or wrapped in :class:`Autocast`, as ``precision`` decides."""
    if device is None:
        device = (
            next(iter(model.parameters())).device if isinstance(model, nn.Module) else torch.device("cpu")
        )
    dtype = autocast_dtype(model, precision, device)
    if dtype is None:
        return model
    return Autocast(model, dtype, device.type, min_batch=AUTO_MIN_BATCH if precision == "auto" else 1)
