"""``History.config``: every value that shaped a run, JSON-friendly (model hparams, data, fit's knobs, device)."""
from __future__ import annotations

import torch
from torch import nn

from .data import Dataset
from .layers import Dropout

PER_MODEL = ("lr", "weight_decay", "l1", "label_smoothing", "seed", "p")  # knobs a stacked model sets per model


def dropout_rates(model: nn.Module) -> list[float]:
    """The distinct dropout probabilities of ``model``'s dropout layers, in order of appearance."""
    ps = []
    for m in model.modules():
        p = m.p if isinstance(m, (Dropout, nn.modules.dropout._DropoutNd)) else None
        if p is not None and float(p) not in ps:
            ps.append(float(p))
    return ps


def describe(obj) -> object:
    """A JSON-friendly record of a scheduler, transform or loss: its ``config`` if it has one, else its name
    and simple settings."""
    if obj is None:
        return None
    if isinstance(getattr(obj, "config", None), dict):
        return dict(obj.config)
    out = {"name": getattr(obj, "__name__", type(obj).__name__)}
    if isinstance(obj, torch.optim.lr_scheduler.LRScheduler) or hasattr(obj, "state_dict"):
        try:
            state = obj.state_dict()
        except Exception:  # noqa: BLE001 -- a description, never a reason to fail
            state = {}
        out.update({k: v for k, v in state.items() if not k.startswith("_") and isinstance(v, (int, float, str))
                    and k not in ("last_epoch", "verbose")})
        lambdas = getattr(obj, "lr_lambdas", None)
        if lambdas:
            names = [str(getattr(f, "description", getattr(f, "__name__", f))) for f in lambdas]
            out["lr_lambda"] = sorted(set(names), key=names.index)  # one per parameter group, usually all alike
    return out


def run_config(model: nn.Module, data: Dataset, dev: torch.device, knobs: dict, k: int | None) -> dict:
    """History.config: every value that shaped run ``k`` of a stacked model (None: the only run)."""
    def pick(name, v):
        return v[k] if k is not None and name in PER_MODEL and isinstance(v, (list, tuple)) else v

    hp = getattr(model, "hparams", {})
    cfg = dict(model=hp.get("model", type(model).__name__), **{n: pick(n, v) for n, v in hp.items() if n != "model"})
    if "p" not in cfg:
        ps = dropout_rates(model)
        cfg["p"] = ps[0] if len(ps) == 1 else ps
    cfg.update({"dataset": data.name, **getattr(data, "config", {}), "n_train": len(data.y_train)})
    cfg.update({n: pick(n, v) for n, v in knobs.items()})
    cfg["device"] = str(dev)
    return cfg
