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


def test_frechet_distance_of_two_gaussians_has_the_closed_form():
    # N(0, I) vs N(m, s^2 I) in D dims: ||m||^2 + D (1 - s)^2
    from tinyddpm.metrics import frechet_distance

    g = torch.Generator().manual_seed(0)
    d, n = 4, 200_000
    a = torch.randn(n, d, generator=g, dtype=torch.float64)
    b = 0.5 + 2.0 * torch.randn(n, d, generator=g, dtype=torch.float64)
    assert frechet_distance(a, b) == pytest.approx(d * 0.25 + d * 1.0, rel=0.02)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_the_matrix_square_root_formula():
    from scipy import linalg

    from tinyddpm.metrics import frechet_distance

    g = torch.Generator().manual_seed(1)
    a = torch.randn(300, 6, generator=g, dtype=torch.float64) @ torch.randn(
        6, 6, generator=g, dtype=torch.float64
    )
    b = torch.randn(250, 6, generator=g, dtype=torch.float64) * 1.5 + 0.3
    ca, cb = torch.cov(a.T).numpy(), torch.cov(b.T).numpy()
    ref = float(((a.mean(0) - b.mean(0)) ** 2).sum()) + float(
        (ca + cb - 2 * linalg.sqrtm(ca @ cb).real).trace()
    )
    assert frechet_distance(a, b) == pytest.approx(ref, rel=1e-8)
    with pytest.raises(ValueError):
        frechet_distance(a, b[:, :5])
    with pytest.raises(ValueError):
        frechet_distance(a[:1], b)


def test_classifier_features_are_the_penultimate_layer():
    from tinyddpm.harness.classifier import Classifier, ClassifierConfig
    from tinyddpm.metrics import classifier_features

    clf = Classifier(ClassifierConfig()).eval()
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    f = classifier_features(clf, x, batch_size=2)
    assert f.shape == (5, 128) and f.dtype == torch.float64
    assert torch.allclose(clf.head(f.float()), clf(x), atol=1e-5)
