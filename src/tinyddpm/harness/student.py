"""The student's recipe, rebuilt from its description: the project this book answers, as a peer.

Written from the facts in the project's ``shared/seed/README.md`` (the student's code itself is
not copied): 32x32 digits in [-1, 1], the linear schedule beta 1e-4 .. 0.02 with T = 300 steps
indexed s = 0 .. 299, a plain U-Net ("SimpleUnet": conv3x3 -> ReLU -> BatchNorm blocks with an
added time projection, strided 4x4 convolutions down and transposed ones up, no attention, no
group norm), the L1 loss between true and predicted noise (not Ho et al.'s L2), Adam at 1e-3,
batch 128; and the student's denoising procedure: unit ancestral steps (Ho et al. 2020,
Algorithm 2, variance beta-tilde) from a start step down to 0, clamping to [-1, 1] after each.

Step s of the student's schedule is t = s + 1 of ``NoiseSchedule.linear(300)``, whose
``alpha_bar[0] = 1`` is the clean image: alpha_bar_s (student) = ``alpha_bar[s + 1]``.

>>> net = StudentUNet(StudentUNetConfig(channels=(4, 8, 8)))
>>> tuple(net(torch.zeros(2, 1, 32, 32), torch.tensor([0, 299])).shape)
(2, 1, 32, 32)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import Config
from ..data import Batcher, pixels
from ..options import Norm, check_choice
from ..schedules import NoiseSchedule
from ..seeding import generator, seeded_init
from .optim import run_steps

T = 300  # the student's number of steps
SIZE = 32  # the student's digits: MNIST resized to 32x32
PROCEDURE_STEPS = (50, 299)  # the student's denoising procedure draws its step uniformly from these


@dataclass(frozen=True)
class StudentUNetConfig(Config):
    """The student's U-Net: ``channels`` from the stem down (32 -> 64 -> 128 -> 256 -> 512)."""

    channels: tuple[int, ...] = (32, 64, 128, 256, 512)
    time_dim: int = 32


def sinusoidal_embedding(s: Tensor, dim: int) -> Tensor:
    """(B,) steps -> (B, dim): [sin(s w_k), cos(s w_k)], w_k = 10000^(-k / (dim/2 - 1)).

    The transformer's position encoding (Vaswani et al. 2017), as in Ho et al.'s U-Net.
    """
    half = dim // 2
    w = torch.exp(-math.log(10000) * torch.arange(half, device=s.device) / (half - 1))
    angles = s.float()[:, None] * w[None]  # (B, half)
    return torch.cat([angles.sin(), angles.cos()], 1)


