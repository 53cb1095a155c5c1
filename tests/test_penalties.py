"""Tests for regviz.penalties (and metrics.sparsity): penalties, proximal L1, decay groups."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from regviz.metrics import sparsity
from regviz.penalties import (decay_groups, elastic_net_penalty, l1_penalty, l2_penalty, prox_l1_,
                              soft_threshold)


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.BatchNorm1d(5), nn.Linear(5, 3))


class TestL2MatchesWeightDecay:
    """An L2 penalty of lam * l2_penalty in the loss gives exactly SGD(weight_decay=lam)'s step."""

    def test_sgd_steps_equal(self):
        X, y = torch.randn(16, 6, generator=torch.Generator().manual_seed(1)), torch.arange(16) % 3
        a, b = _mlp(), _mlp()
        lam = 0.1
        oa = torch.optim.SGD(a.parameters(), lr=0.1, momentum=0.9)
        ob = torch.optim.SGD(b.parameters(), lr=0.1, momentum=0.9, weight_decay=lam)
        for _ in range(5):
            for m, o, pen in ((a, oa, True), (b, ob, False)):
                loss = F.cross_entropy(m(X), y) + (lam * l2_penalty(m, weights_only=False) if pen else 0)
                o.zero_grad(); loss.backward(); o.step()
        for pa, pb in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(pa, pb, atol=1e-6, rtol=1e-5)


class TestElasticNet:
    """Elastic net equals scikit-learn's penalty form and reduces to L1 / L2 at the ends."""

    def test_formula(self):
        m = _mlp()
        w = torch.cat([p.flatten() for p in m.parameters() if p.ndim >= 2])
        r = 0.3
        ref = r * w.abs().sum() + (1 - r) * 0.5 * w.pow(2).sum()
        torch.testing.assert_close(elastic_net_penalty(m, l1_ratio=r), ref)
        torch.testing.assert_close(elastic_net_penalty(m, l1_ratio=1.0), l1_penalty(m))
        torch.testing.assert_close(elastic_net_penalty(m, l1_ratio=0.0), l2_penalty(m))

    def test_bad_ratio(self):
        with pytest.raises(ValueError, match="l1_ratio"):
            elastic_net_penalty(_mlp(), l1_ratio=1.5)


class TestSoftThreshold:
    """soft_threshold equals torch's softshrink; prox_l1_ produces exact zeros."""

    def test_matches_softshrink(self):
        w = torch.randn(1000, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(soft_threshold(w, 0.3), F.softshrink(w, 0.3))

    def test_prox_zeros_small_weights(self):
        m = _mlp()
        before = {n: p.detach().clone() for n, p in m.named_parameters()}
        prox_l1_(m, lr=0.5, l1=0.4)  # threshold 0.2
        for n, p in m.named_parameters():
            if p.ndim >= 2:
                assert torch.equal(p == 0, before[n].abs() <= 0.2)
            else:
                assert torch.equal(p, before[n])  # biases / BN untouched by default

    def test_negative_threshold(self):
        with pytest.raises(ValueError, match="threshold"):
            soft_threshold(torch.zeros(3), -1.0)
        with pytest.raises(ValueError, match="negative"):
            soft_threshold(torch.zeros(2, 3), torch.tensor([[0.1], [-0.1]]))

    def test_one_threshold_per_row(self):
        """A (K, 1) threshold soft-thresholds row k by its own value (a stacked sweep's per-model step)."""
        w = torch.randn(3, 50, generator=torch.Generator().manual_seed(1))
        t = torch.tensor([[0.0], [0.2], [0.5]])
        out = soft_threshold(w, t)
        for k in range(3):
            torch.testing.assert_close(out[k], F.softshrink(w[k], float(t[k])))


class TestSparsity:
    """sparsity counts exact zeros / small weights of the weight tensors only."""

    def test_counts(self):
        m = nn.Linear(4, 5)
        with torch.no_grad():
            m.weight.copy_(torch.tensor([0.0, 0.05, -0.2, 1.0]).repeat(5, 1))
            m.bias.zero_()
        assert sparsity(m) == 0.25
        assert sparsity(m, threshold=0.1) == 0.5
        assert sparsity(m, weights_only=False) == (5 + 5) / 25


class TestDecayGroups:
    """decay_groups puts biases and norm parameters at weight decay 0."""

    def test_groups(self):
        m = _mlp()
        g = decay_groups(m, 0.1)
        assert {id(p) for p in g[0]["params"]} == {id(m[0].weight), id(m[3].weight)}
        assert len(g[1]["params"]) == 4 and g[1]["weight_decay"] == 0.0
        assert [x["name"] for x in g] == ["decay", "no_decay"]
        opt = torch.optim.AdamW(g, lr=1e-3, fused=True)  # named groups go straight to a torch optimiser
        assert [x["name"] for x in opt.param_groups] == ["decay", "no_decay"]


class TestProximalStep:
    """fit's proximal L1 step is an SGD step followed by soft_threshold(lr * l1) of the weights."""

    def test_step_equals_sgd_then_softshrink(self):
        a, b = _mlp(), _mlp()
        X, y = torch.randn(16, 6), torch.arange(16) % 3
        for m in (a, b):
            o = torch.optim.SGD(m.parameters(), lr=0.1)
            o.zero_grad(); F.cross_entropy(m(X), y).backward(); o.step()
        prox_l1_(a, lr=0.1, l1=0.5)
        for pa, pb in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(pa, F.softshrink(pb, 0.05) if pb.ndim >= 2 else pb)
        assert sparsity(a) > 0.1 and sparsity(b) == 0
