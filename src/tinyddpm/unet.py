"""A small U-Net noise predictor eps_theta(x_t, t, y) for 1x28x28 digits.

The architecture follows the DDPM paper's U-Net (Ho et al. 2020, Appendix B; itself after
PixelCNN++): residual blocks with group norm and a sinusoidal time embedding (Vaswani et al.
2017) added inside each block, self-attention at the lowest resolution. An optional class label
is embedded and added to the time embedding; label ``num_classes`` is a learned *null* class, so
one network serves unconditional use and classifier-free guidance (Ho & Salimans 2022).

>>> import torch
>>> net = UNet(UNetConfig())
>>> net(torch.zeros(2, 1, 28, 28), torch.tensor([10.0, 500.0])).shape
torch.Size([2, 1, 28, 28])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import Config


@dataclass(frozen=True)
class UNetConfig(Config):
    """Hyper-parameters of :class:`UNet` (all JSON-serialisable, stored in checkpoints).

    >>> import tinyddpm
    >>> cfg = tinyddpm.UNetConfig()
    >>> cfg.num_classes, tinyddpm.UNetConfig.from_dict(cfg.to_dict()) == cfg
    (10, True)
    """

    in_channels: int = 1
    out_channels: int = 1
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)  # 28x28, 14x14, 7x7
    num_res_blocks: int = 2
    attention_at_lowest: bool = True
    groups: int = 8
    dropout: float = 0.0
    num_classes: int | None = 10  # None: unconditional only; else labels 0..n-1, n = null
    time_scale: float = 1.0  # t is multiplied by this before the sinusoidal embedding


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding of continuous t (Vaswani et al. 2017, Sec. 3.5): (N,) -> (N, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]  # (N, half)
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)  # (N, dim)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-Conv twice, with the (time + class) embedding added in between."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, c_out, H, W)
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return h + self.skip(x)


class Attention(nn.Module):
    """Single-head self-attention over the H*W positions, with a residual connection."""

    def __init__(self, c: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, c)
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.out = nn.Conv2d(c, c, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, h * w).unbind(1)  # 3 x (B, C, HW)
        a = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        )  # (B, HW, C)
        return x + self.out(a.transpose(1, 2).reshape(b, c, h, w))


class UNet(nn.Module):
    """eps_theta(x_t, t, y): predicts the noise in x_t. ``t`` is a float tensor of shape (N,).

    ``y`` is an optional long tensor (N,) of labels in 0..num_classes - 1; ``None``, a negative
    label or the value ``num_classes`` means "no label" (the null class of classifier-free
    guidance).

    >>> import torch, tinyddpm
    >>> net = tinyddpm.UNet(tinyddpm.UNetConfig())
    >>> x_t, t = torch.zeros(2, 1, 28, 28), torch.tensor([10.0, 500.5])
    >>> net(x_t, t, torch.tensor([3, 10])).shape            # label 10: the null class
    torch.Size([2, 1, 28, 28])
    """

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        c0, g = config.base_channels, config.groups
        emb_dim = 4 * c0
        self.time_mlp = nn.Sequential(nn.Linear(c0, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_emb = nn.Embedding(config.num_classes + 1, emb_dim) if config.num_classes else None
        self.conv_in = nn.Conv2d(config.in_channels, c0, 3, padding=1)

        chans = [c0 * m for m in config.channel_mults]
        self.down = nn.ModuleList()
        skips, c = [c0], c0
        for level, ch in enumerate(chans):
            blocks = nn.ModuleList()
            for _ in range(config.num_res_blocks):
                blocks.append(ResBlock(c, ch, emb_dim, g, config.dropout))
                c = ch
                skips.append(c)
            down = nn.Conv2d(c, c, 3, stride=2, padding=1) if level < len(chans) - 1 else None
            if down is not None:
                skips.append(c)
            self.down.append(nn.ModuleDict({"blocks": blocks, **({"down": down} if down else {})}))

        self.mid1 = ResBlock(c, c, emb_dim, g, config.dropout)
        self.mid_attn = Attention(c, g) if config.attention_at_lowest else nn.Identity()
        self.mid2 = ResBlock(c, c, emb_dim, g, config.dropout)

        self.up = nn.ModuleList()
        for level, ch in reversed(list(enumerate(chans))):
            blocks = nn.ModuleList()
            for _ in range(config.num_res_blocks + 1):
                blocks.append(ResBlock(c + skips.pop(), ch, emb_dim, g, config.dropout))
                c = ch
            up = nn.Conv2d(c, c, 3, padding=1) if level > 0 else None
            self.up.append(nn.ModuleDict({"blocks": blocks, **({"up": up} if up else {})}))

        self.norm_out = nn.GroupNorm(g, c)
        self.conv_out = nn.Conv2d(c, config.out_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        n = x.shape[0]
        t = torch.as_tensor(t, device=x.device, dtype=torch.float32).reshape(-1).expand(n)
        emb = self.time_mlp(
            timestep_embedding(t * self.config.time_scale, self.config.base_channels)
        )  # (B, 4c0)
        if self.class_emb is not None:
            if y is None:
                y = torch.full((n,), self.config.num_classes, dtype=torch.long, device=x.device)
            y = torch.as_tensor(y, device=x.device).long().reshape(-1).expand(n)
            y = torch.where(y < 0, self.config.num_classes, y)
            emb = emb + self.class_emb(y)
        elif y is not None:
            raise ValueError("this model has no class conditioning (num_classes is None)")

        h = self.conv_in(x)  # (B, c0, 28, 28)
        hs = [h]
        for level in self.down:
            for block in level["blocks"]:
                h = block(h, emb)
                hs.append(h)
            if "down" in level:
                h = level["down"](h)  # (B, C, H/2, W/2): 28 -> 14 -> 7
                hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)  # (B, C, 7, 7)
        for level in self.up:
            for block in level["blocks"]:
                h = block(torch.cat([h, hs.pop()], dim=1), emb)
            if "up" in level:
                h = level["up"](F.interpolate(h, scale_factor=2, mode="nearest"))  # 7 -> 14 -> 28
        return self.conv_out(F.silu(self.norm_out(h)))  # (B, out_channels, 28, 28)


def num_parameters(model: nn.Module) -> int:
    """The number of parameters (frozen ones too: a shipped model is loaded frozen)."""
    return sum(p.numel() for p in model.parameters())


class LayerRow(NamedTuple):
    """One row of :func:`summary`: a block of the U-Net as it ran on a probe input."""

    name: str  # module path, e.g. "down.1.blocks.0"
    kind: str  # class name, e.g. "ResBlock"
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    parameters: int


@torch.no_grad()
def summary(model: UNet, *, batch: int = 1, image_size: int = 28) -> list[LayerRow]:
    """The U-Net's blocks in the order they run on one probe input, with shapes and parameters.

    A zero image at t = 0 is passed through ``model`` with forward hooks on the top-level
    modules (time MLP, class embedding, input/output convolutions, middle blocks) and, inside
    the down and up paths, on each residual block and each resampling convolution. The
    parameter counts of the rows add up to :func:`num_parameters` of the model. The input shape
    of an up-path block shows the skip connection: its channels are the path's plus the skip's.

    >>> rows = summary(UNet(UNetConfig()))
    >>> rows[-1].output_shape
    (1, 1, 28, 28)
    """
    picked: list[tuple[str, nn.Module]] = []
    for name, module in model.named_children():
        if isinstance(module, nn.ModuleList):  # the down and up paths: their blocks and resamplers
            for sub, m in module.named_modules():
                if isinstance(m, (ResBlock, Attention)) or sub.endswith((".down", ".up")):
                    picked.append((f"{name}.{sub}", m))
        else:
            picked.append((name, module))
    rows: list[LayerRow] = []

    def hook(name: str):  # noqa: ANN202
        def record(module: nn.Module, args: tuple, output: Tensor) -> None:
            n_params = sum(p.numel() for p in module.parameters())
            rows.append(
                LayerRow(name, type(module).__name__, tuple(args[0].shape), tuple(output.shape), n_params)
            )

        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in picked]
    try:
        c = model.config
        model(torch.zeros(batch, c.in_channels, image_size, image_size), torch.zeros(batch))
    finally:
        for h in handles:
            h.remove()
    return rows