class StudentBlock(nn.Module):
    """conv3x3 -> ReLU -> BatchNorm, + ReLU(Linear(time)), conv3x3 -> ReLU -> BatchNorm, then a
    4x4 stride-2 conv (down) or transposed conv (up; its input is [x, skip], twice the channels)."""

    def __init__(self, c_in: int, c_out: int, time_dim: int, up: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2 * c_in if up else c_in, c_out, 3, padding=1)
        self.time = nn.Linear(time_dim, c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.norm1, self.norm2 = nn.BatchNorm2d(c_out), nn.BatchNorm2d(c_out)
        resample = nn.ConvTranspose2d if up else nn.Conv2d
        self.resample = resample(c_out, c_out, 4, 2, 1)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        """(B, C_in or 2 C_in, H, W), (B, time_dim) -> (B, C_out, H / 2 or 2 H, W / 2 or 2 W)."""
        h = self.norm1(F.relu(self.conv1(x)))
        h = h + F.relu(self.time(emb))[:, :, None, None]
        return self.resample(self.norm2(F.relu(self.conv2(h))))


class StudentUNet(nn.Module):
    """eps_theta(x_s, s): (B, 1, 32, 32) in model units, (B,) steps 0 .. 299 -> (B, 1, 32, 32)."""

    def __init__(self, config: StudentUNetConfig = StudentUNetConfig()) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.time = nn.Sequential(nn.Linear(config.time_dim, config.time_dim), nn.ReLU())
        self.stem = nn.Conv2d(1, c[0], 3, padding=1)
        self.down = nn.ModuleList(
            StudentBlock(a, b, config.time_dim, up=False) for a, b in zip(c[:-1], c[1:])
        )
        up = c[::-1]
        self.up = nn.ModuleList(StudentBlock(a, b, config.time_dim, up=True) for a, b in zip(up[:-1], up[1:]))
        self.out = nn.Conv2d(c[0], 1, 1)

    def forward(self, x: Tensor, s: Tensor) -> Tensor:
        """eps_theta(x_s, s): (B, 1, 32, 32), (B,) -> (B, 1, 32, 32)."""
        emb = self.time(sinusoidal_embedding(s, self.config.time_dim))  # (B, time_dim)
        h, skips = self.stem(x), []
        for block in self.down:
            h = block(h, emb)
            skips.append(h)
        for block in self.up:
            h = block(torch.cat([h, skips.pop()], 1), emb)
        return self.out(h)


def schedule() -> NoiseSchedule:
    """The student's schedule: linear betas 1e-4 .. 0.02, T = 300 (student step s = t - 1)."""
    return NoiseSchedule.linear(T)


def to_student(pixels: Tensor) -> Tensor:
    """(N, 1, 28, 28) pixels in [0, 1] -> (N, 1, 32, 32) in [-1, 1], bilinear: the student's data."""
    return F.interpolate(pixels.float(), size=(SIZE, SIZE), mode="bilinear", antialias=True) * 2 - 1


def from_student(x: Tensor) -> Tensor:
    """(N, 1, 32, 32) in model units -> (N, 1, 28, 28) pixels in [0, 1] (antialiased bilinear)."""
    return ((F.interpolate(x.float(), size=(28, 28), mode="bilinear", antialias=True) + 1) / 2).clamp(0, 1)


def student_loss(
    net: nn.Module, x0: Tensor, s: Tensor, noise: Tensor, sched: NoiseSchedule, *, norm: Norm = "l1"
) -> Tensor:
    """The student's loss: the mean of abs(eps - eps_theta(sqrt(ab_s) x0 + sqrt(1 - ab_s) eps, s)) (L1);
    ``norm="l2"``: the mean square instead (Ho et al.'s L_simple)."""
    ab = sched.alpha_bar[s + 1].float()[:, None, None, None]
    err = net(ab.sqrt() * x0 + (1 - ab).sqrt() * noise, s) - noise
    return err.abs().mean() if norm == "l1" else (err**2).mean()


@torch.no_grad()
def student_chain(
    net: nn.Module,
    x: Tensor,
    start: int,
    sched: NoiseSchedule,
    generator: torch.Generator,
    *,
    snapshots: int = 0,
) -> tuple[Tensor, list[Tensor]]:
    """The student's reverse chain: unit ancestral steps s = start, ..., 0 from ``x`` (model units,
    (B, 1, 32, 32)), clamping to [-1, 1] after each; no noise is added at s = 0.

    x_{s-1} = (x_s - beta_s / sqrt(1 - ab_s) eps_theta) / sqrt(alpha_s) + sqrt(beta-tilde_s) z
    (Ho et al. 2020, Algorithm 2). Returns (x at the end, ``snapshots`` copies of x at evenly
    spaced points of the chain, the first image of the batch).
    """
    keep = set(torch.linspace(start, 0, snapshots).round().long().tolist()) if snapshots else set()
    betas, ab = sched.betas.float(), sched.alpha_bar[1:].float()  # (T,): index s, the student's step
    spread = sched.posterior_variance.float().sqrt()  # (T,) sqrt(beta-tilde), index s
    shots = []
    for s in range(start, -1, -1):
        eps = net(x, torch.full((len(x),), s, dtype=torch.long))
        mean = (x - betas[s] / (1 - ab[s]).sqrt() * eps) / (1 - betas[s]).sqrt()
        if s > 0:
            x = mean + spread[s] * torch.randn(x.shape, generator=generator)
        else:
            x = mean
        x = x.clamp(-1, 1)
        if s in keep:
            shots.append(x[:1].clone())
    return x, shots


def train_student(
    images: Tensor,
    *,
    minutes: float | None = None,
    steps: int | None = None,
    flips: bool = False,
    config: StudentUNetConfig = StudentUNetConfig(),
    loss: Norm = "l1",
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
) -> tuple[StudentUNet, dict]:
    """The student's training on uint8 (N, 28, 28) digits, for ``minutes`` of wall time or ``steps``.

    Adam at ``lr``, batches of 128, steps s uniform on 0 .. 299, the L1 loss (``loss="l2"``: Ho et
    al.'s MSE), random horizontal flips when ``flips`` (the student's choice). Batches, steps,
    noise and flips of step k come from ``(seed, k)``; the initial weights from ``seed``.
    Returns (the network in eval mode, a record: steps, wall time, images/s, last losses).
    """
    check_choice(loss, Norm, "loss")
    sched = schedule()
    x_all = to_student(pixels(images))  # (N, 1, 32, 32)
    with seeded_init(seed):
        net = StudentUNet(config)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    batcher = Batcher(len(x_all), batch_size, seed, stream="seed-epoch")

    def step_loss(k: int) -> Tensor:
        g = generator(seed, "seed-step", k)
        x0 = x_all[batcher.indices(k)]
        if flips:
            x0 = torch.where(torch.rand(len(x0), 1, 1, 1, generator=g) < 0.5, x0.flip(-1), x0)
        s = torch.randint(0, T, (len(x0),), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        return student_loss(net, x0, s, noise, sched, norm=loss)

    k, losses, wall = run_steps(net, step_loss, opt, steps=steps, minutes=minutes)
    record = {
        "steps": k,
        "batch_size": batch_size,
        "wall_time_s": round(wall, 1),
        "images_per_s": round(k * batch_size / wall, 1),
        "flips": flips,
        "loss": loss,
        "lr": lr,
        "seed": seed,
        "train_digits": len(x_all),
        "final_loss": round(sum(losses[-50:]) / max(1, len(losses[-50:])), 5),
    }
    return net.eval(), record


@dataclass(frozen=True)
class StepCNNConfig(Config):
    """The student's noise-level CNN: three conv layers with max-pooling, three hidden linear layers."""

    channels: tuple[int, int, int] = (36, 72, 144)
    hidden: tuple[int, int, int] = (1024, 512, 256)
    classes: int = T


class StepCNN(nn.Module):
    """(B, 1, 32, 32) -> (B, 300) logits over the step s (3x3 convs, ReLU, 2x2 max-pooling)."""

    def __init__(self, config: StepCNNConfig = StepCNNConfig()) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        c_in = 1
        for c in config.channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c
        layers.append(nn.Flatten())
        width = c_in * (SIZE // 2 ** len(config.channels)) ** 2  # 144 x 4 x 4
        for h in config.hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, config.classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 1, 32, 32) -> (B, 300) logits over the step."""
        return self.net(x)


def train_step_cnn(
    images: Tensor,
    *,
    noisy_input: bool,
    steps: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
) -> tuple[StepCNN, dict]:
    """Train the student's 300-way step classifier on uint8 (N, 28, 28) digits.

    Each batch draws s uniform on 0 .. 299 and x_s by the forward process. ``noisy_input=False``
    reproduces the student's code, which fed the network the *clean* image (so it cannot beat
    chance, 1/300); ``True`` feeds x_s, as intended. Cross-entropy, Adam at ``lr``.
    """
    sched = schedule()
    x_all = to_student(pixels(images))  # (N, 1, 32, 32)
    with seeded_init(seed):
        net = StepCNN()
    opt = torch.optim.Adam(net.parameters(), lr=lr)

    def step_loss(k: int) -> Tensor:
        g = generator(seed, "step-cnn", k)
        x0 = x_all[torch.randint(0, len(x_all), (batch_size,), generator=g)]
        s = torch.randint(0, T, (batch_size,), generator=g)
        ab = sched.alpha_bar[s + 1].float()[:, None, None, None]
        x_s = ab.sqrt() * x0 + (1 - ab).sqrt() * torch.randn(x0.shape, generator=g)
        return F.cross_entropy(net(x_s if noisy_input else x0), s)

    _, _, wall = run_steps(net, step_loss, opt, steps=steps)
    return net, {"steps": steps, "batch_size": batch_size, "wall_time_s": round(wall, 1), "lr": lr}


def step_sigma(s: Tensor) -> Tensor:
    """The pixel-unit sigma that step s of the student's schedule is equivalent to:
    x_s / sqrt(ab_s) = x0 + sqrt((1 - ab_s) / ab_s) eps in model units, half that in pixels. (B,) float64."""
    ab = schedule().alpha_bar[s.long() + 1]
    return ((1 - ab) / ab).sqrt() / 2


def procedure_sigmas() -> Tensor:
    """The pixel sigma of each step the student's denoising procedure draws from (uniformly, so
    each equally likely): steps ``PROCEDURE_STEPS`` (both included), (250,) float64, increasing.

    >>> s = procedure_sigmas()
    >>> len(s), round(float(s[0]), 4), round(float((s > 1.0).double().mean()), 3)
    (250, 0.1535, 0.328)
    """
    lo, hi = PROCEDURE_STEPS
    return step_sigma(torch.arange(lo, hi + 1))


def equivalent_step(sigma: float) -> float:
    """The student's step s (continuous) whose noise level is ``sigma`` (pixel units): the s with
    sqrt((1 - ab_s) / ab_s) = 2 sigma, tinyddpm's matched t* on this schedule, minus 1."""
    return float(schedule().t_from_sigma(torch.tensor(2 * sigma, dtype=torch.float64))) - 1


