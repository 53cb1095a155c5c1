"""Small models for the course: an MLP, a small CNN (1-D or 2-D), a residual MLP and a tiny character LM.

The image models take ``p`` (dropout probability) so every chapter can switch dropout on with one argument.
TinyLM: Vaswani et al., "Attention Is All You Need" (NeurIPS 2017), pre-norm layout as in GPT-2 (Radford et al.,
2019); weight tying from Press & Wolf, "Using the Output Embedding to Improve Language Models" (EACL 2017).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Dropout, DropPath
from .validate import check_int, check_probability


class MLP(nn.Module):
    """Flatten -> depth x [Linear, ReLU, Dropout(p)] -> Linear.

    Args:
        in_features: product of the input shape (e.g. 64 for 8x8 digits); input may be flat or image-shaped.
        num_classes: number of output logits.
        width: hidden units per layer.
        depth: number of hidden layers (0 gives logistic regression).
        p: dropout probability after each hidden ReLU (0 = no dropout).
    """

    def __init__(self, in_features: int, num_classes: int, width: int = 256, depth: int = 2, p: float = 0.0):
        super().__init__()
        check_int("in_features", in_features)
        check_int("num_classes", num_classes)
        check_int("width", width)
        check_int("depth", depth, low=0)
        check_probability("p", p)
        layers: list[nn.Module] = [nn.Flatten()]
        d = in_features
        for _ in range(depth):
            layers += [nn.Linear(d, width), nn.ReLU(), Dropout(p)]
            d = width
        layers.append(nn.Linear(d, num_classes))
        self.net = nn.Sequential(*layers)
        self.in_features = in_features
        self.hparams = dict(in_features=in_features, num_classes=num_classes, width=width, depth=depth, p=p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *input_shape) -> (B, num_classes) logits."""
        return self.net(x)


