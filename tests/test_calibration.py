"""regviz.calibration: temperature scaling, predictions and penultimate features of a trained model, projections."""
import pytest
import torch
from torch import nn

from regviz.calibration import (cluster_spread, fit_temperature, last_linear_weight, penultimate_features,
                                predict_logits, temperature_held_out, template_projection)


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))


class TestPredictAndFeatures:
    """Logits and penultimate features in eval mode, the caller's mode restored."""

    def test_predict_logits_is_eval_mode_and_batched(self):
        net, X = _net(), torch.randn(50, 6)
        net.train()
        out = predict_logits(net, X, batch_size=7)  # 8 batches, the last one short
        assert net.training and not out.requires_grad
        net.eval()
        torch.testing.assert_close(out, net(X))

    def test_penultimate_features_are_the_last_linear_input(self):
        net, X = _net(1), torch.randn(20, 6)
        feats = penultimate_features(net, X)
        torch.testing.assert_close(feats, torch.relu(net[0](X)))  # dropout is off in eval mode
        torch.testing.assert_close(feats @ last_linear_weight(net).T + net[3].bias, predict_logits(net, X))

    def test_a_model_without_a_linear_layer_is_refused(self):
        conv = nn.Conv1d(1, 1, 3)
        with pytest.raises(ValueError, match="Conv1d has no nn.Linear"):
            penultimate_features(conv, torch.randn(2, 1, 5))
        with pytest.raises(ValueError, match="Conv1d has no nn.Linear"):
            last_linear_weight(conv)


class TestTemperature:
    """Temperature scaling recovers a known temperature and never changes the predicted class."""

    def test_recovers_true_temperature(self):
        """Logits scaled by 3 from a calibrated model give T close to 3."""
        g = torch.Generator().manual_seed(3)
        logits = 2 * torch.randn(20000, 5, generator=g)
        y = torch.multinomial(logits.softmax(1), 1, generator=g).squeeze(1)
        T = fit_temperature(3.0 * logits, y)
        assert abs(T - 3.0) < 0.1

    def test_held_out_half(self):
        """temperature_held_out fits T on the first half only and rescales the second half with it."""
        g = torch.Generator().manual_seed(5)
        logits = 2 * torch.randn(2001, 4, generator=g)
        y = torch.multinomial(logits.softmax(1), 1, generator=g).squeeze(1)
        cal = temperature_held_out(3.0 * logits, y)
        assert cal["T"] == fit_temperature(3.0 * logits[:1000], y[:1000])
        torch.testing.assert_close(cal["after"], (3.0 * logits[1000:] / cal["T"]).softmax(-1))
        assert torch.equal(cal["y"], y[1000:]) and abs(cal["T"] - 3.0) < 0.2


class TestProjection:
    """Template projection and the cluster-spread ratio."""

    def test_templates_map_to_a_triangle(self):
        """The three templates project to points whose pairwise distances equal theirs in D dimensions."""
        g = torch.Generator().manual_seed(4)
        W = torch.randn(5, 16, generator=g)
        P = template_projection(W[[0, 2, 4]], W, (0, 2, 4))
        torch.testing.assert_close(torch.pdist(P), torch.pdist(W[[0, 2, 4]]), rtol=1e-4, atol=1e-4)

    def test_cluster_spread(self):
        """Two tight clusters far apart have a small ratio; shrinking the spread halves it."""
        pts = torch.tensor([[0.0, 1.0], [0.0, -1.0], [10.0, 1.0], [10.0, -1.0]])
        y = torch.tensor([0, 0, 1, 1])
        assert abs(cluster_spread(pts, y) - 0.1) < 1e-6
        assert abs(cluster_spread(pts * torch.tensor([1.0, 0.5]), y) - 0.05) < 1e-6


class TestTemperatureChecks:
    """Bad shapes are refused; a calibrated model needs no temperature and keeps its arg-max."""

    def test_bad_shapes(self):
        with pytest.raises(ValueError, match=r"got \(4,\) and \(4,\)"):
            fit_temperature(torch.randn(4), torch.zeros(4, dtype=torch.long))
        with pytest.raises(ValueError, match=r"got \(4, 3\) and \(5,\)"):
            fit_temperature(torch.randn(4, 3), torch.zeros(5, dtype=torch.long))

    def test_calibrated_logits_keep_t_near_one_and_the_argmax(self):
        g = torch.Generator().manual_seed(6)
        logits = 2 * torch.randn(6000, 3, generator=g)
        y = torch.multinomial(logits.softmax(1), 1, generator=g).squeeze(1)
        cal = temperature_held_out(logits, y)
        assert abs(cal["T"] - 1.0) < 0.1
        assert torch.equal(cal["before"].argmax(-1), cal["after"].argmax(-1))

    def test_projection_and_spread_arguments(self):
        with pytest.raises(ValueError, match="three different class indices"):
            template_projection(torch.randn(4, 8), torch.randn(5, 8), (0, 0, 1))
        with pytest.raises(ValueError, match="at least two classes"):
            cluster_spread(torch.randn(4, 2), torch.zeros(4, dtype=torch.long))


class TestTrainingLivesElsewhere:
    """fit_recording is an experiment; the old name in regviz.calibration is loaded only when asked for."""

    def test_old_import_gives_the_experiment(self):
        import regviz.calibration as cal
        from regviz.experiments.recording import fit_recording
        assert cal.fit_recording is fit_recording
        with pytest.raises(AttributeError, match="no attribute 'fit'"):
            cal.fit  # noqa: B018 -- the training loop is not reachable from here
