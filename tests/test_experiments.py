"""Tests for regviz.experiments: the stored LM learning-rate sweep and the code that makes it."""
import math
from pathlib import Path

import pytest

from regviz.experiments import lm_stability

STORED = Path(__file__).resolve().parents[1] / "notebooks" / "results" / "lm_lr_sweep.json"


@pytest.fixture()
def tiny_scale(monkeypatch):
    monkeypatch.setitem(lm_stability.SCALES, "tiny", dict(d_model=16, n_layers=1, n_heads=2, block_size=16,
                                                          n_train=64, epochs=2, batch_size=16))


class TestRunSweep:
    """run_sweep trains one model per (variant, lr) with the recipe it records."""

    def test_records_every_run(self, tiny_scale, tmp_path):
        """Each (variant, lr) gets a run with per-epoch loss, log Z and attention-logit series; the CLI writes JSON."""
        variants = (("a", 1e-4, True), ("b", 0.0, False))
        out = lm_stability.run_sweep(lrs=(1e-3, 1e-2), variants=variants, scale="tiny", device="cpu", progress=False)
        assert [(r.variant, r.lr) for r in out.runs] == [("a", 1e-3), ("a", 1e-2), ("b", 1e-3), ("b", 1e-2)]
        for r in out.runs:
            assert len(r.val_loss) == len(r.log_z) == len(r.attn_logit_max) == 2
        assert out.config["weight_decay"] == 0.0 and out.config["betas"] == [0.9, 0.95]
        assert lm_stability.final_losses(out)["b"][1e-2] == out.runs[3].val_loss[-1]
        assert out.pick("b", 1e-2) is out.runs[3]
        with pytest.raises(ValueError, match=r"variant='c'.*\['a', 'b'\]"):
            out.pick("c", 1e-2)
        lm_stability.save(out, tmp_path / "s.json")  # JSON-friendly, and read back whole
        assert lm_stability.load(tmp_path / "s.json") == out

    def test_same_seed_same_numbers(self, tiny_scale):
        """The sweep is reproducible: two calls give identical losses."""
        kw = dict(lrs=(3e-3,), variants=(("a", 1e-4, True),), scale="tiny", device="cpu", progress=False)
        assert lm_stability.run_sweep(**kw).runs[0].val_loss == lm_stability.run_sweep(**kw).runs[0].val_loss

    def test_gpu_scale_is_a_valid_configuration(self, monkeypatch):
        """The --scale gpu model and block size train (shrunk to 16 blocks and 1 epoch so it runs here)."""
        small = dict(lm_stability.SCALES["gpu"], n_train=16, epochs=1)
        monkeypatch.setitem(lm_stability.SCALES, "gpu", small)
        out = lm_stability.run_sweep(lrs=(1e-3,), variants=(("a", 1e-4, True),), scale="gpu", device="cpu",
                                     progress=False)
        assert out.config["model"]["d_model"] == 256 and out.config["model"]["block_size"] == 128
        assert math.isfinite(out.runs[0].val_loss[0])

    def test_cli_adds_variants_to_a_stored_sweep(self, tiny_scale, tmp_path, monkeypatch, capsys):
        """--variants runs only the named ones and merges them into an existing file made with the same setting;
        an unknown name is refused."""
        monkeypatch.setattr(lm_stability, "LRS", (1e-3,))
        monkeypatch.setattr(lm_stability, "run_sweep",
                            lambda run=lm_stability.run_sweep, **kw: run(**{**kw, "lrs": (1e-3,)}))
        out = tmp_path / "s.json"
        lm_stability.main(["--out", str(out), "--scale", "tiny", "--device", "cpu",
                           "--variants", lm_stability.RECIPE])
        lm_stability.main(["--out", str(out), "--scale", "tiny", "--device", "cpu",
                           "--variants", lm_stability.NEITHER])
        runs = lm_stability.load(out).runs
        assert [r.variant for r in runs] == [lm_stability.RECIPE, lm_stability.NEITHER]
        assert runs[1].qk_norm is False and runs[1].z_loss == 0.0
        with pytest.raises(SystemExit):
            lm_stability.main(["--out", str(out), "--scale", "tiny", "--variants", "no layernorm at all"])
        assert "not known" in capsys.readouterr().err

    def test_bfloat16_precision_is_recorded_and_differs(self, tiny_scale):
        kw = dict(lrs=(3e-3,), variants=(("a", 1e-4, True),), scale="tiny", device="cpu", progress=False)
        bf = lm_stability.run_sweep(precision="bfloat16", **kw)
        fp = lm_stability.run_sweep(**kw)
        assert bf.config["precision"] == "bfloat16" and "precision" not in fp.config
        assert bf.runs[0].val_loss != fp.runs[0].val_loss  # autocast reached the forward pass
        with pytest.raises(ValueError, match="allowed"):
            lm_stability.run_sweep(precision="float8", **kw)

    def test_bad_scale(self):
        """An unknown scale raises ValueError naming the allowed ones."""
        with pytest.raises(ValueError, match="cpu"):
            lm_stability.run_sweep(scale="huge")


