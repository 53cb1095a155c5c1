"""Tests for regviz.stacked (K models as one module) and the stacked path of fit: every hook equals K single runs."""
import pytest
import torch
import torch.nn.functional as F

from regviz import CNN, MLP, EarlyStopping, fit, sweep
from regviz.device import seeded
from regviz.history import Histories
from regviz.mixing import mixing_transform
from regviz.stacked import StackedCNN, StackedMLP, stack


def unstacked(st: StackedMLP, k: int, model: torch.nn.Module) -> torch.nn.Module:
    """Model k of ``st`` copied into ``model``, an MLP of the same shape (its linear layers in order)."""
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for layer, W, b in zip(linears, st.weights, st.biases):
            layer.weight.copy_(W[k].t())
            layer.bias.copy_(b[k, 0])
    return model

TOL = dict(rel=1e-4, abs=1e-6)  # float32 sums in another order (grouped conv, batched products): not bit-equal


def _cnns(shape, K=3, **kw):
    out = []
    for s in range(K):
        with seeded(s):
            out.append(CNN(shape, 10, channels=4, **kw))
    return out


class TestStackedCNNForward:
    """The stacked forward is each CNN's own forward, side by side."""

    @pytest.mark.parametrize("shape,kw", [((1, 8, 8), {}), ((1, 8, 8), {"hidden": 16}), ((40,), {}),
                                          ((2, 20), {"hidden": 8})])
    def test_forward_matches_each_cnn(self, shape, kw):
        models = _cnns(shape, **kw)
        s = StackedCNN(models).eval()
        X = torch.randn(3, 5, *shape, generator=torch.Generator().manual_seed(0))  # (K, B, *shape)
        out = s(X)
        assert out.shape == (3, 5, 10)
        for k, m in enumerate(models):
            torch.testing.assert_close(out[k], m.eval()(X[k]), rtol=1e-5, atol=1e-6)

    def test_stack_picks_the_class_and_checks_shapes(self):
        assert isinstance(stack(_cnns((1, 8, 8), K=2)), StackedCNN)
        assert isinstance(stack([MLP(64, 10, width=8)] * 2), StackedMLP)
        with pytest.raises(ValueError, match="identical shapes"):
            StackedCNN([CNN((1, 8, 8), 10, channels=4), CNN((1, 8, 8), 10, channels=8)])

    def test_dropout_per_model(self):
        """Model 0 (p=0) is deterministic in training mode; model 1 (p=0.5) drops about half its head inputs."""
        s = StackedCNN(_cnns((1, 8, 8), K=2), p=[0.0, 0.5]).train()
        X = torch.randn(2, 64, 1, 8, 8)
        a, b = s(X), s(X)
        assert torch.equal(a[0], b[0]) and not torch.equal(a[1], b[1])
        assert s.hparams["p"] == [0.0, 0.5]

    def test_model_state_round_trip(self):
        s = StackedCNN(_cnns((1, 8, 8), K=2))
        kept = s.model_state(1)
        with torch.no_grad():
            for W in s.weights:
                W.zero_()
        s.load_model_state(1, kept)
        assert all(torch.equal(W[1], kept[f"weights.{i}"]) and not W[0].any() for i, W in enumerate(s.weights))


def _single(make, data, seed, **kw):
    with seeded(seed):
        model = make()
    return fit(model, data, seed=seed, progress=False, device="cpu", **kw), model


