"""Tests for regviz.text: the offline corpus, character blocks and n-gram count baselines."""
import math
import subprocess
import sys

import pytest
import torch

from regviz.text import count_baselines, lm_dataset, load_text, ngram_loss, stdlib_corpus


class TestCorpus:
    """The built-in corpus: ASCII, deterministic, large enough."""

    def test_ascii_and_length(self):
        """Printable ASCII plus newlines, honours max_chars, and the whole corpus holds at least 700,000 characters."""
        text = stdlib_corpus(20_000)
        assert 10_000 < len(text) <= 20_000
        full = stdlib_corpus()
        assert len(full) >= 700_000 and full.startswith(text)
        assert all(c == "\n" or 32 <= ord(c) < 127 for c in set(full))

    def test_reference_manual_prose_is_included(self):
        """The pydoc_data topics (reference-manual prose) are part of the corpus, typographic quotes in ASCII."""
        from pydoc_data.topics import topics
        assert topics["assert"].splitlines()[0] in stdlib_corpus()
        assert len(stdlib_corpus(topics=False)) < len(stdlib_corpus()) - 300_000

    def test_no_repeated_docstrings(self, monkeypatch):
        """A docstring met twice (inherited or shared) is kept once, compared by content; short ones are dropped."""
        import regviz.text
        a, b = "alpha " * 20, "beta " * 20
        pieces = {"m1": [a, b, "short"], "m2": ["".join(list(a)), b]}  # equal text, different string objects
        monkeypatch.setattr(regviz.text, "_docstrings", lambda name: pieces[name])
        assert stdlib_corpus(modules=("m1", "m2"), topics=False) == a.strip() + "\n\n" + b.strip()

    def test_same_text_in_a_fresh_process(self):
        """Another interpreter builds exactly the same corpus (nothing depends on object addresses)."""
        code = "import hashlib; from regviz.text import stdlib_corpus; print(hashlib.sha256(stdlib_corpus().encode()).hexdigest())"
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        import hashlib
        assert other == hashlib.sha256(stdlib_corpus().encode()).hexdigest()

    def test_load_text_reads_a_file(self, tmp_path):
        """A given file is read as UTF-8 (and cut at max_chars); a missing one raises ValueError."""
        f = tmp_path / "t.txt"
        f.write_text("héllo world " * 200, encoding="utf-8")
        assert load_text(f) == "héllo world " * 200 and load_text(f, max_chars=5) == "héllo"
        with pytest.raises(ValueError, match="not a readable file"):
            load_text(tmp_path / "missing.txt")


class TestBlocks:
    """Character blocks for next-character prediction."""

    def test_blocks_are_shifted_by_one(self):
        """y is X shifted by one character, and decoding X gives back the text."""
        text = "the quick brown fox jumps over the lazy dog. " * 30
        data, vocab = lm_dataset(text, block_size=16, device="cpu")
        assert data.X_train.shape[1] == 16 and data.num_classes == len(set(text))
        assert torch.equal(data.X_train[0, 1:], data.y_train[0, :-1])
        assert "".join(vocab[i] for i in data.X_train[0].tolist()) == text[:16]

    def test_bad_args(self):
        """Bad block_size / n_train raise ValueError."""
        with pytest.raises(ValueError, match="block_size"):
            lm_dataset("abc" * 100, block_size=1)
        with pytest.raises(ValueError, match="n_train"):
            lm_dataset("abc" * 100, block_size=4, n_train=10_000)


def _reference_ngram(text_train: str, pairs_val: list[tuple[str, str]], vocab: list[str], k: float) -> float:
    """Plain-Python add-k model: P(c | ctx) from counts of (ctx, c) in the training string's blocks' pairs."""
    from collections import Counter
    joint, ctx = Counter(), Counter()
    for a, b in text_train:
        joint[(a, b)] += 1
        ctx[a] += 1
    V = len(vocab)
    return -sum(math.log((joint[(a, b)] + k) / (ctx[a] + k * V)) for a, b in pairs_val) / len(pairs_val)


@pytest.fixture(scope="module")
def data_and_vocab():
    g = torch.Generator().manual_seed(0)
    text = "".join("abcab d"[i] for i in torch.randint(0, 7, (3000,), generator=g).tolist())
    return lm_dataset(text, block_size=8, device="cpu")


class TestNgram:
    """Count baselines against hand-computed values."""

    def test_unigram_and_bigram_match_direct_counts(self, data_and_vocab):
        """Add-one unigram and bigram losses equal plain-Python counting over the same (context, next) pairs."""
        data, vocab = data_and_vocab
        ch = lambda t: [vocab[i] for i in t.flatten().tolist()]  # noqa: E731
        tr = list(zip(ch(data.X_train), ch(data.y_train)))
        va = list(zip(ch(data.X_val), ch(data.y_val)))
        bigram = _reference_ngram(tr, va, vocab, 1.0)
        unigram = _reference_ngram([("", b) for _, b in tr], [("", b) for _, b in va], vocab, 1.0)
        got = count_baselines(data)
        assert got["bigram"] == pytest.approx(bigram, rel=1e-9)
        assert got["unigram"] == pytest.approx(unigram, rel=1e-9)

    def test_trigram_uses_the_context_each_position_has(self, data_and_vocab):
        """Trigram scores position 0 with the bigram; other positions with the previous two inputs."""
        data, vocab = data_and_vocab
        X, y, Xv, yv = data.X_train, data.y_train, data.X_val, data.y_val
        tr = [(vocab[X[i, t - 1]] + vocab[X[i, t]], vocab[y[i, t]]) for i in range(len(X)) for t in range(1, 8)]
        va = [(vocab[Xv[i, t - 1]] + vocab[Xv[i, t]], vocab[yv[i, t]]) for i in range(len(Xv)) for t in range(1, 8)]
        bi_tr = [(vocab[X[i, t]], vocab[y[i, t]]) for i in range(len(X)) for t in range(8)]
        bi_va = [(vocab[Xv[i, 0]], vocab[yv[i, 0]]) for i in range(len(Xv))]
        n_va = len(va) + len(bi_va)
        expect = (_reference_ngram(tr, va, vocab, 0.5) * len(va) + _reference_ngram(bi_tr, bi_va, vocab, 0.5) * len(bi_va)) / n_va
        assert ngram_loss(data, 3, k=0.5) == pytest.approx(expect, rel=1e-9)

    def test_more_context_helps_on_real_text(self):
        """On the corpus: trigram < bigram < unigram < ln V."""
        data, _ = lm_dataset(stdlib_corpus(100_000), block_size=32, device="cpu")
        losses = [ngram_loss(data, n) for n in (3, 2, 1)]
        assert losses == sorted(losses) and losses[-1] < math.log(data.num_classes)

    def test_bad_args(self, data_and_vocab):
        """n outside 1..3 and k <= 0 raise ValueError naming the argument."""
        data, _ = data_and_vocab
        with pytest.raises(ValueError, match="n=4"):
            ngram_loss(data, 4)
        with pytest.raises(ValueError, match="k=0"):
            ngram_loss(data, 2, k=0)