class TestStoredSweep:
    """The committed result file has what chapter 07 reads."""

    def test_shape(self):
        """At least 6 learning rates spanning at least 2 decades, for every variant of the module."""
        sweep = lm_stability.load(STORED)
        table = lm_stability.final_losses(sweep)
        assert set(table) == {name for name, _, _ in lm_stability.VARIANTS}  # the "neither" variant included
        for by_lr in table.values():
            lrs = sorted(by_lr)
            assert len(lrs) >= 6 and math.log10(lrs[-1] / lrs[0]) >= 2

    def test_bfloat16_file_matches_the_float32_setting(self):
        """The bfloat16 sweep covers the same learning rates and setting as the float32 one, for its variants."""
        bf = lm_stability.load(STORED.with_name("lm_lr_sweep_bf16.json"))
        fp = lm_stability.load(STORED)
        assert bf.config["precision"] == "bfloat16" and "precision" not in fp.config
        strip = lambda c: {k: v for k, v in c.items() if k not in ("precision", "threads")}  # noqa: E731
        assert strip(bf.config) == strip(fp.config)
        t16, t32 = lm_stability.final_losses(bf), lm_stability.final_losses(fp)
        assert {lm_stability.RECIPE, lm_stability.NEITHER} <= set(t16)
        assert all(sorted(t16[n]) == sorted(t32[n]) for n in t16)


@pytest.fixture(scope="module")
def dropout_tiny():
    """Chapter 03: a tiny p x seed FashionMNIST sweep (2 p, 2 seeds, 2 epochs)."""
    from regviz.experiments import dropout
    return dropout.fashion_sweep(ps=[0.0, 0.5], seeds=[0, 1], n_train=64, n_val=64, width=16, depth=1,
                                 epochs=2, batch_size=32, device="cpu", n_eval_train=64)


class TestDropoutFashionSweep:
    """Chapter 03: the p x seed sweep on FashionMNIST, its JSON round trip, and fixed sub-networks."""

    def test_shape_and_recorded_settings(self, dropout_tiny):
        assert dropout_tiny.ps == [0.0, 0.5] and dropout_tiny.seeds == [0, 1]
        for p, hs in dropout_tiny.mlp.items():
            assert len(hs) == 2 and all(h.config["p"] == p and h.num_epochs == 2 for h in hs)
            assert [h.config["seed"] for h in hs] == [0, 1]
        assert [h.config["depth"] for h in dropout_tiny.logistic] == [0, 0]

    def test_round_trip(self, dropout_tiny, tmp_path):
        from regviz.experiments import dropout
        dropout.save_sweep(dropout_tiny, tmp_path / "g.json", command="cmd")
        back = dropout.load_sweep(tmp_path / "g.json")
        assert back.command == "cmd" and back.config == dropout_tiny.config
        assert back.mlp[0.5][1].val_loss == dropout_tiny.mlp[0.5][1].val_loss
        assert dropout.best_scores(back.logistic) == dropout.best_scores(dropout_tiny.logistic)

    def test_best_scores(self):
        from regviz.experiments.dropout import best_scores
        from regviz.history import History
        h = History(train_loss=[1.0, 0.2], val_loss=[0.9, 1.1], train_acc=[0.5, 0.9], val_acc=[0.6, 0.7])
        assert best_scores([h]) == {"best val acc": [0.7], "best val loss": [0.9], "final gap": [pytest.approx(0.9)]}

    def test_subnetworks_share_one_mask_per_pass(self):
        """Each pass is ONE thinned network: with all-equal inputs every row of a pass gives the same output."""
        import torch
        from regviz import MLP
        from regviz.experiments.dropout import subnetwork_probs
        torch.manual_seed(0)
        net = MLP(8, 3, width=64, depth=2, p=0.5)
        X = torch.randn(1, 8).expand(20, 8)
        probs = subnetwork_probs(net, X, num_masks=5, seed=0)  # (5, 20, 3)
        assert probs.shape == (5, 20, 3)
        assert torch.allclose(probs, probs[:, :1].expand_as(probs))       # one mask per pass, shared by the batch
        assert not torch.allclose(probs[0], probs[1])                       # a new mask each pass
        assert torch.equal(probs, subnetwork_probs(net, X, num_masks=5, seed=0)) and net.training
        with torch.no_grad():
            net.eval(); full = net(X).softmax(-1)
        assert not torch.allclose(probs[0], full)


