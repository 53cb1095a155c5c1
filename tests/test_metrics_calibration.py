"""Expected calibration error and reliability data (regviz.metrics), and the runs that record them per epoch.

The post-hoc calibration tools (temperature scaling, projections) are in test_calibration.py.
"""
import types

import pytest
import torch
import torch.nn.functional as F

from regviz.experiments.recording import CalibrationRecorder
from regviz.metrics import expected_calibration_error, negative_log_likelihood, reliability_data


def _reference_ece(probs, y, n_bins):
    """Loop version of Guo et al.'s definition, bins ((m-1)/M, m/M]."""
    conf, pred = probs.max(1)
    acc = (pred == y).float()
    total = 0.0
    for m in range(n_bins):
        lo, hi = m / n_bins, (m + 1) / n_bins
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.float().mean() * (acc[inside].mean() - conf[inside].mean()).abs()
    return float(total)


class TestECE:
    """ECE against a loop reference and hand-made cases."""

    def test_matches_loop_reference(self):
        """Vectorised ECE equals the bin-by-bin loop for random predictions."""
        g = torch.Generator().manual_seed(0)
        probs = (2 * torch.randn(500, 10, generator=g)).softmax(1)
        y = torch.randint(0, 10, (500,), generator=g)
        for n_bins in (1, 5, 15):
            assert abs(expected_calibration_error(probs, y, n_bins) - _reference_ece(probs, y, n_bins)) < 1e-6

    def test_hand_computed_case(self):
        """Four predictions at confidence 0.9, three right: ECE = |0.75 - 0.9| = 0.15."""
        probs = torch.tensor([[0.9, 0.1]] * 4)
        y = torch.tensor([0, 0, 0, 1])
        assert abs(expected_calibration_error(probs, y) - 0.15) < 1e-6

    def test_perfectly_calibrated_sampling(self):
        """Labels drawn from the predicted distribution give a small ECE; always-wrong labels a large one."""
        g = torch.Generator().manual_seed(1)
        probs = (1.5 * torch.randn(20000, 5, generator=g)).softmax(1)
        y = torch.multinomial(probs, 1, generator=g).squeeze(1)
        assert expected_calibration_error(probs, y) < 0.02
        wrong = (probs.argmax(1) + 1) % 5
        assert abs(expected_calibration_error(probs, wrong) - float(probs.max(1).values.mean())) < 1e-5

    def test_reliability_counts_and_edges(self):
        """Counts sum to N; a confidence exactly on an edge goes to the lower bin."""
        probs = torch.tensor([[0.6, 0.4], [0.95, 0.05], [0.5, 0.5]])
        d = reliability_data(probs, torch.tensor([0, 1, 0]), n_bins=10)
        assert sum(d["count"]) == 3
        assert d["count"][5] == 1 and d["count"][4] == 1 and d["count"][9] == 1  # 0.6 -> (0.5, 0.6], 0.5 -> (0.4, 0.5]

    def test_nll_matches_cross_entropy(self):
        """NLL of softmax probabilities equals F.cross_entropy on the logits."""
        g = torch.Generator().manual_seed(2)
        logits = torch.randn(30, 4, generator=g)
        y = torch.randint(0, 4, (30,), generator=g)
        assert abs(negative_log_likelihood(logits.softmax(1), y) - float(torch.nn.functional.cross_entropy(logits, y))) < 1e-5

    def test_bad_arguments(self):
        """Mismatched shapes and n_bins < 1 raise ValueError."""
        with pytest.raises(ValueError):
            expected_calibration_error(torch.rand(3, 2), torch.tensor([0, 1]))
        with pytest.raises(ValueError):
            expected_calibration_error(torch.rand(2, 2), torch.tensor([0, 1]), n_bins=0)