class TestStackedEqualsSingleRuns:
    """K=3 seeds trained stacked equal three fit calls with p=0 (tolerance TOL)."""

    def test_cnn_seed_sweep(self, digits):
        make = lambda: CNN((1, 8, 8), 10, channels=4)  # noqa: E731
        hs = sweep(make, digits, knob="seed", values=[0, 1, 2], epochs=2, lr=3e-3, progress=False, device="cpu")
        assert isinstance(hs, Histories) and len(hs) == 3
        for s, h in zip([0, 1, 2], hs):
            ref, _ = _single(make, digits, s, epochs=2, lr=3e-3)
            assert h.val_loss == pytest.approx(ref.val_loss, **TOL)
            assert h.train_acc == pytest.approx(ref.train_acc, abs=1e-9)
            assert h.config["model"] == "CNN" and h.config["seed"] == s

    def test_cnn_weight_decay_sgd(self, digits):
        make = lambda: CNN((1, 8, 8), 10, channels=4, hidden=8)  # noqa: E731
        hs = sweep(make, digits, knob="weight_decay", values=[0.0, 0.3], optimizer="sgd", lr=0.05, epochs=2,
                   decay="weights", progress=False, device="cpu")
        ref, _ = _single(make, digits, 0, optimizer="sgd", lr=0.05, epochs=2, weight_decay=0.3, decay="weights")
        assert hs[1].val_loss == pytest.approx(ref.val_loss, **TOL)

    @pytest.mark.parametrize("kw", [
        dict(z_loss=1e-2),
        dict(grad_clip=0.2),
        dict(loss_fn=lambda z, y: F.cross_entropy(z, y) * 2.0),
        dict(scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 1, gamma=0.5)),
        dict(scheduler=lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda s: 1 / (1 + s)), scheduler_interval="step"),
        dict(batch_transform=mixing_transform("mixup", 0.4, 10)),
        dict(label_smoothing=0.1, batch_transform=mixing_transform("mixup", 0.4, 10)),
        dict(l1=1e-2, l1_proximal=True, optimizer="sgd", lr=0.05,
             scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 1, gamma=0.5)),
    ], ids=["z_loss", "grad_clip", "loss_fn", "scheduler", "step_scheduler", "mixup", "mixup_smoothing", "prox_sched"])
    def test_hook(self, digits, kw):
        make = lambda: MLP(64, 10, width=32)  # noqa: E731
        hs = sweep(make, digits, knob="seed", values=[0, 1], epochs=3, progress=False, device="cpu", **kw)
        for s, h in zip([0, 1], hs):
            ref, _ = _single(make, digits, s, epochs=3, **kw)
            assert h.train_loss == pytest.approx(ref.train_loss, **TOL)
            assert h.val_loss == pytest.approx(ref.val_loss, **TOL)
            assert h.lr == pytest.approx(ref.lr, rel=1e-12)

    def test_metrics_and_on_epoch_end(self, digits):
        seen = []
        metric = lambda model, ev, logits: {"mean_logit": float(logits["val"].mean())}  # noqa: E731
        hs = sweep(lambda: MLP(64, 10, width=32), digits, knob="seed", values=[0, 1], epochs=2, progress=False,
                   device="cpu", metrics=[metric], on_epoch_end=lambda e, m, h: seen.append((e, len(h))))
        ref, _ = _single(lambda: MLP(64, 10, width=32), digits, 1, epochs=2, metrics=[metric])
        assert hs[1].extra["mean_logit"] == pytest.approx(ref.extra["mean_logit"], rel=1e-4, abs=1e-6)
        assert seen == [(1, 2), (2, 2)]

    @pytest.mark.parametrize("restore_best", [True, False])
    def test_early_stopping_per_model(self, restore_best):
        """Each model stops on its own rule and ends with the weights its single run ends with."""
        import regviz
        data = regviz.load_dataset("mnist1d", n_train=300, n_val=200, label_noise=0.3, seed=0, device="cpu")
        make = lambda: MLP(40, 10, width=64)  # noqa: E731
        es = EarlyStopping(patience=2, restore_best=restore_best)
        kw = dict(epochs=25, lr=1e-2, batch_size=50)
        with seeded(0):
            pass
        models = []
        for s in (0, 1):
            with seeded(s):
                models.append(make())
        st = StackedMLP(models)
        hs = fit(st, data, seed=[0, 1], early_stopping=es, progress=False, device="cpu", **kw)
        for s, h in zip((0, 1), hs):
            ref, m = _single(make, data, s, early_stopping=EarlyStopping(patience=2, restore_best=restore_best), **kw)
            assert h.stop_reason == ref.stop_reason and h.val_loss == pytest.approx(ref.val_loss, **TOL)
            assert ref.stop_reason.startswith("early stopping")
            mine = unstacked(st, s, make())
            for a, b in zip(mine.parameters(), m.parameters()):
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        assert es.best_epoch == hs[0].best_epoch

    def test_plateau_scheduler_is_refused(self, digits):
        with pytest.raises(ValueError, match="ReduceLROnPlateau"):
            sweep(lambda: MLP(64, 10, width=8), digits, knob="seed", values=[0, 1], epochs=1, progress=False,
                  device="cpu", scheduler=lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o))