class CNN(nn.Module):
    """Two conv blocks (conv, ReLU, max-pool), then a head: global average pool + dropout + linear, or (with
    ``hidden``) flatten + linear + ReLU + dropout + linear, the classic two-conv benchmark CNN.

    Works for 1-D signals (input_shape ``(L,)`` or ``(C, L)``, e.g. MNIST-1D) and images ``(C, H, W)``.

    Args:
        input_shape: the shape of one example, without the batch dimension.
        num_classes: number of logits.
        channels: channels of the first block (the second has twice as many).
        p: dropout probability before the last linear layer.
        hidden: None = global-average-pool head; an int = flatten the last feature map into a hidden layer
            of that width (more parameters, much higher accuracy on 28x28 images).
    """

    def __init__(self, input_shape: tuple[int, ...], num_classes: int, channels: int = 32, p: float = 0.0,
                 hidden: int | None = None):
        super().__init__()
        if len(input_shape) not in (1, 2, 3):
            raise ValueError(f"input_shape={input_shape!r}: use (L,), (C, L) or (C, H, W)")
        check_int("num_classes", num_classes)
        check_int("channels", channels)
        check_probability("p", p)
        self.input_shape = tuple(input_shape)
        if hidden is not None:
            check_int("hidden", hidden)
        self.hparams = dict(input_shape=list(input_shape), num_classes=num_classes, channels=channels, p=p,
                            hidden=hidden)
        two_d = len(input_shape) == 3
        conv, pool = (nn.Conv2d, nn.MaxPool2d) if two_d else (nn.Conv1d, nn.MaxPool1d)
        c_in = 1 if len(input_shape) == 1 else input_shape[0]
        c = channels
        self.features = nn.Sequential(
            conv(c_in, c, 3, padding=1), nn.ReLU(), pool(2),
            conv(c, 2 * c, 3, padding=1), nn.ReLU(), pool(2),
        )
        self.flatten = hidden is not None
        if self.flatten:
            spatial = [n // 4 for n in (input_shape[-2:] if two_d else input_shape[-1:])]  # two 2x pools
            if min(spatial) < 1:
                raise ValueError(f"input_shape={input_shape!r} is too small for two 2x pools and a flatten head")
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * c * math.prod(spatial), hidden), nn.ReLU(),
                                      Dropout(p), nn.Linear(hidden, num_classes))
        else:
            self.head = nn.Sequential(nn.Flatten(), Dropout(p), nn.Linear(2 * c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *input_shape) -> (B, num_classes) logits."""
        if len(self.input_shape) == 1:
            x = x.unsqueeze(1)  # (B, L) -> (B, 1, L)
        h = self.features(x)  # (B, 2c, H/4, W/4)
        if not self.flatten:
            h = h.mean(dim=tuple(range(2, h.ndim)))  # global average pool: (B, 2c)
        return self.head(h)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters (shared tensors counted once, as ``model.parameters()`` yields them)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class ResidualMLP(nn.Module):
    """Linear stem -> ``blocks`` x [x + DropPath(Linear(ReLU(Linear(LayerNorm(x)))))] -> LayerNorm -> Linear.

    Stochastic depth (Huang et al., ECCV 2016) with their linear decay rule: block l of L (1-based) drops its
    residual branch with probability ``drop_path * l / L`` in training mode.

    Args:
        in_features, num_classes: as ``MLP``.  width: residual stream width.  blocks: number of residual blocks.
        drop_path: drop probability of the last block, in [0, 1).
    """

    def __init__(self, in_features: int, num_classes: int, width: int = 128, blocks: int = 4, drop_path: float = 0.0):
        super().__init__()
        for name, v in (("in_features", in_features), ("num_classes", num_classes), ("width", width),
                        ("blocks", blocks)):
            check_int(name, v)
        check_probability("drop_path", drop_path)
        self.stem = nn.Sequential(nn.Flatten(), nn.Linear(in_features, width))
        self.branches = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
            for _ in range(blocks))
        self.drops = nn.ModuleList(DropPath(drop_path * (i + 1) / blocks) for i in range(blocks))
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, num_classes))
        self.hparams = dict(in_features=in_features, num_classes=num_classes, width=width, blocks=blocks,
                            drop_path=drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *input_shape) -> (B, num_classes) logits."""
        h = self.stem(x)  # (B, width)
        for branch, drop in zip(self.branches, self.drops):
            h = h + drop(branch(h))
        return self.head(h)


class Block(nn.Module):
    """Pre-norm transformer block: x + drop(attn(LN(x))), then x + drop(MLP(LN(x)))."""

    def __init__(self, d_model: int, n_heads: int, p_attn: float, p_resid: float, qk_norm: bool = False):
        super().__init__()
        self.n_heads, self.p_attn = n_heads, p_attn
        # qk-layernorm (Dehghani et al. 2023; Wortsman et al. 2023): LayerNorm on queries and keys per head
        self.q_norm = nn.LayerNorm(d_model // n_heads) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(d_model // n_heads) if qk_norm else nn.Identity()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))
        self.drop_resid = nn.Dropout(p_resid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=-1)  # 3 x (B, T, D)
        q, k, v = (t.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D/H)
        q, k = self.q_norm(q), self.k_norm(k)
        # attention dropout: zeroes attention probabilities (inside softmax(QK^T)V), only in training
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.p_attn if self.training else 0.0)
        x = x + self.drop_resid(self.proj(a.transpose(1, 2).reshape(B, T, D)))  # residual dropout
        return x + self.drop_resid(self.mlp(self.ln2(x)))


class TinyLM(nn.Module):
    """Decoder-only character LM with embedding, attention and residual dropout and optional weight tying.

    Args:
        vocab_size: number of characters V.  block_size: longest context T.
        d_model, n_layers, n_heads: width, depth, heads (d_model divisible by n_heads).
        p_embd: dropout on token + position embeddings.  p_attn: on attention probabilities.
        p_resid: on each block's output before it is added to the residual stream.
        tie_weights: share the token embedding (V, d) with the output projection (Press & Wolf 2017).
        qk_norm: LayerNorm on each head's queries and keys (qk-layernorm; Dehghani et al. 2023).
        p: one dropout rate for all three sites (sets p_embd, p_attn and p_resid), as MLP and CNN take ``p``.
    """

    def __init__(self, vocab_size: int, block_size: int = 64, *, d_model: int = 64, n_layers: int = 2,
                 n_heads: int = 4, p_embd: float = 0.0, p_attn: float = 0.0, p_resid: float = 0.0,
                 tie_weights: bool = False, qk_norm: bool = False, p: float | None = None):
        super().__init__()
        if p is not None:
            p_embd = p_attn = p_resid = check_probability("p", p)
        for name, rate in (("p_embd", p_embd), ("p_attn", p_attn), ("p_resid", p_resid)):
            check_probability(name, rate)
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(block_size, d_model)
        self.drop_embd = nn.Dropout(p_embd)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, p_attn, p_resid, qk_norm) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.hparams = dict(vocab_size=vocab_size, block_size=block_size, d_model=d_model, n_layers=n_layers,
                            n_heads=n_heads, p_embd=p_embd, p_attn=p_attn, p_resid=p_resid, tie_weights=tie_weights,
                            qk_norm=qk_norm,
                            p=p_embd if p_embd == p_attn == p_resid else [p_embd, p_attn, p_resid])
        self.apply(self._init)
        if tie_weights:
            self.head.weight = self.tok_emb.weight  # one (V, d) tensor used twice
        self.tied = tie_weights

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """X: (B, T) token ids, T <= block_size -> logits (B, T, V)."""
        B, T = X.shape
        if T > self.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size={self.block_size}")
        x = self.drop_embd(self.tok_emb(X) + self.pos_emb(torch.arange(T, device=X.device)))  # (B, T, d)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))  # (B, T, V)

    @torch.no_grad()
    def max_attention_logit(self, X: torch.Tensor) -> float:
        """Largest |q.k| / sqrt(d_head) over heads, layers and causal positions for inputs X (B, T), in eval mode."""
        T = X.shape[1]
        x = self.tok_emb(X) + self.pos_emb(torch.arange(T, device=X.device))
        causal = torch.ones(T, T, dtype=torch.bool, device=X.device).tril()
        top = 0.0
        for block in self.blocks:
            B, _, D = x.shape
            q, k, _ = block.qkv(block.ln1(x)).split(D, dim=-1)
            q, k = (t.view(B, T, block.n_heads, -1).transpose(1, 2) for t in (q, k))  # (B, H, T, d_head)
            q, k = block.q_norm(q), block.k_norm(k)
            logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, H, T, T)
            top = max(top, float(logits.abs().masked_fill(~causal, 0).max()))
            x = block(x)
        return top
