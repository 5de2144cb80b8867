"""A byte-level decoder-only transformer in the spirit of nanoGPT.

Everything the sparsity stages vary is a field of `ModelConfig`, not a subclass:
the FFN activation (`gelu`, `relu`, `shifted_relu`, `fatrelu`, `xsigmoid`), a ReLU after the
layer norms that feed QKV and the FFN (relufication stage 2), and per-weight masks
(magnitude pruning) that training keeps at exactly zero. Activations are read with
`capture`, a context manager of forward hooks, so no stage copies or wraps the model.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
from torch.nn import functional as F

from actsparse.core import anatomy
from actsparse.core.anatomy import CAPTURE_POINTS  # noqa: F401  (the points' one definition)
from actsparse.core.masks import MaskedWeights

ACTIVATIONS = ("gelu", "relu", "shifted_relu", "fatrelu", "xsigmoid")


@dataclass
class ModelConfig:
    vocab_size: int = 256  # bytes
    block_size: int = 256  # context length
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    ffn_mult: int = 4  # FFN width = ffn_mult * n_embd
    activation: str = "gelu"
    act_shift: float = 0.0  # b in shifted_relu: max(x - b, 0); T in fatrelu: x * [x > T]
    act_beta: float = 1.0  # beta in xsigmoid: x * sigmoid(beta x); inf means ReLU
    norm_relu: bool = False  # stage-2 relufication: ReLU after the norms feeding QKV and FFN up
    bias: bool = True
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r} is not one of {ACTIVATIONS}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd {self.n_embd} is not divisible by n_head {self.n_head}")

    @property
    def ffn_width(self) -> int:
        return self.ffn_mult * self.n_embd

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**d)


class Activation(nn.Module):
    """The FFN nonlinearity; its forward hooks see the pre- and post-activation values."""

    def __init__(self, kind: str, shift: float = 0.0, beta: float = 1.0) -> None:
        super().__init__()
        self.kind, self.shift, self.beta = kind, shift, beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "gelu":
            return F.gelu(x)
        if self.kind == "relu" or (self.kind == "xsigmoid" and math.isinf(self.beta)):
            return F.relu(x)
        if self.kind == "shifted_relu":
            return F.relu(x - self.shift)
        if self.kind == "fatrelu":  # ProSparse's FATReLU: ReLU that also zeroes 0 < x <= T
            return torch.where(x > self.shift, x, torch.zeros_like(x))
        return x * torch.sigmoid(self.beta * x)  # xsigmoid: beta=1 SiLU, beta~1.7 GELU

    def extra_repr(self) -> str:
        return f"kind={self.kind}, shift={self.shift}, beta={self.beta}"


class NormOut(nn.Module):
    """LayerNorm, optionally followed by ReLU (stage-2 relufication)."""

    def __init__(self, n_embd: int, bias: bool, relu: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(n_embd, bias=bias)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        return F.relu(x) if self.relu else x


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    """c_fc is the up projection, c_proj the down projection; `act` sits between them."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, cfg.ffn_width, bias=cfg.bias)
        self.act = Activation(cfg.activation, cfg.act_shift, cfg.act_beta)
        self.c_proj = nn.Linear(cfg.ffn_width, cfg.n_embd, bias=cfg.bias)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.c_proj(self.act(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln_1 = NormOut(cfg.n_embd, cfg.bias, cfg.norm_relu)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = NormOut(cfg.n_embd, cfg.bias, cfg.norm_relu)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class ByteGPT(MaskedWeights):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.h = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.wte.weight = self.lm_head.weight  # weight tying, as in GPT-2
        # Pruning masks: parameter name -> bool tensor, True = weight kept. Not buffers,
        # so a checkpoint of a dense model loads into a masked one and vice versa.
        self.masks: dict[str, torch.Tensor] = {}
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # scaled init of residual projections (GPT-2)
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits for every position; idx is [B, T] of byte values."""
        T = idx.shape[1]
        if T > self.cfg.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.cfg.block_size}")
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))

    def set_activation(self, kind: str, shift: float = 0.0, beta: float = 1.0) -> None:
        """Swap the FFN nonlinearity in place (hard swap, relufication)."""
        self.cfg = ModelConfig.from_dict(
            {**self.cfg.to_dict(), "activation": kind, "act_shift": shift, "act_beta": beta}
        )
        for block in self.h:
            block.mlp.act = Activation(kind, shift, beta)

    def set_norm_relu(self, on: bool = True) -> None:
        """Stage-2 relufication in place: ReLU after the norms that feed QKV and FFN up."""
        self.cfg = ModelConfig.from_dict({**self.cfg.to_dict(), "norm_relu": on})
        for block in self.h:
            block.ln_1.relu = block.ln_2.relu = on

    @property
    def blocks(self) -> list[Block]:
        return list(self.h)

    @property
    def context(self) -> int:
        """The training and evaluation window, in bytes."""
        return self.cfg.block_size

    def capture(
        self, points: Sequence[str] = ("ffn_post",), detach: bool = True
    ) -> contextlib.AbstractContextManager[dict[str, list[torch.Tensor]]]:
        """core.anatomy.capture on this model (what the training loop calls, for any model)."""
        return anatomy.capture(self, anatomy.BYTE, points, detach)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


# ---------------------------------------------------------------------------------------
# Reading activations: the capture points of core.anatomy (ffn_pre, ffn_post, qkv_in, up_in,
# and up_out / down_in, which in this plain MLP are ffn_pre / ffn_post), read the same way
# as in a pretrained model.


@contextmanager
def capture(
    model: ByteGPT, points: Sequence[str] = ("ffn_post",), detach: bool = True
) -> Iterator[dict[str, list[torch.Tensor]]]:
    """core.anatomy.capture for the byte model."""
    with anatomy.capture(model, anatomy.BYTE, points, detach) as store:
        yield store