class TestDropoutMoreData:
    """Chapter 03's second stored grid: 5,000 images, p = 0 vs 0.5, at least 3 seeds, and the CLI that made it."""

    def test_stored_file(self):
        from regviz.experiments import dropout
        if not dropout.STORED_MORE_DATA.exists():
            pytest.skip("no stored 5,000-image dropout grid")
        d = dropout.load_sweep(dropout.STORED_MORE_DATA)
        assert d.config["n_train"] == dropout.MORE_DATA["n_train"] and sorted(d.mlp) == [0.0, 0.5]
        assert all(len(hs) == len(d.seeds) >= 3 for hs in d.mlp.values())
        assert all(h.num_epochs == dropout.MORE_DATA["epochs"] for h in d.mlp[0.5])
        assert "--setting more_data" in d.command

    def test_cli_rejects_bad_ps(self, capsys):
        from regviz.experiments.dropout import main
        with pytest.raises(SystemExit):
            main(["--out", "x.json", "--ps", "0,half"])
        assert "--ps='0,half'" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            main(["--out", "x.json", "--setting", "huge"])


class TestFashionReference:
    """Chapter 01: the FashionMNIST reference models, and the stored full-split result."""

    REF = Path(__file__).resolve().parents[1] / "notebooks" / "results" / "fashion_reference.json"

    def test_models(self):
        from regviz import count_parameters
        from regviz.experiments.overfitting import reference_model
        assert count_parameters(reference_model("logreg")) == 784 * 10 + 10  # one nn.Linear(784, 10)
        assert count_parameters(reference_model("mlp")) == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
        with pytest.raises(ValueError):
            reference_model("resnet")

    def test_tiny_run_records_what_it_did(self, tmp_path):
        from regviz.experiments.overfitting import REFERENCE, fashion_reference, load_reference, save_reference
        out = fashion_reference(n_train=1024, n_val=256, epochs=3, models=("logreg", "mlp"), device="cpu")
        assert out.config["n_train"] == 1024 and out.config["n_val"] == 256
        assert set(out.runs) == {"logreg", "mlp"}
        for name, r in out.runs.items():
            assert r.reference == REFERENCE[name] and r.test_acc == r.history.val_acc[-1]
            assert len(r.history.val_acc) == 3
        assert out.runs["mlp"].test_acc > 0.5  # learned something in 24 steps (chance is 0.1)
        save_reference(out, tmp_path / "ref.json")
        back = load_reference(tmp_path / "ref.json")
        assert back.config == out.config and list(back.runs) == list(out.runs)
        assert all(back.runs[n].history.val_loss == r.history.val_loss and back.runs[n].wall_s == r.wall_s
                   for n, r in out.runs.items())

    def test_stored_file_is_the_full_split_near_the_references(self):
        from regviz.experiments.overfitting import load_reference
        stored = load_reference(self.REF)
        assert stored.config["n_train"] == 60000 and stored.config["n_val"] == 10000
        assert "--reference" in stored.config["command"]
        for r in stored.runs.values():
            assert abs(r.test_acc - r.reference) <= 0.02 and r.history.val_acc[-1] == r.test_acc


