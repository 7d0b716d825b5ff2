"""SwinIR with DT-BFR's 8x PixelUnshuffle front end and nearest+conv x8 tail (the DT-BFR restorer).

Written from the architecture of ``models/swinir.py::SwinIR`` in https://github.com/SamsungLabs/DT-BFR at commit
ec3d4043e4d0c610fe7e345448cc1298e132b5dd (itself SwinIR, Liang et al., ICCVW 2021) and the facts in
../shared/fixtures/dtbfr/README.md / ``swinir_tiny.json`` (not copied). Module and buffer names equal the official
state-dict keys, so ``swinir_gan_v1.pth`` loads strictly:

* ``conv_first`` = Sequential(PixelUnshuffle(sf), Conv3x3(3*sf^2 -> embed_dim)) (keys ``conv_first.1.*``);
* ``patch_embed.norm``; ``layers.i.residual_group.blocks.j.{norm1, attn.{relative_position_bias_table,
  relative_position_index, qkv, proj}, norm2, mlp.{fc1, fc2}}``; odd (shifted) blocks also carry the persistent
  buffer ``attn_mask`` (0 / -100) built for the ``img_size`` token grid; ``layers.i.conv``; ``norm``;
  ``conv_after_body``; ``conv_before_upsample.0``; ``conv_up1..3``; ``conv_hr``; ``conv_last``.

Forward (input RGB in [0, 1], NCHW float): reflect-pad the *full-resolution* image to a multiple of
``window_size``; subtract the plain (non-state) mean (0.4488, 0.4371, 0.4040) times ``img_range``;
``f = conv_first(x)``; ``body = conv_after_body(norm(RSTBs(LN(f)))) + f``;
``h = lrelu_0.01(conv_before_upsample(body))``; per x2: ``h = lrelu_0.2(conv_upK(nearest_x2(h)))``;
``y = conv_last(lrelu_0.2(conv_hr(h))) / img_range + mean``. With the unshuffle front end the output has the
input's size (the official crop to ``H*sf`` is then a no-op). No clamp inside.

Stochastic depth (``drop_path_rate``, official default 0.1, active in training) draws its per-sample masks from
``SwinIR.drop_path_generator`` when set (bfrbench never uses global RNG state), else from torch's default generator.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from bfrbench.errors import ConfigError

__all__ = [
    "RGB_MEAN",
    "SwinIR",
    "SwinIRConfig",
    "relative_position_index",
    "swinir_config",
    "window_mask",
]

RGB_MEAN: tuple[float, float, float] = (0.4488, 0.4371, 0.4040)


@dataclass(frozen=True)
class SwinIRConfig:
    """Constructor arguments of the official ``SwinIR`` (names as in ``configs/main/swinir_gan.yaml``).

    Defaults are the DT-BFR full-size model (``swinir_gan_v1.pth``): 8 RSTBs of 6 blocks, 180 channels,
    6 heads, window 8, 64x64 tokens (512x512 images unshuffled by 8), nearest+conv x8 tail.
    """

    img_size: int = 64
    patch_size: int = 1
    in_chans: int = 3
    embed_dim: int = 180
    depths: tuple[int, ...] = (6, 6, 6, 6, 6, 6, 6, 6)
    num_heads: tuple[int, ...] = (6, 6, 6, 6, 6, 6, 6, 6)
    window_size: int = 8
    mlp_ratio: float = 2.0
    qkv_bias: bool = True
    qk_scale: float | None = None
    drop_path_rate: float = 0.1
    sf: int = 8
    img_range: float = 1.0
    upsampler: Literal["nearest+conv"] = "nearest+conv"
    resi_connection: Literal["1conv", "3conv"] = "1conv"
    unshuffle: bool = True
    unshuffle_scale: int | None = 8
    num_feat: int = 64
    source: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))
        object.__setattr__(self, "num_heads", tuple(int(h) for h in self.num_heads))
        if len(self.depths) != len(self.num_heads) or not self.depths:
            raise ConfigError(f"SwinIR depths {self.depths} and num_heads {self.num_heads} must be non-empty and "
                              "of equal length")
        if any(self.embed_dim % h for h in self.num_heads):
            raise ConfigError(f"SwinIR embed_dim {self.embed_dim} must be divisible by every num_heads "
                              f"{self.num_heads}")
        if self.upsampler != "nearest+conv" or self.sf not in (2, 4, 8):
            raise ConfigError(f"only upsampler='nearest+conv' with sf in (2, 4, 8) is implemented (DT-BFR's "
                              f"configuration); got upsampler={self.upsampler!r}, sf={self.sf}")
        if self.resi_connection not in ("1conv", "3conv"):
            raise ConfigError(f"resi_connection must be '1conv' or '3conv', got {self.resi_connection!r}")
        if self.patch_size != 1:
            raise ConfigError(f"patch_size must be 1 (SwinIR's patch embedding is a reshape), got {self.patch_size}")
        if self.unshuffle and not self.unshuffle_scale:
            raise ConfigError("unshuffle=True needs unshuffle_scale (DT-BFR uses 8)")
        if not 0.0 <= self.drop_path_rate < 1.0:
            raise ConfigError(f"drop_path_rate must be in [0, 1), got {self.drop_path_rate}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("source")
        d["depths"] = list(self.depths)
        d["num_heads"] = list(self.num_heads)
        return d

    def to_json(self) -> str:
        return json.dumps({"class": "SwinIR", **self.to_dict()}, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SwinIRConfig:
        """Build from official constructor kwargs (``swinir_tiny.json:constructor_kwargs`` or yaml ``params``).

        Unknown keys raise; ``class`` and ``source`` are ignored/kept as provenance.
        """
        known = {f for f in cls.__dataclass_fields__ if f != "source"}
        d = dict(d)
        d.pop("class", None)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown SwinIR config keys {unknown}; accepted: {sorted(known)}")
        return cls(**d)


def swinir_config(preset: Literal["gan-v1", "tiny"] = "gan-v1", **overrides: Any) -> SwinIRConfig:
    """A named configuration with optional field overrides.

    ``gan-v1``: the official ``configs/main/swinir_gan.yaml`` (``swinir_gan_v1.pth``, 15,792,587 parameters).
    ``tiny``: the fixture's ``swinir_tiny.json`` model (embed 12, depths (2, 2), heads (2, 3), window 4,
    8x8 tokens = 64x64 images) for tests and CPU demos.
    """
    if preset == "gan-v1":
        base: dict[str, Any] = {}
    elif preset == "tiny":
        base = {"img_size": 8, "embed_dim": 12, "depths": (2, 2), "num_heads": (2, 3), "window_size": 4}
    else:
        raise ConfigError(f"unknown SwinIR preset {preset!r}; accepted: 'gan-v1', 'tiny'")
    base.update(overrides)
    return SwinIRConfig(**base)


# -- window helpers -----------------------------------------------------------------------------------------
def _partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    """(B, H, W, C) -> (B * H/ws * W/ws, ws*ws, C), windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def _merge(windows: torch.Tensor, ws: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`_partition`: (B * nW, ws*ws, C) -> (B, H, W, C)."""
    c = windows.shape[-1]
    b = windows.shape[0] // ((h // ws) * (w // ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def relative_position_index(ws: int) -> torch.Tensor:
    """(ws*ws, ws*ws) int64: index into the (2ws-1)^2 bias table for token pair (i, j) of one window.

    ``index = (dy + ws - 1) * (2ws - 1) + (dx + ws - 1)`` with ``(dy, dx) = pos_i - pos_j``.
    """
    ys, xs = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")
    ys, xs = ys.reshape(-1), xs.reshape(-1)
    dy = ys[:, None] - ys[None, :] + ws - 1
    dx = xs[:, None] - xs[None, :] + ws - 1
    return (dy * (2 * ws - 1) + dx).to(torch.int64)


def window_mask(h: int, w: int, ws: int, shift: int) -> torch.Tensor:
    """Shifted-window attention mask (nW, ws*ws, ws*ws) float32: 0 within a region, -100 across regions.

    The token grid (h, w) is split into 3x3 regions by the cuts at ``-ws`` and ``-shift`` on each axis (after the
    cyclic shift by ``-shift``); tokens of one window attend freely only inside their own region.
    """
    def labels(n: int) -> torch.Tensor:
        lab = torch.zeros(n)
        lab[n - ws:n - shift] = 1
        lab[n - shift:] = 2
        return lab

    region = labels(h)[:, None] * 3 + labels(w)[None, :]
    win = _partition(region[None, :, :, None], ws).squeeze(-1)  # (nW, ws*ws)
    diff = win[:, None, :] - win[:, :, None]
    return torch.where(diff != 0, torch.tensor(-100.0), torch.tensor(0.0)).to(torch.float32)


class DropPath(nn.Module):
    """Per-sample stochastic depth (drop the residual branch with probability ``p``, rescale by 1/(1-p))."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        u = torch.rand(shape, generator=self.generator, device=x.device, dtype=torch.float32)
        mask = (u < keep).to(x.dtype)
        return x * mask / keep


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class WindowAttention(nn.Module):
    """Multi-head self-attention inside ws x ws windows with a learned relative-position bias."""

    relative_position_index: torch.Tensor

    def __init__(self, dim: int, ws: int, heads: int, qkv_bias: bool, qk_scale: float | None) -> None:
        super().__init__()
        self.ws, self.heads = ws, heads
        self.scale = qk_scale or (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, heads))
        self.register_buffer("relative_position_index", relative_position_index(ws))
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x: (B*nW, N, C); mask: (nW, N, N) or None. Returns (B*nW, N, C)."""
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = (attn.view(bw // nw, nw, self.heads, n, n) + mask[None, :, None]).view(-1, self.heads, n, n)
        attn = attn.softmax(dim=-1).to(v.dtype)  # a float32 mask promotes attn; v is in the model's dtype
        return self.proj((attn @ v).transpose(1, 2).reshape(bw, n, c))


class SwinBlock(nn.Module):
    """(Shifted-)window transformer block; ``attn_mask`` is a persistent buffer only when shifted."""

    attn_mask: torch.Tensor | None

    def __init__(self, dim: int, res: int, heads: int, ws: int, shift: int, cfg: SwinIRConfig, dp: float) -> None:
        super().__init__()
        if res <= ws:  # the official rule: windows never exceed the token grid; no shift then
            ws, shift = res, 0
        self.res, self.ws, self.shift = res, ws, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, ws, heads, cfg.qkv_bias, cfg.qk_scale)
        self.drop_path = DropPath(dp) if dp > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * cfg.mlp_ratio))
        self.register_buffer("attn_mask", window_mask(res, res, ws, shift) if shift > 0 else None)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """x: (B, H*W, C) tokens of an (H, W) grid."""
        h, w = size
        b, _, c = x.shape
        y = self.norm1(x).view(b, h, w, c)
        if self.shift:
            y = torch.roll(y, shifts=(-self.shift, -self.shift), dims=(1, 2))
        mask = None
        if self.shift:
            mask = self.attn_mask if (h, w) == (self.res, self.res) else \
                window_mask(h, w, self.ws, self.shift).to(x.device)
        y = _merge(self.attn(_partition(y, self.ws), mask), self.ws, h, w)
        if self.shift:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + self.drop_path(y.reshape(b, h * w, c))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class BasicLayer(nn.Module):
    def __init__(self, blocks: list[SwinBlock]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x, size)
        return x


def _resi_conv(dim: int, kind: str) -> nn.Module:
    if kind == "1conv":
        return nn.Conv2d(dim, dim, 3, 1, 1)
    return nn.Sequential(nn.Conv2d(dim, dim // 4, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
                         nn.Conv2d(dim // 4, dim // 4, 1, 1, 0), nn.LeakyReLU(0.2, inplace=True),
                         nn.Conv2d(dim // 4, dim, 3, 1, 1))


def _to_image(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, H*W, C) tokens -> (B, C, H, W)."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], size[0], size[1])


class RSTB(nn.Module):
    """Residual Swin Transformer block: tokens -> blocks -> image -> conv -> tokens, plus the input."""

    def __init__(self, layer: BasicLayer, dim: int, kind: str) -> None:
        super().__init__()
        self.residual_group = layer
        self.conv = _resi_conv(dim, kind)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        y = self.conv(_to_image(self.residual_group(x, size), size))
        return y.flatten(2).transpose(1, 2) + x


class _PatchEmbed(nn.Module):
    """Flatten (B, C, H, W) to tokens (B, H*W, C) and LayerNorm them (key ``patch_embed.norm``)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.flatten(2).transpose(1, 2))


