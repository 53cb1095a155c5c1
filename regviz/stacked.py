"""K models of one shape trained as ONE module: every parameter holds the K models' copies along dim 0.

``StackedMLP`` multiplies (K, B, in) by (K, in, out) weights with ``torch.baddbmm``; ``StackedCNN`` runs K small
CNNs as grouped convolutions (``groups=K``, as AlexNet split its two GPUs' filters) and a batched linear head.
Each model keeps its own dropout p, and ``StackedOptimizer`` gives each its own lr and weight decay.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .layers import Dropout, dropout
from .models import CNN
from .optim import StackedOptimizer
from .penalties import soft_threshold
from .validate import check_probability


def num_models(model: nn.Module) -> int | None:
    """K for a stacked model, None for an ordinary one."""
    return model.num_models if isinstance(model, Stacked) else None


class Stacked(nn.Module):
    """Base of the stacked models: ``weights`` and ``biases`` ParameterLists whose tensors start with K."""

    num_models: int
    weights: nn.ParameterList
    biases: nn.ParameterList

    def _init_common(self, models: Sequence[nn.Module], p: Sequence[float] | None) -> None:
        """Set K, the per-model dropout buffer p (K, 1, 1) and ``hparams`` (each model's own p by default)."""
        self.num_models = K = len(models)
        own = [next((float(d.p) for d in m.modules() if isinstance(d, Dropout)), 0.0) for m in models]
        p = own if p is None else [check_probability("p", v) for v in p]
        if len(p) != K:
            raise ValueError(f"p has {len(p)} values for {K} models")
        self.register_buffer("p", torch.tensor(p, dtype=torch.float32).view(K, 1, 1), persistent=False)
        hp = dict(getattr(models[0], "hparams", {}))
        self.hparams = {**hp, "model": hp.get("model", type(models[0]).__name__), "p": list(p), "stacked": K}

    def _head(self, x: torch.Tensor, first: int) -> torch.Tensor:
        """Linear layers ``first``.. of (K, in, out) weights on x (K, B, in): ReLU between them and per-model
        dropout before the last one, as MLP and CNN heads place them."""
        last = len(self.weights) - 1
        drop = self.training and bool((self.p > 0).any())
        for i in range(first, last + 1):
            if i == last and drop and self._drop_before_last:
                x = dropout(x, self.p, True)  # model k drops with its own p
            x = torch.baddbmm(self.biases[i], x, self.weights[i])  # (K, B, out)
            if i < last:
                x = x.relu_()  # in place: baddbmm's backward needs its inputs, not its output
                if drop and not self._drop_before_last:
                    x = dropout(x, self.p, True)
        return x

    _drop_before_last = False

    def l1_norms(self) -> torch.Tensor:
        """(K,): sum of |w| over each model's weights (biases skipped, as ``l1_penalty``)."""
        return sum(W.abs().flatten(1).sum(1) for W in self.weights)

    @torch.no_grad()
    def prox_l1_(self, threshold: torch.Tensor) -> None:
        """The proximal L1 step, in place: soft-threshold model k's weights by ``threshold[k]`` ((K, 1, 1):
        ``lr[k] * l1[k]``)."""
        for W in self.weights:
            W.copy_(soft_threshold(W, threshold.view((-1,) + (1,) * (W.ndim - 1))))

    def make_optimizer(self, name: str, *, lr, weight_decay, decay: str, momentum: float, betas) -> StackedOptimizer:
        """A ``StackedOptimizer``: decay on weights and biases (``decay="all"``) or on weights only."""
        decayed = list(self.weights) + ([] if decay == "weights" else list(self.biases))
        return StackedOptimizer(name, list(self.parameters()), decayed, lr=lr, weight_decay=weight_decay,
                                momentum=momentum, betas=betas)

    @torch.no_grad()
    def model_state(self, k: int) -> dict[str, torch.Tensor]:
        """A copy of model k's slice of every parameter and buffer in the state dict."""
        return {name: t[k].clone() for name, t in self.state_dict().items()}

    @torch.no_grad()
    def load_model_state(self, k: int, state: dict[str, torch.Tensor]) -> None:
        """Write ``model_state(k)``'s tensors back into model k's slices (the other models are untouched)."""
        for name, t in self.state_dict().items():
            t[k].copy_(state[name])


class StackedMLP(Stacked):
    """K MLPs of one shape as one module: layer i holds a (K, in, out) weight and a (K, 1, out) bias.

    ``forward`` takes (K, B, *input_shape) (each model its own batch; ``fit`` expands a shared evaluation batch)
    and returns (K, B, C) logits: per layer one ``torch.baddbmm(bias, x, W)``, ReLU, dropout with
    model k's own p.

    Args:
        models: K ``regviz.MLP`` (or any ``Flatten, [Linear, ReLU, Dropout] x depth, Linear`` Sequential
            under ``.net``) with identical shapes; their weights are copied.
        p: one dropout probability per model (default: each model's own).
    """

    def __init__(self, models: Sequence[nn.Module], p: Sequence[float] | None = None):
        super().__init__()
        layers = [_linear_layers(m) for m in models]
        shapes = [[tuple(l.weight.shape) for l in ls] for ls in layers]
        if any(s != shapes[0] for s in shapes):
            raise ValueError("StackedMLP needs K models of identical shapes")
        self.weights = nn.ParameterList(  # (K, in, out): x (K, B, in) @ W -> (K, B, out)
            nn.Parameter(torch.stack([ls[i].weight.detach().t() for ls in layers]).contiguous())
            for i in range(len(layers[0])))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([ls[i].bias.detach() for ls in layers]).unsqueeze(1)) for i in range(len(layers[0])))
        self._init_common(models, p)
        self.in_features = self.weights[0].shape[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (K, B, *input_shape), model k's batch in x[k] -> (K, B, C) logits."""
        return self._head(x.reshape(self.num_models, x.shape[1], -1), 0)  # (K, B, in) -> (K, B, C)



class StackedCNN(Stacked):
    """K ``regviz.CNN`` of one shape as one module: the two conv blocks as grouped convolutions (``groups=K``,
    weights (K, C_out, C_in, k...) viewed as (K * C_out, C_in, k...)), the head as batched linear layers.

    ``forward`` takes (K, B, *input_shape) and returns (K, B, C) logits; model k's channels are the k-th block of
    the grouped feature maps, and its dropout (before the last linear layer, as in ``CNN``) uses its own p.

    Args:
        models: K ``regviz.CNN`` with identical shapes (their dropout p may differ); weights are copied.
        p: one dropout probability per model (default: each model's own).
    """

    _drop_before_last = True

    def __init__(self, models: Sequence[nn.Module], p: Sequence[float] | None = None):
        super().__init__()
        if not all(isinstance(m, CNN) for m in models):
            raise ValueError(f"StackedCNN stacks regviz.CNN models; got {type(models[0]).__name__}")
        hps = [{k: v for k, v in m.hparams.items() if k != "p"} for m in models]
        if any(h != hps[0] for h in hps):
            raise ValueError("StackedCNN needs K CNNs of identical shapes")
        m0 = models[0]
        self.input_shape, self.flatten, self.two_d = m0.input_shape, m0.flatten, len(m0.input_shape) == 3
        convs = [[l for l in m.features if isinstance(l, nn.modules.conv._ConvNd)] for m in models]
        lins = [[l for l in m.head if isinstance(l, nn.Linear)] for m in models]
        self.num_convs = len(convs[0])
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.stack([c[i].weight.detach() for c in convs])) for i in range(self.num_convs)]
            + [nn.Parameter(torch.stack([l[i].weight.detach().t() for l in lins]).contiguous())
               for i in range(len(lins[0]))])
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.stack([c[i].bias.detach() for c in convs])) for i in range(self.num_convs)]
            + [nn.Parameter(torch.stack([l[i].bias.detach() for l in lins]).unsqueeze(1)) for i in range(len(lins[0]))])
        self._init_common(models, p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (K, B, *input_shape) -> (K, B, C) logits."""
        K, B = x.shape[:2]
        if len(self.input_shape) == 1:
            x = x.unsqueeze(2)  # (K, B, L) -> (K, B, 1, L)
        h = x.transpose(0, 1).reshape(B, K * x.shape[2], *x.shape[3:])  # (B, K * C_in, *spatial): models side by side
        conv, pool = (F.conv2d, F.max_pool2d) if self.two_d else (F.conv1d, F.max_pool1d)
        # Channels-last: oneDNN's grouped convolution runs faster on CPU in that layout than in NCHW (values equal up
        # to float rounding). Max-pool before ReLU: the two commute (ReLU is monotone), so this is CNN's
        # conv-ReLU-pool, with the ReLU on a 4x smaller map (see benchmarks/bench_sweep.py).
        layout = (lambda t: t.contiguous(memory_format=torch.channels_last)) if self.two_d else (lambda t: t)
        h = layout(h)
        for W, b in zip(self.weights[:self.num_convs], self.biases[:self.num_convs]):
            h = pool(conv(h, layout(W.flatten(0, 1)), b.flatten(), padding=1, groups=K), 2).relu_()  # (B, K*C_out, ..)
        if self.flatten:
            h = h.reshape(B, K, -1)  # (B, K, C_out * spatial): model k's feature map, flattened as CNN does
        else:
            h = h.mean(dim=tuple(range(2, h.ndim))).view(B, K, -1)  # global average pool: (B, K, C_out)
        return self._head(h.transpose(0, 1), self.num_convs)  # (K, B, features) -> (K, B, C)


def _linear_layers(model: nn.Module) -> list[nn.Linear]:
    net = getattr(model, "net", model)
    kinds = (nn.Flatten, nn.Linear, nn.ReLU, Dropout)
    if not isinstance(net, nn.Sequential) or not all(isinstance(m, kinds) for m in net):
        raise ValueError(f"sweep stacks MLPs (Flatten, Linear, ReLU, regviz Dropout) and regviz.CNN; got "
                         f"{type(model).__name__}: train other models one at a time with fit")
    return [m for m in net if isinstance(m, nn.Linear)]


def stack(models: Sequence[nn.Module], p: Sequence[float] | None = None) -> Stacked:
    """K models of one shape as one stacked module: ``StackedCNN`` for ``regviz.CNN``, else ``StackedMLP``."""
    return (StackedCNN if isinstance(models[0], CNN) else StackedMLP)(models, p=p)
