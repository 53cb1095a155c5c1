"""The head-anisotropy experiment of chapter 07: mu-centering as a parametrisation, and the facts the chapter builds
on (cross-entropy never moves the mean head row; Adam's update does)."""
import pytest
import torch
import torch.nn.functional as F

from regviz.experiments import lm_anisotropy as A
from regviz.models import TinyLM


def tiny(seed=0, **kw):
    torch.manual_seed(seed)
    return TinyLM(11, 8, d_model=16, n_layers=1, n_heads=2, **kw)


def batch(seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 11, (4, 8), generator=g), torch.randint(0, 11, (4, 8), generator=g)


def test_centred_head_has_zero_mean_row_and_zero_mean_logit():
    model = A.center_head_(tiny())
    with torch.no_grad():
        model.head.parametrizations.weight.original.add_(0.5)  # a large common direction in the stored weights
    stats = A.head_stats(model)
    assert stats["mean_row_norm"] < 1e-6 and stats["anisotropy"] < 1e-4
    assert stats["raw_mean_row_norm"] == pytest.approx(0.5 * 16 ** 0.5, rel=0.02)  # + the small initial mean row
    X, _ = batch()
    assert model(X).mean(-1).abs().max() < 1e-5  # every position's logits sum to zero


def run_both(z_coef, steps=5):
    """Adam on the parametrised head, and Adam then subtracting the mean row after every step; both heads."""
    a, b = A.center_head_(tiny()), tiny()
    with torch.no_grad():
        b.head.weight.sub_(b.head.weight.mean(0, keepdim=True))  # start from the same centred head
    opt_a = torch.optim.AdamW(a.parameters(), lr=0.05, weight_decay=0.0)
    opt_b = torch.optim.AdamW(b.parameters(), lr=0.05, weight_decay=0.0)
    for step in range(steps):
        X, y = batch(step)
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            logits = model(X)
            z = torch.logsumexp(logits, -1).pow(2).mean()
            (F.cross_entropy(logits.flatten(0, 1), y.flatten()) + z_coef * z).backward()
            opt.step()
        with torch.no_grad():
            b.head.weight.sub_(b.head.weight.mean(0, keepdim=True))
    return a.head.weight.detach(), b.head.weight.detach()


def test_parametrised_centring_equals_recentring_after_each_step_for_cross_entropy():
    """The module docstring's claim: with a loss whose head gradient is already centred (cross-entropy, no weight
    decay) both give one path. With z-loss the head gradient is not centred and the two differ."""
    a, b = run_both(0.0)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    a, b = run_both(1e-1)
    assert (a - b).abs().max() > 1e-3


def test_cross_entropy_never_moves_the_mean_row_but_adam_does():
    model = tiny()
    X, y = batch()
    F.cross_entropy(model(X).flatten(0, 1), y.flatten()).backward()
    grad = model.head.weight.grad  # (V, d)
    assert grad.sum(0).abs().max() < 1e-6 * grad.abs().max() * grad.shape[0]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = model.head.weight.detach().mean(0).clone()
    opt.step()
    assert (model.head.weight.detach().mean(0) - before).norm() > 1e-4  # Adam's first step is lr * sign(g)


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match="tie_weights"):
        A.center_head_(tiny(tie_weights=True))
    with pytest.raises(ValueError, match="not known"):
        A.run(variants=("mu centring",))
    one = dict(z_loss=0.0, mu_centering=False, val_loss=[3.0, 2.5], train_loss=[3.1, 2.4], init={}, seconds=0.0,
               mean_row_norm=[0.1, 0.2], row_norm=[1.0, 1.0], anisotropy=[0.1, 0.2], mean_logit=[-1.0, -2.0])
    fake = A.HeadRuns({}, [A.HeadRun(variant="none", lr=0.1, seed=s, log_z=[1.0, 2.0 + s], **one) for s in (1, 0)])
    assert A.table(fake, "log_z") == {"none": {0.1: [2.0, 3.0]}}  # seed order, not file order
    assert A.table(fake, "log_z", epoch=0) == {"none": {0.1: [1.0, 1.0]}}
    with pytest.raises(ValueError, match="allowed"):
        A.table(fake, "init")  # not a per-epoch series
    with pytest.raises(ValueError, match="mu-centred heads only"):
        A.table(fake, "raw_mean_row_norm")


def test_a_tiny_run_records_the_head_every_epoch(monkeypatch, tmp_path):
    monkeypatch.setitem(A.SCALES, "cpu", dict(d_model=16, n_layers=1, n_heads=2, block_size=16, n_train=32,
                                              epochs=2, batch_size=16))
    out = A.run(lrs=(1e-2,), variants=("none", "mu-centering"), seeds=(0,), device="cpu", log=None)
    none, centred = out.runs
    assert (none.variant, centred.variant) == ("none", "mu-centering") and none.raw_mean_row_norm is None
    assert len(none.anisotropy) == len(centred.raw_mean_row_norm) == len(none.val_loss) == 2
    assert max(centred.mean_row_norm) < 1e-5 < min(none.mean_row_norm)
    A.save(out, tmp_path / "a.json")
    assert A.load(tmp_path / "a.json") == out
