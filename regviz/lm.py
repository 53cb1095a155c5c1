"""A tiny decoder-only, character-level transformer LM and its training loop (the corpus is in ``regviz.text``).

Vaswani et al., "Attention Is All You Need" (NeurIPS 2017), pre-norm layout as in GPT-2 (Radford et al., 2019);
weight tying from Press & Wolf, "Using the Output Embedding to Improve Language Models" (EACL 2017).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .data import Dataset
from .history import History
from .layers import eval_mode
from .train import fit, loss_and_accuracy, predict
from .validate import check_choice, check_number, check_probability


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
    """

    def __init__(self, vocab_size: int, block_size: int = 64, *, d_model: int = 64, n_layers: int = 2,
                 n_heads: int = 4, p_embd: float = 0.0, p_attn: float = 0.0, p_resid: float = 0.0,
                 tie_weights: bool = False, qk_norm: bool = False):
        super().__init__()
        for name, p in (("p_embd", p_embd), ("p_attn", p_attn), ("p_resid", p_resid)):
            check_probability(name, p)
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
                            qk_norm=qk_norm)
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


def log_z_stats(logits: torch.Tensor, *, batch_size: int = 256) -> tuple[float, float]:
    """Mean and largest |log Z| (log Z = logsumexp over the last dimension) of stored logits (N, T, V); sums are
    taken ``batch_size`` blocks at a time."""
    total, top = 0.0, 0.0
    for i in range(0, len(logits), batch_size):
        log_z = torch.logsumexp(logits[i:i + batch_size].float(), -1)  # (B, T)
        total += float(log_z.sum())
        top = max(top, float(log_z.abs().max()))
    return total / logits[..., 0].numel(), top


def lm_metrics(model: nn.Module, data: Dataset, logits: dict[str, torch.Tensor]) -> dict[str, float]:
    """``fit``'s per-epoch extras for a language model, from the evaluation logits: validation mean log Z and
    max |log Z|, training mean log Z, and (for models with ``max_attention_logit``) the largest attention logit
    on 32 validation blocks."""
    val_z, val_max = log_z_stats(logits["val"])
    out = {"log_z": val_z, "abs_log_z_max": val_max, "train_log_z": log_z_stats(logits["train"])[0]}
    probe = getattr(model, "max_attention_logit", None)
    if probe is not None:
        out["attn_logit_max"] = probe(data.X_val[:32])
    return out


def evaluate_lm(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Per-token cross-entropy, next-character accuracy and mean/max log Z of ``model`` in eval mode.

    Args:
        X, y: (N, T) input and target ids.

    Returns:
        ``{"loss", "acc", "log_z", "abs_log_z_max"}``.
    """
    logits = predict(model, X, batch_size=256)
    loss, acc = loss_and_accuracy(logits, y, batch_size=256)
    log_z, top = log_z_stats(logits)
    return {"loss": loss, "acc": acc, "log_z": log_z, "abs_log_z_max": top}


def warmup_cosine(warmup_steps: int, total_steps: int, schedule: str = "cosine") -> Callable[[int], float]:
    """LR factor per step: linear warm-up over ``warmup_steps``, then constant or cosine decay to 0 at
    ``total_steps`` (nanoGPT's ``get_lr`` shape); for ``torch.optim.lr_scheduler.LambdaLR``."""
    check_choice("schedule", schedule, ("constant", "cosine"))

    def factor(step: int) -> float:
        # 1. linear warm-up, 2. constant or cosine decay to 0 over the remaining steps
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / max(1, total_steps - warmup_steps)))
        return 1.0

    factor.description = f"warmup {warmup_steps} steps, then {schedule} to step {total_steps}"
    return factor


def fit_lm(model: nn.Module, data: Dataset, *, epochs: int = 10, lr: float = 3e-3, weight_decay: float = 0.0,
           decay: str = "weights", z_loss: float = 0.0, label_smoothing: float = 0.0, batch_size: int = 32,
           warmup_steps: int = 0, schedule: str = "constant", betas: tuple[float, float] = (0.9, 0.999),
           grad_clip: float | None = 1.0, n_eval_train: int = 256, n_eval_val: int | None = None,
           **fit_kwargs) -> History:
    """``fit`` with a language model's defaults: AdamW (plain per-tensor kernel, so stored results reproduce
    bit for bit), weight decay on weights only, gradient clipping, a warm-up + constant/cosine LR schedule
    stepped every batch, 256 training blocks scored per epoch and ``lm_metrics`` recorded in ``History.extra``.

    Loss per step: ``cross_entropy(logits, y, label_smoothing) + z_loss * regviz.losses.z_loss(logits)``; losses are
    per-token cross-entropy (nats), acc is next-character accuracy. Other arguments: as in ``fit``.
    """
    valid = isinstance(epochs, int) and isinstance(batch_size, int) and batch_size > 0  # else fit says what is wrong
    factor = warmup_cosine(warmup_steps, epochs * math.ceil(len(data.X_train) / batch_size) if valid else 1, schedule)
    return fit(model, data, epochs=epochs, lr=lr, optimizer="adamw", weight_decay=weight_decay, decay=decay,
               z_loss=z_loss, label_smoothing=label_smoothing, betas=betas, fused=False, batch_size=batch_size,
               grad_clip=grad_clip, scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, factor),
               scheduler_interval="step", metrics=[lm_metrics], n_eval_train=n_eval_train, n_eval_val=n_eval_val,
               eval_batch_size=256, **{"progress": False, **fit_kwargs})


@torch.no_grad()
def generate(model: TinyLM, vocab: list[str], prompt: str, *, num_chars: int = 80, temperature: float = 1.0,
             seed: int = 0) -> str:
    """Sample ``num_chars`` characters after ``prompt`` (characters not in ``vocab`` are dropped)."""
    if check_number("temperature", temperature) == 0:
        raise ValueError("temperature=0 divides by zero; use a number > 0 (small = greedy)")
    lookup = {c: i for i, c in enumerate(vocab)}
    dev = next(model.parameters()).device
    ids = torch.tensor([[lookup[c] for c in prompt if c in lookup] or [0]], device=dev)
    g = torch.Generator(device=dev).manual_seed(seed)
    with eval_mode(model):
        for _ in range(num_chars):
            logits = model(ids[:, -model.block_size:])[:, -1].float() / temperature  # (1, V)
            nxt = torch.multinomial(logits.softmax(-1), 1, generator=g)
            ids = torch.cat([ids, nxt], 1)
    return "".join(vocab[i] for i in ids[0].tolist())