class TestCalibrationRecorder:
    """The recorder turns fit's validation logits into plain NLL, ECE, confidence and logit norm."""

    def test_values_match_their_definitions(self):
        g = torch.Generator().manual_seed(0)
        logits = 3 * torch.randn(200, 4, generator=g)
        y = torch.randint(0, 4, (200,), generator=g)
        rec = CalibrationRecorder(n_bins=10)
        out = rec(None, types.SimpleNamespace(y_val=y), {"val": logits})
        assert out["val_nll"] == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-5)
        assert out["val_ece"] == pytest.approx(expected_calibration_error(logits.softmax(-1), y, 10), abs=1e-7)
        assert out["val_conf"] == pytest.approx(float(logits.softmax(-1).max(-1).values.mean()), rel=1e-6)
        assert out["logit_norm"] == pytest.approx(float(logits.norm(dim=-1).mean()), rel=1e-6)

    def test_keeps_one_cpu_copy_per_call_unless_told_not_to(self):
        logits, data = torch.randn(5, 3), types.SimpleNamespace(y_val=torch.tensor([0, 1, 2, 0, 1]))
        rec, off = CalibrationRecorder(), CalibrationRecorder(keep_logits=False)
        for scale in (1.0, 2.0):
            rec(None, data, {"val": scale * logits})
            off(None, data, {"val": logits})
        assert len(rec.logits) == 2 and torch.equal(rec.logits[1], 2 * logits) and off.logits == []
        logits.mul_(0)  # a later change to fit's tensor does not reach the kept copy
        assert rec.logits[0].abs().sum() > 0


class TestRecorder:
    """experiments.recording.fit_recording logs plain NLL/ECE that match a recomputation from the final model."""

    def test_extras_match_final_model(self):
        """Per-epoch extras have one entry per epoch; the last equals metrics of the trained model's logits."""
        import regviz
        from regviz.calibration import predict_logits
        from regviz.experiments.recording import fit_recording

        data = regviz.load_dataset("moons", n_train=64, n_val=128, seed=0, device="cpu")
        torch.manual_seed(0)
        model = regviz.MLP(data.in_features, data.num_classes, width=16, depth=1)
        hist, logits = fit_recording(model, data, label_smoothing=0.1, epochs=3, lr=1e-2, device="cpu", progress=False)
        assert all(len(hist.extra[k]) == 3 for k in ("val_nll", "val_ece", "val_conf", "logit_norm"))
        final = predict_logits(model, data.X_val)
        torch.testing.assert_close(logits[-1], final)
        assert abs(hist.extra["val_nll"][-1] - float(torch.nn.functional.cross_entropy(final, data.y_val))) < 1e-5
        assert abs(hist.extra["val_ece"][-1] - _reference_ece(final.softmax(1), data.y_val, 15)) < 1e-6
        # smoothing is a training objective: fit reports plain cross-entropy, the same NLL the recorder measures
        assert hist.val_loss[-1] == pytest.approx(hist.extra["val_nll"][-1], rel=1e-6)
        assert hist.config["label_smoothing"] == 0.1


class TestCalibrationOverSeeds:
    """Chapter 04: calibration_over_seeds scores each stacked member on the whole validation set."""

    def test_scores_match_fit_and_table(self):
        """Each seed's accuracy / NLL equal fit's last-epoch validation numbers; the table carries the verdicts."""
        from regviz.experiments.label_smoothing import calibration_over_seeds, calibration_table
        out = calibration_over_seeds("mnist1d", label_smoothing=(0.0, 0.3), seeds=(0, 1), n_train=200, n_val=None,
                                     epochs=3, width=16, lr=3e-3, device="cpu")
        assert out.runs[0.0].logits.shape == (2, len(out.y), 10)
        for r in out.runs.values():
            for h, s in zip(r.histories, r.scores):
                assert s["acc"] == pytest.approx(h.val_acc[-1], abs=1e-6)
                assert s["nll"] == pytest.approx(h.val_loss[-1], rel=1e-4)
                assert 0 <= s["ece"] <= 1 and s["T"] > 0
        assert out.runs[0.0].histories[0].config["label_smoothing"] == 0.0
        assert out.runs[0.3].histories[1].config["label_smoothing"] == 0.3
        # eps=0.3 lowers the mean confidence of every seed
        assert all(a["conf"] > b["conf"] for a, b in zip(out.runs[0.0].scores, out.runs[0.3].scores))
        text = calibration_table(out)
        assert "vs eps=0" in text and ("beyond 2 SE" in text or "within noise" in text)