class TestFashionLambdaSweep:
    """Chapter 02: the lambda x seed AdamW sweep on FashionMNIST."""

    def test_shape_config_and_decay(self):
        from regviz.experiments.weight_decay import fashion_lambda_sweep, per_seed
        out = fashion_lambda_sweep([0.0, 30.0], seeds=[0, 1], n_train=128, n_val=64, width=16, depth=1, epochs=3,
                                   lr=1e-2, device="cpu")
        assert out.lambdas == [0.0, 30.0] and out.seeds == [0, 1]
        for lam, hs in zip(out.lambdas, out.histories):
            assert [h.config["seed"] for h in hs] == [0, 1]
            assert all(h.config["weight_decay"] == lam and h.config["optimizer"] == "adamw" for h in hs)
        final = per_seed(out, "train_loss")
        assert min(final[1]) > max(final[0])  # lr * lambda = 0.3 per step: the decayed nets cannot fit
        assert per_seed(out, "val_acc", at="best")[0] == [h.val_acc[h.best_epoch - 1] for h in out.histories[0]]
        with pytest.raises(ValueError):
            per_seed(out, at="middle")


class TestAugmentationFashion:
    """Chapter 05: the FashionMNIST augmentation / mixing runs, flips, and the stored grids."""

    STORED = Path(__file__).resolve().parents[1] / "notebooks" / "results" / "augmentation_fashion.json"

    def test_tiny_runs_record_what_they_did(self):
        from regviz.experiments import augmentation as A
        from regviz.experiments import flips
        r = A.size_run(64, augment=True, steps=4, n_val=64, device="cpu")
        assert r.n_train == 64 and r.augment is True and r.epochs == 5  # at least 5 epochs
        assert 0.0 <= r.best_val_acc <= 1.0 and r.best_val_acc >= r.final_val_acc
        m = A.mixing_run("cutmix", 1.0, n_train=64, epochs=2, n_val=64, device="cpu")
        assert m.method == "cutmix" and m.best_val_nll <= m.final_val_nll + 1e-9
        assert 0.0 <= m.final_val_ece <= 1.0
        with pytest.raises(ValueError):
            A.mixing_run("blend", 1.0, n_train=64, epochs=1, n_val=64)
        f = flips.flip_run("vertical", n_train=64, steps=2, n_val=64, device="cpu")
        assert f.flip == "vertical" and 0.0 <= f.final_val_acc <= f.best_val_acc <= 1.0
        with pytest.raises(ValueError, match="sideways"):
            flips.flip_run("sideways", n_train=64, steps=1, n_val=64)

    def test_vertical_flip_and_turned(self):
        import torch
        from regviz.experiments import flips as A
        X = torch.arange(2 * 3 * 3, dtype=torch.float32).view(2, 1, 3, 3)
        out, _ = A.VerticalFlip(1.0)(X, None, torch.Generator().manual_seed(0))
        assert torch.equal(out, X.flip(-2)) and torch.equal(X, torch.arange(18.0).view(2, 1, 3, 3))
        assert torch.equal(A.VerticalFlip(0.0)(X, None)[0], X)
        Xr = torch.rand(2000, 1, 4, 4)
        half, _ = A.VerticalFlip(0.5)(Xr, None, torch.Generator().manual_seed(0))
        flipped = (half == Xr.flip(-2)).flatten(1).all(1).float().mean()
        assert abs(float(flipped) - 0.5) < 0.03  # each image flipped with probability 1/2
        assert torch.equal(A.turned(X, "rotate 180"), torch.rot90(X, 2, (-2, -1)))
        with pytest.raises(ValueError):
            A.turned(X, "sideways")

    def test_by_setting_groups_seeds(self):
        from types import SimpleNamespace
        from regviz.experiments.augmentation import by_setting
        rows = [SimpleNamespace(n_train=n, augment=a, seed=s, best_val_acc=n + a + s / 10) for n in (1, 2)
                for a in (0, 1) for s in (0, 1)]
        g = by_setting(rows, "n_train,augment", "best_val_acc")
        assert g[(2, 1)] == [3.0, 3.1] and len(g) == 4
        assert by_setting(rows, "seed", "best_val_acc")[1] == [1.1, 2.1, 2.1, 3.1]

    def test_stored_grid_is_complete(self):
        from regviz.experiments.augmentation import by_setting, load_results
        if not self.STORED.exists():
            pytest.skip("no stored chapter-05 grid")
        res = load_results(self.STORED)
        cfg = res.config
        assert "python -m regviz.experiments.augmentation" in res.command and res.seconds > 0
        g = by_setting(res.sizes, "n_train,augment", "best_val_acc")
        assert set(g) == {(n, a) for n in cfg["sizes"] for a in (False, True)}
        assert all(len(v) == len(cfg["seeds"]) >= 3 for v in g.values())
        m = by_setting(res.mixing, "method", "final_val_ece")
        assert set(m) == {"plain", "mixup", "cutmix"} and all(len(v) >= 3 for v in m.values())

    def test_both_stored_grids_differ_in_steps(self):
        """The chapter contrasts a short and a long training budget: same CNN and augmentation, more steps."""
        from regviz.experiments.augmentation import load_results
        short = self.STORED.with_name("augmentation_fashion_400steps.json")
        if not (self.STORED.exists() and short.exists()):
            pytest.skip("stored chapter-05 grids missing")
        a, b = load_results(short).config, load_results(self.STORED).config
        assert a["steps"] < b["steps"] and a["cnn"] == b["cnn"] and a["augment"] == b["augment"]
        assert a["mix_epochs"] < b["mix_epochs"]

    def test_cli_rejects_bad_sizes(self, capsys):
        from regviz.experiments.augmentation import main
        with pytest.raises(SystemExit):
            main(["--out", "x.json", "--sizes", "250,lots"])
        assert "--sizes='250,lots'" in capsys.readouterr().err