class SwinIR(nn.Module):
    """The DT-BFR restorer. ``forward(x)``: (B, 3, H, W) float in [0, 1] -> (B, 3, H', W') unclamped.

    With the official config (unshuffle 8, sf 8) ``H' = H``, ``W' = W``; H and W must be multiples of
    ``sf * window_size`` after the official reflect padding to a multiple of ``window_size``.
    """

    mean: torch.Tensor

    def __init__(self, cfg: SwinIRConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or SwinIRConfig()
        self.cfg = cfg
        d, nf = cfg.embed_dim, cfg.num_feat
        self.register_buffer("mean", torch.tensor(RGB_MEAN if cfg.in_chans == 3 else (0.0,) * cfg.in_chans)
                             .view(1, -1, 1, 1), persistent=False)
        if cfg.unshuffle:
            # official: PixelUnshuffle(sf) (not unshuffle_scale) with conv in_channels = in_chans * unshuffle_scale^2
            n_in = cfg.in_chans * int(cfg.unshuffle_scale or 0) ** 2
            self.conv_first: nn.Module = nn.Sequential(nn.PixelUnshuffle(cfg.sf), nn.Conv2d(n_in, d, 3, 1, 1))
        else:
            self.conv_first = nn.Conv2d(cfg.in_chans, d, 3, 1, 1)
        self.patch_embed = _PatchEmbed(d)
        dpr = torch.linspace(0, cfg.drop_path_rate, sum(cfg.depths), device="cpu").tolist()  # official float32 rule
        layers, k = [], 0
        for depth, heads in zip(cfg.depths, cfg.num_heads):
            blocks = [SwinBlock(d, cfg.img_size, heads, cfg.window_size, 0 if j % 2 == 0 else cfg.window_size // 2,
                                cfg, dpr[k + j]) for j in range(depth)]
            k += depth
            layers.append(RSTB(BasicLayer(blocks), d, cfg.resi_connection))
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(d)
        self.conv_after_body = _resi_conv(d, cfg.resi_connection)
        self.conv_before_upsample = nn.Sequential(nn.Conv2d(d, nf, 3, 1, 1), nn.LeakyReLU(inplace=True))
        self.n_up = {2: 1, 4: 2, 8: 3}[cfg.sf]
        self.conv_up1 = nn.Conv2d(nf, nf, 3, 1, 1)
        if self.n_up >= 2:
            self.conv_up2 = nn.Conv2d(nf, nf, 3, 1, 1)
        if self.n_up >= 3:
            self.conv_up3 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, cfg.in_chans, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        """Official init: trunc-normal(0.02) Linear weights, zero Linear biases, LayerNorm (1, 0)."""
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def set_drop_path_generator(self, generator: torch.Generator | None) -> None:
        """Draw every stochastic-depth mask from ``generator`` (training; inactive in eval mode)."""
        for m in self.modules():
            if isinstance(m, DropPath):
                m.generator = generator

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """Official ``check_image_size``: reflect-pad bottom/right of the full-res image to a multiple of ws."""
        ws = self.cfg.window_size
        h, w = x.shape[-2:]
        ph, pw = (ws - h % ws) % ws, (ws - w % ws) % ws
        return F.pad(x, (0, pw, 0, ph), mode="reflect") if (ph or pw) else x

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Padded, mean-subtracted image -> shallow features ``conv_first`` (B, embed_dim, h, w)."""
        if self.cfg.unshuffle and (x.shape[-2] % self.cfg.sf or x.shape[-1] % self.cfg.sf):
            raise ConfigError(f"SwinIR: image size {tuple(x.shape[-2:])} cannot be unshuffled by {self.cfg.sf}; "
                              f"the image side must be a multiple of {self.cfg.sf * self.cfg.window_size}")
        return self.conv_first(x)

    def body(self, f: torch.Tensor) -> torch.Tensor:
        """Shallow features -> ``conv_after_body(forward_features(f)) + f`` (same shape)."""
        size = (f.shape[2], f.shape[3])
        ws = self.cfg.window_size
        if any(s % min(ws, self.cfg.img_size) for s in size):
            raise ConfigError(f"SwinIR: token grid {size} is not a multiple of window_size {ws}; with unshuffle "
                              f"{self.cfg.sf} the image side must be a multiple of {self.cfg.sf * ws}")
        t = self.patch_embed(f)
        for layer in self.layers:
            t = layer(t, size)
        return self.conv_after_body(_to_image(self.norm(t), size)) + f

    def tail(self, h: torch.Tensor) -> torch.Tensor:
        """Body features -> image residual (before adding the mean): nearest x2 + conv, ``n_up`` times."""
        h = self.conv_before_upsample(h)
        for conv in (self.conv_up1, getattr(self, "conv_up2", None), getattr(self, "conv_up3", None))[:self.n_up]:
            assert conv is not None
            h = self.lrelu(conv(F.interpolate(h, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(h)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) in [0, 1] (float32/16/bf16) -> restored (B, C, H*s, W*s), s = sf / unshuffle."""
        h, w = x.shape[-2:]
        if x.ndim != 4 or x.shape[1] != self.cfg.in_chans:
            raise ConfigError(f"SwinIR expects (B, {self.cfg.in_chans}, H, W), got {tuple(x.shape)}")
        mean = self.mean.to(x.dtype)
        x = (self.pad(x) - mean) * self.cfg.img_range
        y = self.tail(self.body(self.head(x))) / self.cfg.img_range + mean
        scale = self.cfg.sf // (self.cfg.sf if self.cfg.unshuffle else 1)
        return y[:, :, :h * scale, :w * scale]
