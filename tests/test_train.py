import math

import pytest
import torch
import torch.nn.functional as F

from regviz import MLP, EarlyStopping, fit
from regviz.train import evaluate, make_optimizer


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    return MLP(64, 10, width=32, **kw)


class TestFit:
    """The reference training loop."""

    def test_history_lengths_and_learning(self, digits):
        """One value per epoch; the training loss falls."""
        h = fit(_model(), digits, epochs=5, lr=3e-3, progress=False, device="cpu")
        assert len(h.train_loss) == len(h.val_loss) == len(h.val_acc) == len(h.lr) == 5
        assert h.train_loss[-1] < h.train_loss[0]
        assert 1 <= h.best_epoch <= 5 and h.config["lr"] == 3e-3

    def test_deterministic(self, digits):
        """Same seed on the CPU: identical histories; another seed: different."""
        a = fit(_model(p=0.3), digits, epochs=3, seed=1, progress=False, device="cpu")
        b = fit(_model(p=0.3), digits, epochs=3, seed=1, progress=False, device="cpu")
        c = fit(_model(p=0.3), digits, epochs=3, seed=2, progress=False, device="cpu")
        assert a.val_loss == b.val_loss and a.val_loss != c.val_loss

    def test_matches_plain_loop(self, digits):
        """fit's first epoch equals a hand-written loop with the same shuffling and optimiser."""
        m_ref = _model()
        g = torch.Generator().manual_seed(0)
        opt = torch.optim.AdamW(m_ref.parameters(), lr=1e-3)
        perm = torch.randperm(len(digits.y_train), generator=g)
        for i in range(0, len(perm), 32):
            idx = perm[i:i + 32]
            loss = F.cross_entropy(m_ref(digits.X_train[idx]), digits.y_train[idx])
            opt.zero_grad(); loss.backward(); opt.step()
        m = _model()
        h = fit(m, digits, epochs=1, batch_size=32, progress=False, device="cpu")
        for p, q in zip(m.parameters(), m_ref.parameters()):
            assert torch.allclose(p, q, atol=1e-5), (p - q).abs().max()
        vl, va = evaluate(m_ref, digits.X_val, digits.y_val)
        assert math.isclose(h.val_loss[0], vl, rel_tol=1e-5) and h.val_acc[0] == va

    def test_evaluate_restores_mode(self, digits):
        """evaluate switches dropout off and puts the model back in training mode."""
        m = _model(p=0.5)
        m.train()
        a = evaluate(m, digits.X_val, digits.y_val)
        b = evaluate(m, digits.X_val, digits.y_val)
        assert a == b and m.training

    def test_divergence_is_reported(self, digits):
        """A huge learning rate with SGD blows up: stop_reason says so, history flags it."""
        h = fit(_model(), digits, epochs=5, lr=1e6, optimizer="sgd", progress=False, device="cpu")
        assert h.diverged and h.stop_reason.startswith("diverged")

    def test_l1_and_batch_transform_are_used(self, digits):
        """l1 changes the run; a proximal L1 step zeroes weights exactly; soft targets train like hard ones."""
        a = fit(_model(), digits, epochs=2, progress=False, device="cpu")
        b = fit(_model(), digits, epochs=2, progress=False, device="cpu", l1=1e-2)
        assert a.val_loss != b.val_loss
        zeros = {}
        for proximal in (False, True):
            m = _model()
            fit(m, digits, epochs=2, lr=0.1, optimizer="sgd", l1=0.05, l1_proximal=proximal, progress=False,
                device="cpu")
            zeros[proximal] = float((m.net[1].weight == 0).float().mean())
        assert zeros[True] > 0.1 and zeros[False] < 0.01  # soft-thresholding lands on exactly 0; subgradients do not

        def to_soft(X, y, g):
            return X, F.one_hot(y, 10).float()
        c = fit(_model(), digits, epochs=2, progress=False, device="cpu", batch_transform=to_soft)
        assert c.val_loss == pytest.approx(a.val_loss, rel=1e-5)  # one-hot soft targets = hard labels

    @pytest.mark.parametrize("decay,bias_shrinks", [("all", True), ("weights", False)])
    def test_decay_groups(self, digits, decay, bias_shrinks):
        """With a zero data loss only AdamW's decay acts: w <- w (1 - lr * lambda) per step, biases only if 'all'."""
        m = _model()
        torch.nn.init.constant_(m.net[1].bias, 1.0)
        w0 = m.net[1].weight.detach().clone()
        h = fit(m, digits, epochs=1, lr=0.1, weight_decay=0.5, decay=decay, batch_size=60, progress=False,
                device="cpu", loss_fn=lambda z, y: 0 * z.sum())
        factor = (1 - 0.1 * 0.5) ** 2  # 120 examples / 60 = 2 steps
        assert torch.allclose(m.net[1].weight, w0 * factor, rtol=1e-5)
        assert torch.allclose(m.net[1].bias, torch.full_like(m.net[1].bias, factor if bias_shrinks else 1.0))
        assert h.config["decay"] == decay and h.config["weight_decay"] == 0.5

    def test_grad_clip_bounds_each_step(self, digits):
        """Plain SGD with clipping c moves the parameters by at most lr * c per step."""
        m = _model()
        w0 = torch.cat([p.detach().flatten() for p in m.parameters()])
        fit(m, digits, epochs=1, lr=1.0, optimizer="sgd", momentum=0.0, grad_clip=1e-3, batch_size=60,
            progress=False, device="cpu")
        moved = (torch.cat([p.detach().flatten() for p in m.parameters()]) - w0).norm()
        assert 0 < moved <= 2 * 1e-3 + 1e-7

    def test_every_knob_lands_in_config(self, digits):
        """History.config names the model, the data and every training knob by its argument name."""
        from regviz.mixing import mixing_transform
        h = fit(_model(p=0.2), digits, epochs=1, lr=2e-3, optimizer="sgd", weight_decay=1e-3, decay="weights",
                l1=1e-4, label_smoothing=0.1, batch_size=32, seed=3, progress=False, device="cpu",
                batch_transform=mixing_transform("mixup", 0.4, 10), early_stopping=EarlyStopping(patience=4),
                scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 7, gamma=0.5), grad_clip=2.0)
        c = h.config
        assert (c["model"], c["width"], c["depth"], c["p"]) == ("MLP", 32, 2, 0.2)
        assert (c["dataset"], c["n_train"], c["label_noise"]) == ("digits", 120, 0.0)
        assert (c["lr"], c["optimizer"], c["weight_decay"], c["decay"], c["l1"], c["l1_proximal"]) == (
            2e-3, "sgd", 1e-3, "weights", 1e-4, False)
        assert (c["label_smoothing"], c["batch_size"], c["seed"], c["grad_clip"], c["momentum"]) == (0.1, 32, 3, 2.0, 0.9)
        assert c["batch_transform"] == {"name": "mixing", "method": "mixup", "alpha": 0.4}
        assert c["scheduler"]["name"] == "StepLR" and c["scheduler"]["step_size"] == 7 and c["scheduler"]["gamma"] == 0.5
        assert c["early_stopping"] == {"patience": 4, "min_delta": 0.0, "restore_best": True}
        import json
        json.dumps(c)  # JSON-friendly: a History can be saved

    def test_metrics_hook_and_caller_rng(self, digits):
        """Extra metrics land in History.extra each epoch, in eval mode; the caller's global RNG is untouched."""
        seen = []

        def metric(model, data, logits):
            seen.append(model.training)
            return {"n_val": len(data.y_val), "same_logits": float(torch.equal(logits["val"], model(data.X_val)))}
        model = _model(p=0.5)
        torch.manual_seed(5)
        state = torch.get_rng_state()
        h = fit(model, digits, epochs=2, progress=False, device="cpu", metrics=[metric], n_eval_val=50)
        assert h.extra["n_val"] == [50, 50] and seen == [False, False] and h.extra["same_logits"] == [1.0, 1.0]
        assert torch.equal(torch.get_rng_state(), state)

    def test_list_knob_needs_stacked_model(self, digits):
        with pytest.raises(ValueError, match="stacked model"):
            fit(_model(), digits, epochs=1, lr=[1e-3, 1e-2], progress=False, device="cpu")

    def test_scheduler_recorded(self, digits):
        """The lr in effect each epoch is recorded (StepLR halves it every epoch)."""
        h = fit(_model(), digits, epochs=3, lr=0.1, optimizer="sgd", progress=False, device="cpu",
                scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5))
        assert h.lr == pytest.approx([0.1, 0.05, 0.025])

    def test_early_stopping_restores_best(self, digits):
        """With restore_best, the returned model's validation loss is the best epoch's."""
        m = _model()
        es = EarlyStopping(patience=2)
        h = fit(m, digits, epochs=60, lr=1e-2, progress=False, device="cpu", early_stopping=es)
        assert h.stop_reason.startswith("early stopping")
        vl, _ = evaluate(m, digits.X_val, digits.y_val)
        assert vl == pytest.approx(h.val_loss[h.best_epoch - 1], rel=1e-6)

    @pytest.mark.parametrize("kwargs,match", [
        (dict(epochs=0), "epochs"), (dict(lr=-1.0), "lr"), (dict(weight_decay=-0.1), "weight_decay"),
        (dict(batch_size=0), "batch_size"), (dict(optimizer="lbfgs"), "allowed: adamw"),
        (dict(scheduler_interval="batch"), "allowed"), (dict(decay="biases"), "allowed: all, weights"),
        (dict(l1=float("nan")), "l1"), (dict(label_smoothing=1.0), "label_smoothing"), (dict(grad_clip=-1.0), "grad_clip"),
    ])
    def test_bad_args(self, digits, kwargs, match):
        with pytest.raises(ValueError, match=match):
            fit(_model(), digits, progress=False, device="cpu", **kwargs)