def by_eye_step(sigma: float) -> int:
    """The step whose noise std sqrt(1 - ab_s) is 2 sigma (model units): the step whose x_s looks
    as noisy as the image, ignoring that x_s's signal is scaled by sqrt(ab_s). 299 at most."""
    ab = schedule().alpha_bar[1:]
    return int(torch.argmin(((1 - ab).sqrt() - 2 * sigma).abs()))


def eps_adapter(net: nn.Module):
    """The student's network as a tinyddpm eps model eps(x_t, t, y=None): schedule index t = s + 1
    (continuous t allowed: the sinusoidal embedding takes any real step)."""

    def eps(x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        return net(x, t.to(x.dtype) - 1)

    return eps


@torch.no_grad()
def matched_posterior_mean(net: nn.Module, y: Tensor, sigma: float) -> Tensor:
    """tinyddpm's one step with the student's network: x_{t*} = sqrt(ab_{t*}) y at the matched t*,
    x0 = (x_{t*} - sqrt(1 - ab_{t*}) eps) / sqrt(ab_{t*}) (Eq. 15), clamped to [-1, 1].
    ``y``: (N, 1, 32, 32) model units, y = x0 + 2 sigma n."""
    sched = schedule()
    t = sched.t_from_sigma(torch.tensor(2 * sigma, dtype=torch.float64))
    ab = float(sched.alpha_bar_at(t))
    x_t = math.sqrt(ab) * y
    eps = net(x_t, torch.full((len(y),), float(t) - 1))
    return ((x_t - math.sqrt(1 - ab) * eps) / math.sqrt(ab)).clamp(-1, 1)
