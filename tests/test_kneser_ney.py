"""regviz.kneser_ney against a plain dictionary implementation of Chen & Goodman's interpolated Kneser-Ney."""
import math
from collections import defaultdict

import pytest
import torch

from regviz.kneser_ney import kn_log_probs, kneser_ney_loss
from regviz.text import lm_dataset, ngram_loss


def reference_kn(train_rows, history, w, n, V, D):
    """P_KN(w | history) written out with dicts, straight from the formula (no vectorisation)."""
    def grams(m):
        out = defaultdict(int)
        for row in train_rows:
            for i in range(len(row) - m + 1):
                out[tuple(row[i:i + m])] += 1
        return out

    def table(m):  # raw counts at the top order, continuation counts below
        if m == n:
            return grams(m)
        cont = defaultdict(int)
        for g in grams(m + 1):
            cont[g[1:]] += 1
        return cont

    def p(m, h):
        if m == 0:
            return 1.0 / V
        t = table(m)
        h = tuple(h[len(h) - (m - 1):]) if m > 1 else ()
        c_h = sum(c for g, c in t.items() if g[:-1] == h)
        if c_h == 0:
            return p(m - 1, h)
        n1 = sum(1 for g, c in t.items() if g[:-1] == h and c > 0)
        return max(t.get(h + (w,), 0) - D, 0) / c_h + D * n1 / c_h * p(m - 1, h)

    return p(min(n, len(history) + 1), tuple(history))


ROWS = [[0, 1, 2, 0, 1, 1, 2, 0], [2, 2, 1, 0, 1, 2, 0, 0], [1, 0, 1, 2, 2, 0, 1, 0]]


class TestAgainstReference:
    @pytest.mark.parametrize("n", [2, 3, 4])
    def test_every_position(self, n):
        """Each position's probability equals the dictionary implementation's (seen and unseen contexts)."""
        train = torch.tensor(ROWS)
        evaluate = torch.tensor([[0, 1, 2, 2, 1, 0, 0, 2], [2, 0, 0, 0, 1, 1, 1, 2]])
        logp = kn_log_probs(train, evaluate, n, V=4, discount=0.75)  # V=4: character 3 never seen
        for r, row in enumerate(evaluate.tolist()):
            for j in range(1, len(row)):
                want = reference_kn(ROWS, row[:j], row[j], n, 4, 0.75)
                assert math.exp(float(logp[r, j - 1])) == pytest.approx(want, rel=1e-12), (r, j)

    @pytest.mark.parametrize("n", [2, 3, 5])
    def test_sums_to_one(self, n):
        """For any history, the probabilities of the V possible next characters sum to 1."""
        V = 4
        for history in ([0, 1], [2, 2, 1, 0], [3], [1, 2, 0, 1, 1]):
            rows = torch.tensor([history + [w] for w in range(V)])
            probs = kn_log_probs(torch.tensor(ROWS), rows, n, V)[:, -1].exp()
            assert float(probs.sum()) == pytest.approx(1.0, abs=1e-12)


def test_on_text_beats_add_one():
    """On real text, Kneser-Ney trigrams beat add-one trigrams, and higher orders help up to a point."""
    text = ("the quick brown fox jumps over the lazy dog; " * 40) + "a lazy fox and a quick dog. " * 20
    data, _ = lm_dataset(text, block_size=16, device="cpu")
    kn = {n: kneser_ney_loss(data, n) for n in (2, 3, 4)}
    assert kn[3] < ngram_loss(data, 3) and kn[3] < kn[2]
    assert all(v > 0 for v in kn.values())


def test_errors():
    with pytest.raises(ValueError, match="discount"):
        kn_log_probs(torch.tensor(ROWS), torch.tensor(ROWS), 2, 3, discount=1.0)
    data, _ = lm_dataset("abcabcabd" * 10, block_size=4, device="cpu")
    with pytest.raises(ValueError, match="n=1"):
        kneser_ney_loss(data, 1)
