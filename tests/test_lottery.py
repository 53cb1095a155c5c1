"""Tests for regviz.experiments.lottery: magnitude pruning (against torch.nn.utils.prune) and the lottery ticket."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from regviz import load_dataset
from regviz.experiments.lottery import apply_masks_, fraction_kept, lottery_ticket, magnitude_masks
from regviz.models import MLP


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.BatchNorm1d(5), nn.Linear(5, 3))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", n_train=200, n_val=200, device="cpu")


class TestMagnitudeMasks:
    """magnitude_masks equals torch.nn.utils.prune.l1_unstructured applied round after round."""

    def test_matches_torch_prune_iterative(self):
        torch.manual_seed(0)
        m = nn.Sequential(nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 10))
        ref = [nn.Linear(30, 20), nn.Linear(20, 10)]
        ref[0].load_state_dict(m[0].state_dict()); ref[1].load_state_dict(m[2].state_dict())
        masks = None
        for _ in range(3):
            masks = magnitude_masks(m, 0.3, masks=masks)
            for layer in ref:
                prune.l1_unstructured(layer, "weight", amount=0.3)
        assert torch.equal(masks["0.weight"], ref[0].weight_mask.bool())
        assert torch.equal(masks["2.weight"], ref[1].weight_mask.bool())
        assert abs(fraction_kept(masks) - 0.7 ** 3) < 0.01

    def test_masked_weights_stay_zero_in_training(self):
        m = _mlp()
        masks = magnitude_masks(m, 0.5)
        handles = apply_masks_(m, masks)
        opt = torch.optim.AdamW(m.parameters(), lr=0.1, weight_decay=0.1)
        X, y = torch.randn(32, 6), torch.arange(32) % 3
        for _ in range(10):
            opt.zero_grad(); F.cross_entropy(m(X), y).backward(); opt.step()
        for n, mask in masks.items():
            p = dict(m.named_parameters())[n]
            assert torch.all(p[~mask] == 0) and torch.all(p[mask] != 0)
        for h in handles:
            h.remove()

    def test_bad_amount(self):
        with pytest.raises(ValueError, match="amount"):
            magnitude_masks(_mlp(), 1.0)


class TestLotteryTicket:
    """lottery_ticket prunes the stated fractions and rewinds to the same initial weights."""

    def test_rounds_and_fractions(self, digits):
        res = lottery_ticket(lambda: MLP(64, 10, width=32, depth=1), digits, rounds=2, amount=0.5, epochs=2, lr=1e-2,
                             device="cpu")
        kept = [r["kept"] for r in res]
        # hidden layer 64*32 loses 50% per round, output layer 32*10 loses 25% per round
        expect = [(2048 * 0.5 ** k + 320 * 0.75 ** k) / 2368 for k in range(3)]
        assert [round(k, 3) for k in kept] == [round(e, 3) for e in expect]
        assert res[0]["history"].num_epochs == 2

    def test_bad_reinit(self):
        with pytest.raises(ValueError, match="reinit"):
            lottery_ticket(lambda: _mlp(), None, reinit="shuffle")

    def test_seeded_and_caller_rng_untouched(self, digits):
        """Same seed, same rounds, whatever the caller's generator; the caller's generator state is unchanged."""
        kw = dict(rounds=1, amount=0.5, epochs=1, lr=1e-2, device="cpu")
        make = lambda: MLP(64, 10, width=16, depth=1)  # noqa: E731
        for reinit in ("rewind", "random"):
            torch.manual_seed(123)
            before = torch.get_rng_state()
            a = lottery_ticket(make, digits, reinit=reinit, seed=0, **kw)
            assert torch.equal(torch.get_rng_state(), before)
            torch.manual_seed(456)
            b = lottery_ticket(make, digits, reinit=reinit, seed=0, **kw)
            assert [r["history"].val_loss for r in a] == [r["history"].val_loss for r in b]
        assert lottery_ticket(make, digits, seed=1, **kw)[0]["val_loss"] != a[0]["val_loss"]

    @pytest.mark.parametrize("bad", [dict(rounds=-1), dict(amount=1.0), dict(output_amount=-0.1)])
    def test_bad_arguments(self, bad):
        with pytest.raises(ValueError, match=next(iter(bad))):
            lottery_ticket(lambda: _mlp(), None, **bad)
