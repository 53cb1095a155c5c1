"""Tests for regviz.lm (tiny transformer LM, fit_lm) and regviz.losses.z_loss."""
import math

import pytest
import torch

from regviz.lm import TinyLM, evaluate_lm, fit_lm, generate
from regviz.text import lm_dataset, stdlib_corpus
from regviz.losses import z_loss
from regviz.penalties import decay_groups


class TestZLoss:
    """z_loss = mean over tokens of logsumexp(logits)**2."""

    def test_zero_when_log_z_is_zero(self):
        """Logits already normalised (log-probabilities) give exactly zero."""
        logits = torch.randn(4, 7, 11).log_softmax(-1)
        assert float(z_loss(logits)) == pytest.approx(0.0, abs=1e-10)

    def test_value_matches_formula(self):
        """Shifting every logit by c gives log Z = c, so the loss is c**2."""
        logits = torch.randn(3, 5, 9).log_softmax(-1) + 2.5
        assert float(z_loss(logits)) == pytest.approx(6.25, rel=1e-5)

    def test_gradient_matches_autograd_of_formula(self):
        """Gradient equals autograd of (logsumexp)^2 averaged, and the closed form 2 log Z softmax / N."""
        torch.manual_seed(0)
        logits = torch.randn(2, 6, 13, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(z_loss(logits), logits)
        ref_in = logits.detach().clone().requires_grad_()
        (g_ref,) = torch.autograd.grad((torch.logsumexp(ref_in, -1) ** 2).mean(), ref_in)
        closed = 2 * torch.logsumexp(logits, -1, keepdim=True) * logits.softmax(-1) / 12
        assert torch.allclose(g, g_ref, atol=1e-12)
        assert torch.allclose(g, closed.detach(), atol=1e-12)

    def test_not_the_logit_sum(self):
        """Logits summing to 0 can still have a large z-loss (it penalises log Z, not the sum)."""
        logits = torch.tensor([[10.0, -10.0, 0.0]])
        assert float(logits.sum()) == 0.0 and float(z_loss(logits)) > 99.0

    def test_bad_shape(self):
        """A 0-d tensor is rejected with ValueError."""
        with pytest.raises(ValueError):
            z_loss(torch.tensor(1.0))


class TestTinyLM:
    """Shapes, causality and weight tying."""

    def test_shapes(self):
        """(B, T) ids -> (B, T, V) logits."""
        m = TinyLM(20, 16, d_model=32, n_layers=2, n_heads=4)
        assert m(torch.randint(0, 20, (3, 16))).shape == (3, 16, 20)
        with pytest.raises(ValueError):
            m(torch.randint(0, 20, (1, 17)))

    def test_causal(self):
        """Changing a later token leaves earlier positions' logits unchanged."""
        torch.manual_seed(0)
        m = TinyLM(20, 16, d_model=32).eval()
        X = torch.randint(0, 20, (1, 16))
        X2 = X.clone(); X2[0, 10] = (X[0, 10] + 1) % 20
        assert torch.allclose(m(X)[0, :10], m(X2)[0, :10], atol=1e-6)
        assert not torch.allclose(m(X)[0, 10:], m(X2)[0, 10:], atol=1e-6)

    def test_weight_tying_shares_one_tensor(self):
        """Tied: head.weight IS tok_emb.weight and the parameter count drops by exactly V * d."""
        V, d = 50, 32
        untied, tied = TinyLM(V, 16, d_model=d), TinyLM(V, 16, d_model=d, tie_weights=True)
        assert tied.head.weight is tied.tok_emb.weight
        n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731 (parameters() de-duplicates)
        assert n(untied) - n(tied) == V * d
        groups = decay_groups(tied, 0.1)
        assert sum(p.numel() for g in groups for p in g["params"]) == n(tied)

    def test_dropout_only_in_training(self):
        """Eval mode is deterministic with dropout > 0; train mode is not."""
        torch.manual_seed(0)
        m = TinyLM(20, 16, d_model=32, p_embd=0.3, p_attn=0.3, p_resid=0.3)
        X = torch.randint(0, 20, (2, 16))
        m.eval()
        assert torch.equal(m(X), m(X))
        m.train()
        assert not torch.equal(m(X), m(X))

    def test_bad_p(self):
        """p outside [0, 1) raises ValueError."""
        with pytest.raises(ValueError):
            TinyLM(20, 16, p_attn=1.0)
        with pytest.raises(ValueError, match="p="):
            TinyLM(20, 16, p=1.0)

    def test_one_p_for_all_sites(self):
        """TinyLM(p=r) is TinyLM(p_embd=r, p_attn=r, p_resid=r), same weights and same dropout masks, and its
        History.config names p (the chapter-07 slider's name); unequal rates record all three."""
        def out(**kw):
            torch.manual_seed(0)
            m = TinyLM(20, 16, d_model=32, **kw).train()
            torch.manual_seed(1)
            return m, m(torch.randint(0, 20, (2, 16), generator=torch.Generator().manual_seed(2)))
        (a, ya), (b, yb) = out(p=0.2), out(p_embd=0.2, p_attn=0.2, p_resid=0.2)
        assert torch.equal(ya, yb) and a.hparams == b.hparams and a.hparams["p"] == 0.2
        assert a.hparams["p_attn"] == 0.2 and a.blocks[0].p_attn == 0.2
        assert TinyLM(20, 16, p_embd=0.1, p_attn=0.0, p_resid=0.1).hparams["p"] == [0.1, 0.0, 0.1]

    def test_qk_norm_bounds_attention_logits(self):
        """With qk-layernorm, scaling the query/key weights by 100 leaves attention logits bounded by sqrt(d_head)."""
        torch.manual_seed(0)
        X = torch.randint(0, 20, (2, 16))
        for qk_norm in (False, True):
            m = TinyLM(20, 16, d_model=32, n_heads=4, qk_norm=qk_norm).eval()
            with torch.no_grad():
                for block in m.blocks:
                    block.qkv.weight[:64] *= 100  # the query and key rows
            top = m.max_attention_logit(X)
            assert (top <= 8 ** 0.5 + 1e-4) if qk_norm else (top > 10)

    @torch.no_grad()
    def test_max_attention_logit_matches_manual_attention(self):
        """max_attention_logit equals the largest |q.k|/sqrt(d_head) computed by hand on causal positions."""
        torch.manual_seed(0)
        m = TinyLM(20, 8, d_model=16, n_heads=2, n_layers=1).eval()
        X = torch.randint(0, 20, (1, 8))
        block = m.blocks[0]
        x = m.tok_emb(X) + m.pos_emb(torch.arange(8))
        q, k, v = (t.view(1, 8, 2, 8).transpose(1, 2) for t in block.qkv(block.ln1(x)).split(16, -1))
        logits = (q @ k.transpose(-1, -2) / 8 ** 0.5).masked_fill(~torch.ones(8, 8, dtype=torch.bool).tril(), 0)
        assert m.max_attention_logit(X) == pytest.approx(float(logits.abs().max()), rel=1e-5)


@pytest.fixture(scope="module")
def data():
    return lm_dataset(stdlib_corpus(12_000), block_size=32, device="cpu")[0]


class TestFitLM:
    """The LM training loop."""

    def test_learns_and_evaluates_consistently(self, data):
        """Loss drops below the uniform ln(V) and the recorded val loss equals evaluate_lm's."""
        torch.manual_seed(0)
        m = TinyLM(data.num_classes, 32, d_model=32, n_layers=1)
        h = fit_lm(m, data, epochs=3, lr=3e-3, device="cpu")
        assert h.val_loss[-1] < math.log(data.num_classes) - 0.5
        assert evaluate_lm(m, data.X_val, data.y_val)["loss"] == pytest.approx(h.val_loss[-1], rel=1e-6)

    def test_z_loss_pulls_log_z_to_zero(self, data):
        """With a large z-loss coefficient mean log Z ends >= 1.5 nats nearer 0 than without (from ln V at init)."""
        out = {}
        for c in (0.0, 0.1):
            torch.manual_seed(0)
            m = TinyLM(data.num_classes, 32, d_model=32, n_layers=1)
            out[c] = fit_lm(m, data, epochs=3, lr=3e-3, z_loss=c, device="cpu").extra["log_z"][-1]
        assert abs(out[0.1]) < abs(out[0.0]) - 1.5

    def test_same_seed_same_run(self, data):
        """Two runs with one seed give identical losses."""
        hs = []
        for _ in range(2):
            torch.manual_seed(1)
            m = TinyLM(data.num_classes, 32, d_model=16, n_layers=1, p_resid=0.1)
            hs.append(fit_lm(m, data, epochs=1, seed=3, device="cpu").val_loss)
        assert hs[0] == hs[1]

    def test_bad_args(self, data):
        """Negative z_loss, an infinite lr and an unknown schedule raise ValueError."""
        for kw in (dict(z_loss=-1.0), dict(lr=float("inf")), dict(schedule="linear")):
            with pytest.raises(ValueError, match=next(iter(kw))):
                fit_lm(TinyLM(data.num_classes, 32, d_model=16), data, **kw)

    def test_cosine_schedule(self, data):
        """Warm-up then cosine: the per-epoch lr rises, peaks at lr and the last epoch starts near the end of the decay."""
        m = TinyLM(data.num_classes, 32, d_model=16, n_layers=1)
        steps = -(-len(data.X_train) // 32)  # per epoch
        h = fit_lm(m, data, epochs=4, lr=1e-2, warmup_steps=steps, schedule="cosine", device="cpu")
        # epoch e starts at step (e-1)*steps: warm-up factor 1/steps, then cos decay over 3 epochs
        expect = [1e-2 / steps] + [1e-2 * 0.5 * (1 + math.cos(math.pi * j / 3)) for j in range(3)]
        assert h.lr == pytest.approx(expect, rel=1e-6)
        assert h.config["scheduler"]["lr_lambda"] == [f"warmup {steps} steps, then cosine to step {4 * steps}"]
        assert "attn_logit_max" in h.extra and len(h.extra["attn_logit_max"]) == 4


class TestGenerate:
    """Sampling from the LM."""

    def test_length_vocab_and_seed(self):
        """Prompt + num_chars characters from the vocabulary; same seed same text, another seed another text."""
        vocab = list("abcdefgh ")
        torch.manual_seed(0)
        m = TinyLM(len(vocab), 8, d_model=16, n_layers=1)
        a = generate(m, vocab, "ab", num_chars=30, seed=1)
        assert len(a) == 32 and a.startswith("ab") and set(a) <= set(vocab)
        assert a == generate(m, vocab, "ab", num_chars=30, seed=1) != generate(m, vocab, "ab", num_chars=30, seed=2)
        assert m.training  # mode restored

    def test_low_temperature_is_greedy(self):
        """At a tiny temperature each sampled character is the argmax of the model's next-character logits."""
        vocab = list("abcdefgh")
        torch.manual_seed(0)
        m = TinyLM(len(vocab), 8, d_model=16, n_layers=1).eval()
        text = generate(m, vocab, "a", num_chars=5, temperature=1e-4, seed=0)
        ids = torch.tensor([[vocab.index(c) for c in text]])
        with torch.no_grad():
            greedy = m(ids[:, :-1]).argmax(-1)[0]
        assert greedy.tolist() == ids[0, 1:].tolist()

    def test_bad_temperature(self):
        """temperature <= 0 raises ValueError."""
        with pytest.raises(ValueError, match="temperature"):
            generate(TinyLM(5, 8, d_model=8, n_heads=2), list("abcde"), "a", temperature=0)
