"""The tiny character-level LM's training loop, metrics and sampling (the model, ``TinyLM``, is in ``regviz.models``;
the corpus in ``regviz.text``)."""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from .data import Dataset
from .history import History
from .layers import eval_mode
from .models import TinyLM  # noqa: F401  (re-exported: chapter 07 imports it from here)
from .train import fit, loss_and_accuracy, predict
from .validate import check_choice, check_number


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
