"""Image-quality and identity metrics, all in pixel units ([0, 1] scale).

- PSNR = 10 log10(1 / MSE), per image (``psnr``) or from the MSE pooled over a set
  (``pooled_psnr``, the protocol of Soltanayev & Chun 2018).
- SSIM (Wang et al. 2004, Eq. 13) with the usual 7x7 uniform window, K1 = 0.01, K2 = 0.03.
- Identity accuracy: how often a classifier still reads the true digit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def mse(x: Tensor, ref: Tensor) -> Tensor:
    """Mean squared error per image: (N, ...) x (N, ...) -> (N,)."""
    if x.shape != ref.shape:
        raise ValueError(f"shape mismatch: {tuple(x.shape)} vs {tuple(ref.shape)}")
    return ((x.double() - ref.double()) ** 2).flatten(1).mean(1)


def psnr(x: Tensor, ref: Tensor, *, data_range: float = 1.0) -> Tensor:
    """Per-image PSNR in dB, 10 log10(data_range^2 / MSE): (N,) float64."""
    return 10 * torch.log10(data_range**2 / mse(x, ref).clamp(min=1e-20))


def pooled_psnr(x: Tensor, ref: Tensor, *, data_range: float = 1.0) -> float:
    """PSNR of the MSE pooled over all images (one number for the set)."""
    return float(10 * torch.log10(data_range**2 / mse(x, ref).mean().clamp(min=1e-20)))


def ssim(x: Tensor, ref: Tensor, *, data_range: float = 1.0, win: int = 7) -> Tensor:
    """Per-image mean SSIM (Wang et al. 2004) with a ``win`` x ``win`` uniform window: (N,)."""
    if x.shape != ref.shape or x.ndim != 4:
        raise ValueError("ssim expects two (N, C, H, W) tensors of the same shape")
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    x, ref = x.double(), ref.double()
    k = torch.ones(x.shape[1], 1, win, win, dtype=torch.float64) / win**2
    conv = lambda z: F.conv2d(z, k, groups=x.shape[1])  # noqa: E731  valid windows only
    mx, my = conv(x), conv(ref)
    n = win * win
    cov = n / (n - 1)  # unbiased (co)variances, as skimage does
    vx = cov * (conv(x * x) - mx**2)
    vy = cov * (conv(ref * ref) - my**2)
    vxy = cov * (conv(x * ref) - mx * my)
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)


@torch.no_grad()
def predict_labels(classifier: nn.Module, images: Tensor, *, batch_size: int = 1000) -> Tensor:
    """The classifier's predicted digit for each (N, 1, 28, 28) pixel-unit image: (N,) long."""
    out = [
        classifier(images[i : i + batch_size].float()).argmax(1) for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def identity_accuracy(classifier: nn.Module, images: Tensor, labels: Tensor) -> float:
    """Fraction of images the classifier reads as their true label."""
    return float((predict_labels(classifier, images) == labels).float().mean())


@torch.no_grad()
def classifier_features(classifier: nn.Module, images: Tensor, *, batch_size: int = 1000) -> Tensor:
    """The classifier's penultimate features of (N, 1, 28, 28) pixel-unit images: (N, D) float64."""
    out = [
        classifier.features(images[i : i + batch_size].float()).double()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out)


def frechet_distance(feats_a: Tensor, feats_b: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, D) and (M, D) (Heusel et al. 2017):

        ||mu_a - mu_b||^2 + tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2),

    computed through the symmetric matrix C_a^1/2 C_b C_a^1/2, whose eigenvalues are those of C_a C_b.
    With the classifier's features this is the "classifier-feature FID" of the benchmarks.
    """
    if feats_a.ndim != 2 or feats_b.ndim != 2 or feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError("frechet_distance expects two (N, D) feature matrices with the same D")
    if len(feats_a) < 2 or len(feats_b) < 2:
        raise ValueError("need at least two feature vectors per set")
    a, b = feats_a.double(), feats_b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    c_a, c_b = torch.cov(a.T), torch.cov(b.T)  # (D, D)
    w, v = torch.linalg.eigh(c_a)
    sqrt_a = (v * w.clamp(min=0).sqrt()) @ v.T  # C_a^1/2
    m = sqrt_a @ c_b @ sqrt_a
    tr_sqrt = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    return float(((mu_a - mu_b) ** 2).sum() + torch.trace(c_a) + torch.trace(c_b) - 2 * tr_sqrt)
