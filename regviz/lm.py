"""A tiny decoder-only, character-level transformer LM and its training loop (the corpus is in ``regviz.text``).

Vaswani et al., "Attention Is All You Need" (NeurIPS 2017), pre-norm layout as in GPT-2 (Radford et al., 2019);
weight tying from Press & Wolf, "Using the Output Embedding to Improve Language Models" (EACL 2017).
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .data import Dataset
from .device import resolve_device
from .history import History
from .losses import z_loss
from .penalties import decay_groups


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
            if not (isinstance(p, (int, float)) and 0.0 <= p < 1.0):
                raise ValueError(f"{name}={p!r} must be a float in [0, 1)")
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(block_size, d_model)
        self.drop_embd = nn.Dropout(p_embd)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, p_attn, p_resid, qk_norm) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
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


@torch.no_grad()
def evaluate_lm(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, batch_size: int = 256,
                autocast_dtype: torch.dtype | None = None) -> dict[str, float]:
    """Per-token cross-entropy, next-character accuracy and mean/max log Z of ``model`` in eval mode.

    Args:
        X, y: (N, T) input and target ids.

    Returns:
        ``{"loss", "acc", "log_z", "abs_log_z_max"}`` (log Z = logsumexp of a position's logits).
    """
    was = model.training
    model.eval()
    loss = acc = lz = 0.0
    lz_max = 0.0
    for i in range(0, len(X), batch_size):
        Xb, yb = X[i:i + batch_size], y[i:i + batch_size]
        with torch.autocast(X.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            logits = model(Xb)
        logits = logits.float()  # (B, T, V)
        log_z = torch.logsumexp(logits, -1)  # (B, T)
        loss += float(F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="sum"))
        acc += float((logits.argmax(-1) == yb).sum())
        lz += float(log_z.sum())
        lz_max = max(lz_max, float(log_z.abs().max()))
    model.train(was)
    n = y.numel()
    return {"loss": loss / n, "acc": acc / n, "log_z": lz / n, "abs_log_z_max": lz_max}


def fit_lm(model: nn.Module, data: Dataset, *, epochs: int = 10, lr: float = 3e-3, weight_decay: float = 0.0,
           decay_all: bool = False, z_loss_coef: float = 0.0, label_smoothing: float = 0.0, batch_size: int = 32,
           warmup_steps: int = 0, schedule: str = "constant", betas: tuple[float, float] = (0.9, 0.999),
           grad_clip: float | None = 1.0, autocast_dtype: torch.dtype | None = None, seed: int = 0,
           device: str | torch.device | None = None, n_eval_train: int = 256, n_eval_val: int | None = None,
           progress: bool = False) -> History:
    """Train an LM with AdamW on next-character prediction; one "epoch" = one pass over the training blocks.

    Loss per step: ``cross_entropy(logits, y, label_smoothing) + z_loss_coef * z_loss(logits)``.

    Args:
        model: maps (B, T) ids to (B, T, V) logits; trained in place.
        data: from ``regviz.text.lm_dataset``.
        weight_decay: AdamW decay, applied to matrices and embeddings only (``decay_groups``) unless ``decay_all``.
        z_loss_coef: coefficient of ``z_loss`` (0 = off; PaLM used 1e-4).
        label_smoothing: passed to ``F.cross_entropy`` for training (evaluation reports plain cross-entropy).
        warmup_steps: linear LR warm-up from lr/warmup_steps to lr.
        schedule: after warm-up, "constant" or "cosine" (decays to 0 at the last step).
        betas: AdamW's (beta1, beta2); large-model recipes often use beta2 = 0.95.
        grad_clip: max global gradient norm (None = no clipping).
        autocast_dtype: e.g. ``torch.bfloat16`` to run the forward pass in low precision (autocast).
        n_eval_train: training blocks used to measure the training loss each epoch.
        n_eval_val: validation blocks used each epoch (None = all).
        progress: show a tqdm progress bar over epochs.

    Returns:
        A ``History``: losses are per-token cross-entropy (nats), acc is next-character accuracy;
        ``extra`` holds ``log_z`` (mean validation log Z), ``abs_log_z_max``, ``train_log_z`` and, for
        models with ``max_attention_logit``, ``attn_logit_max``.
    """
    for name, v in (("epochs", epochs), ("batch_size", batch_size), ("n_eval_train", n_eval_train)):
        if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
            raise ValueError(f"{name}={v!r} must be an int >= 1")
    for name, v in (("lr", lr), ("weight_decay", weight_decay), ("z_loss_coef", z_loss_coef)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise ValueError(f"{name}={v!r} must be a finite number >= 0")
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing={label_smoothing!r} must be in [0, 1)")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule={schedule!r}; allowed: 'constant', 'cosine'")
    dev = resolve_device(device)
    model.to(dev)
    if data.device != dev:
        data = data.to(dev)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    X, y, n = data.X_train, data.y_train, len(data.X_train)
    total_steps = epochs * math.ceil(n / batch_size)

    def lr_factor(step: int) -> float:
        # 1. linear warm-up, 2. constant or cosine decay to 0 over the remaining steps
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / max(1, total_steps - warmup_steps)))
        return 1.0

    params = [p for p in model.parameters()] if decay_all else decay_groups(model, weight_decay)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    hist = History(config=dict(model=type(model).__name__, dataset=data.name, n_train=n, epochs=epochs, lr=lr,
                               weight_decay=weight_decay, decay_all=decay_all, z_loss_coef=z_loss_coef,
                               label_smoothing=label_smoothing, batch_size=batch_size, warmup_steps=warmup_steps,
                               schedule=schedule, betas=list(betas), grad_clip=grad_clip, seed=seed, device=str(dev),
                               autocast=str(autocast_dtype) if autocast_dtype else None))
    probe = getattr(model, "max_attention_logit", None)
    for key in ("log_z", "abs_log_z_max", "train_log_z") + (("attn_logit_max",) if probe else ()):
        hist.extra[key] = []
    X_val, y_val = data.X_val[:n_eval_val], data.y_val[:n_eval_val]
    start = time.perf_counter()
    bar = tqdm(range(1, epochs + 1), desc="epochs", leave=False, disable=not progress)
    for epoch in bar:
        # 1. one pass over shuffled training blocks
        model.train()
        hist.lr.append(opt.param_groups[0]["lr"])
        perm = torch.randperm(n, generator=g).to(dev)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            with torch.autocast(dev.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                logits = model(X[idx])  # (B, T, V)
            logits = logits.float()
            loss = F.cross_entropy(logits.flatten(0, 1), y[idx].flatten(), label_smoothing=label_smoothing)
            if z_loss_coef > 0:
                loss = loss + z_loss_coef * z_loss(logits)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            opt.step()
            sched.step()
        # 2. measure in eval mode (dropout off)
        tr = evaluate_lm(model, X[:n_eval_train], y[:n_eval_train], autocast_dtype=autocast_dtype)
        va = evaluate_lm(model, X_val, y_val, autocast_dtype=autocast_dtype)
        hist.train_loss.append(tr["loss"]); hist.train_acc.append(tr["acc"])
        hist.val_loss.append(va["loss"]); hist.val_acc.append(va["acc"])
        hist.extra["log_z"].append(va["log_z"]); hist.extra["abs_log_z_max"].append(va["abs_log_z_max"])
        hist.extra["train_log_z"].append(tr["log_z"])
        if probe:
            was = model.training
            model.eval()
            hist.extra["attn_logit_max"].append(probe(X_val[:32]))
            model.train(was)
        bar.set_postfix(val_loss=f"{va['loss']:.3f}")
        if not (math.isfinite(tr["loss"]) and math.isfinite(va["loss"])):
            hist.stop_reason = f"diverged: loss became non-finite at epoch {epoch}"
            break
    bar.close()
    hist.seconds = time.perf_counter() - start
    hist.update_best()
    return hist


@torch.no_grad()
def generate(model: TinyLM, vocab: list[str], prompt: str, *, num_chars: int = 80, temperature: float = 1.0,
             seed: int = 0) -> str:
    """Sample ``num_chars`` characters after ``prompt`` (characters not in ``vocab`` are dropped)."""
    if temperature <= 0:
        raise ValueError(f"temperature={temperature!r} must be > 0")
    lookup = {c: i for i, c in enumerate(vocab)}
    dev = next(model.parameters()).device
    ids = torch.tensor([[lookup[c] for c in prompt if c in lookup] or [0]], device=dev)
    g = torch.Generator(device=dev).manual_seed(seed)
    was = model.training
    model.eval()
    for _ in range(num_chars):
        logits = model(ids[:, -model.block_size:])[:, -1].float() / temperature  # (1, V)
        nxt = torch.multinomial(logits.softmax(-1), 1, generator=g)
        ids = torch.cat([ids, nxt], 1)
    model.train(was)
    return "".join(vocab[i] for i in ids[0].tolist())