class TestLMRegularisers:
    """Chapter 07: every LM regulariser over seeds, in the setting that has learned more than pair counts."""

    def test_tiny_run(self):
        from regviz.experiments import lm_regularisers as L
        r = L.run(variants=("none", "weight tying", "weight decay 1.0, all parameters"), seeds=(0, 1),
                  n_train_blocks=8, epochs=2, n_eval_val=8, log=None)
        assert r.config["train_chars"] == 8 * 32 and r.config["seeds"] == [0, 1]
        assert {"bigram", "kneser-ney 3"} <= set(r.baselines)
        best = L.by_variant(r)
        assert set(best) == {"none", "weight tying", "weight decay 1.0, all parameters"}
        assert all(len(v) == 2 for v in best.values())
        assert best["none"][0] != best["none"][1]  # the seed changes the run
        gap = L.by_variant(r, "final gap")["none"][0]
        run0 = next(x for x in r.runs if x.variant == "none" and x.seed == 0)
        assert gap == pytest.approx(run0.val_loss[-1] - run0.train_loss[-1])

    def test_bad_names(self):
        from regviz.experiments import lm_regularisers as L
        with pytest.raises(ValueError, match="allowed"):
            L.run(variants=("dropconnect",))
        with pytest.raises(ValueError, match="allowed"):
            L.run(variants=("none",), width=3)
        with pytest.raises(ValueError, match="allowed"):
            L.by_variant(L.RegulariserRuns({}, {}, []), "median")

    def test_stored_file(self):
        from regviz.experiments import lm_regularisers as L
        if not L.STORED.exists():
            pytest.skip("no stored chapter-07 regulariser grid")
        r = L.load()
        best = L.by_variant(r)
        assert set(best) == set(L.VARIANTS) and all(len(v) >= 3 for v in best.values())
        assert "python -m regviz.experiments.lm_regularisers" in r.command and r.seconds > 0
        with pytest.raises(ValueError, match="without log Z"):  # this grid was stored before log Z was recorded
            L.by_variant(r, "final log Z")

    def test_zloss_grid(self):
        from regviz.experiments import lm_regularisers as L
        r = L.run(variants=("none", "z-loss 0.1"), seeds=(0,), n_train_blocks=8, epochs=2, n_eval_val=8, log=None)
        z = L.by_variant(r, "final log Z")
        assert set(z) == {"none", "z-loss 0.1"} and all(len(r_.log_z) == 2 for r_ in r.runs)
        assert z["z-loss 0.1"][0] != z["none"][0]  # the coefficient reached the loss
        if L.STORED_Z.exists():
            stored = L.load(L.STORED_Z)
            assert set(L.by_variant(stored, "final log Z")) == set(L.Z_VARIANTS)
            assert "--grid zloss" in stored.command