class TestModelDataMismatch:
    """fit checks the model against the data before the first step and says how to fix a mismatch."""

    def test_wrong_in_features_names_both_sides_and_the_fix(self, digits):
        """MLP(32, 10) on 8x8 digits: a ValueError, not torch's matmul shape error; no step is taken."""
        m = MLP(32, 10, width=16)
        before = [p.clone() for p in m.parameters()]
        with pytest.raises(ValueError) as info:
            fit(m, digits, epochs=1, progress=False, device="cpu")
        msg = str(info.value)
        assert "MLP expects 32 input features but the dataset has 64" in msg
        assert "MLP(in_features=data.in_features, num_classes=data.num_classes)" in msg
        assert "mat1 and mat2" not in msg
        assert all(torch.equal(p, q) for p, q in zip(m.parameters(), before)) and m.training

    def test_wrong_num_classes(self, digits):
        """MLP(64, 3) on 10-class digits: named before any IndexError from the loss."""
        with pytest.raises(ValueError, match=r"MLP outputs 3 classes but the dataset has 10 .*num_classes=data"):
            fit(MLP(64, 3, width=16), digits, epochs=1, progress=False, device="cpu")

    def test_too_many_outputs_is_a_mismatch_too(self, digits):
        """Extra logits would train silently towards classes that never occur: also an error."""
        with pytest.raises(ValueError, match="outputs 12 classes but the dataset has 10"):
            fit(MLP(64, 12, width=16), digits, epochs=1, progress=False, device="cpu")

    def test_cnn_built_for_other_inputs(self, digits):
        """A 1-D CNN (MNIST-1D's (40,)) on 8x8 images: its input_shape and the fix are named."""
        from regviz import CNN
        with pytest.raises(ValueError) as info:
            fit(CNN((40,), 10, channels=4), digits, epochs=1, progress=False, device="cpu")
        msg = str(info.value)
        assert "CNN expects inputs of shape (40,) but the dataset's are (1, 8, 8)" in msg
        assert "CNN(input_shape=data.input_shape, num_classes=data.num_classes)" in msg

    def test_conv_channels_of_any_model(self, digits):
        """A plain nn.Sequential with 3 input channels on 1-channel images: the first layer is read."""
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(10))
        with pytest.raises(ValueError, match=r"Sequential expects 3 input channels .* have 1: size the model"):
            fit(net, digits, epochs=1, progress=False, device="cpu")

    def test_matching_models_pass(self, digits):
        """Models built from the data's own attributes train."""
        from regviz import CNN
        from regviz.train import check_model_fits_data
        for m in (MLP(digits.in_features, digits.num_classes, width=8),
                  CNN(digits.input_shape, digits.num_classes, channels=4)):
            check_model_fits_data(m, digits)
        h = fit(MLP(digits.in_features, digits.num_classes, width=8), digits, epochs=1, progress=False,
                device="cpu")
        assert h.num_epochs == 1


def test_make_optimizer_kinds():
    """Each name gives the torch optimiser of that name."""
    p = [torch.nn.Parameter(torch.zeros(2))]
    assert type(make_optimizer("adamw", p, lr=1e-3)) is torch.optim.AdamW
    assert type(make_optimizer("adam", p, lr=1e-3)) is torch.optim.Adam
    assert type(make_optimizer("sgd", p, lr=1e-3)) is torch.optim.SGD
