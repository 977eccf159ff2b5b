import math

import pytest
import torch
from skimage.metrics import structural_similarity

from tinyddpm.metrics import identity_accuracy, mse, pooled_psnr, psnr, ssim


def test_psnr_of_a_known_error():
    ref = torch.zeros(2, 1, 4, 4)
    x = ref + torch.tensor([0.1, 0.01]).reshape(2, 1, 1, 1)
    assert torch.allclose(psnr(x, ref), torch.tensor([20.0, 40.0], dtype=torch.float64))
    # pooled: MSE mean (0.01 + 0.0001) / 2
    assert pooled_psnr(x, ref) == pytest.approx(-10 * math.log10(0.00505))
    with pytest.raises(ValueError):
        mse(x, ref[:1])


def test_ssim_matches_scikit_image():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(3, 1, 28, 28, generator=g, dtype=torch.float64)
    b = (a + 0.1 * torch.randn(a.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    ours = ssim(a, b)
    for i in range(3):
        ref = structural_similarity(a[i, 0].numpy(), b[i, 0].numpy(), data_range=1.0, win_size=7)
        assert float(ours[i]) == pytest.approx(ref, abs=1e-9)
    assert torch.allclose(ssim(a, a), torch.ones(3, dtype=torch.float64))


def test_identity_accuracy():
    class Fake(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.one_hot(x.flatten(1)[:, 0].long(), 10).float()

    images = torch.tensor([0.0, 1.0, 2.0, 3.0]).reshape(4, 1, 1, 1).expand(4, 1, 28, 28)
    assert identity_accuracy(Fake(), images, torch.tensor([0, 1, 2, 9])) == 0.75
