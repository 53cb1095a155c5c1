"""The offline text corpus, character blocks for next-character prediction, and n-gram count baselines.

The corpus is English already on disk: docstrings of the installed standard library plus the prose of
``pydoc_data.topics`` (the Python reference manual pages that ship with CPython). Add-k smoothed n-gram
counts are the baseline a language model must beat (Chen & Goodman, "An Empirical Study of Smoothing
Techniques for Language Modeling", 1999).
"""
from __future__ import annotations

import importlib
import inspect
import warnings
from pathlib import Path

import torch

from .data import Dataset
from .device import resolve_device
from .validate import check_choice, check_int, check_number

# Pure-Python standard-library modules whose docstrings open the corpus (no download, ever).
STDLIB_MODULES = (
    "argparse", "ast", "base64", "bisect", "calendar", "cmd", "codecs", "collections", "configparser",
    "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "doctest", "email.message",
    "enum", "fnmatch", "fractions", "ftplib", "functools", "getopt", "gettext", "glob", "gzip", "heapq", "hmac",
    "html.parser", "http.client", "http.server", "imaplib", "inspect", "ipaddress", "json", "locale", "logging",
    "mailbox", "numbers", "operator", "optparse", "os", "pathlib", "pickle", "pickletools", "pprint", "pydoc",
    "queue", "random", "re", "sched", "secrets", "selectors", "shlex", "shutil", "smtplib", "socket",
    "socketserver", "statistics", "string", "subprocess", "tarfile", "tempfile", "textwrap", "threading",
    "timeit", "tokenize", "trace", "traceback", "types", "typing", "unittest.case", "urllib.parse",
    "urllib.request", "uuid", "warnings", "wave", "weakref", "xml.dom.minidom", "zipfile",
)
# Typographic characters of the reference manual, spelled in ASCII; anything else outside ASCII is dropped.
_ASCII = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": "--", "\u2013": "-",
                        "\u2026": "...", "\t": "    "})


def _ascii(text: str) -> str:
    return "".join(c for c in text.translate(_ASCII) if c == "\n" or 32 <= ord(c) < 127)


def _docstrings(name: str) -> list[str]:
    """Docstrings of a module, its public classes and functions, and their methods, in name order."""
    try:
        mod = importlib.import_module(name)
    except Exception:  # noqa: BLE001 -- a module this Python lacks is skipped
        return []
    docs = [inspect.getdoc(mod)]
    with warnings.catch_warnings():  # reading typing's deprecated aliases (typing.io, typing.re) warns
        warnings.simplefilter("ignore", DeprecationWarning)
        for _, obj in sorted(vars(mod).items()):
            if getattr(obj, "__module__", None) != mod.__name__ or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            docs.append(inspect.getdoc(obj))
            if inspect.isclass(obj):
                docs += [inspect.getdoc(m) for _, m in sorted(vars(obj).items()) if inspect.isfunction(m)]
    return [d for d in docs if d]


def stdlib_corpus(max_chars: int | None = None, modules: tuple[str, ...] = STDLIB_MODULES, *,
                  topics: bool = True) -> str:
    """English text of the installed Python: standard-library docstrings, then the reference-manual topics.

    Order is fixed: modules in the order given (each: module, then classes/functions by name, each class
    followed by its methods by name), then ``pydoc_data.topics`` by topic name. A docstring repeated word
    for word (inherited or shared) is kept once: duplicates are found by content, so the text is the same
    in every process. Typographic quotes and dashes become ASCII; only printable ASCII and newlines remain.
    The same Python installation always gives the same text (another version gives a slightly different one).

    Args:
        max_chars: cut the text to this many characters (None = all of it, about 1 million on Python 3.11).
        modules: module names to read (those that fail to import are skipped).
        topics: append the reference-manual prose of ``pydoc_data.topics``.

    Returns:
        The corpus, parts separated by blank lines.
    """
    if max_chars is not None:
        check_int("max_chars", max_chars, low=1000)
    parts = [doc for name in modules for doc in _docstrings(name)]
    if topics:
        from pydoc_data.topics import topics as pages
        parts += [pages[key] for key in sorted(pages)]
    kept, seen, total = [], set(), 0
    for part in parts:
        clean = _ascii(part).strip()
        if len(clean) < 80 or clean in seen:  # one-liners carry little prose
            continue
        seen.add(clean)
        kept.append(clean)
        total += len(clean) + 2
        if max_chars is not None and total >= max_chars:
            break
    text = "\n\n".join(kept)
    return text if max_chars is None else text[:max_chars]


def load_text(path: str | Path | None = None, max_chars: int | None = None) -> str:
    """The text of ``path`` (UTF-8), or the built-in corpus if None; cut to ``max_chars`` if given."""
    if path is None:
        return stdlib_corpus(max_chars)
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"path={str(path)!r} is not a readable file; give a text file or None for the built-in corpus")
    return p.read_text(encoding="utf-8", errors="replace")[:max_chars]


def lm_dataset(text: str, *, block_size: int = 64, n_train: int | None = None, val_fraction: float = 0.1,
               device: str | torch.device | None = None) -> tuple[Dataset, list[str]]:
    """Cut ``text`` into non-overlapping blocks of next-character prediction.

    The last ``val_fraction`` of the text is validation (a contiguous tail, so no block straddles both).

    Args:
        text: the corpus.  block_size: context length T.  n_train: keep only the first n_train training blocks.

    Returns:
        ``(data, vocab)``: a ``Dataset`` with X_* (N, T) int64 inputs and y_* (N, T) int64 next characters,
        ``num_classes`` = vocabulary size; and the vocabulary (index -> character, sorted).
    """
    check_int("block_size", block_size, low=2)
    if check_number("val_fraction", val_fraction, high=1.0, high_inclusive=False) == 0:
        raise ValueError("val_fraction=0 leaves no validation text; use a number in (0, 1)")
    vocab = sorted(set(text))
    lookup = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([lookup[c] for c in text], dtype=torch.long)
    cut = int(len(ids) * (1 - val_fraction))

    def blocks(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = (len(t) - 1) // block_size
        if n < 1:
            raise ValueError(f"text too short for block_size={block_size}: {len(t)} characters in a split")
        return t[: n * block_size].view(n, block_size), t[1: n * block_size + 1].view(n, block_size)

    X_tr, y_tr = blocks(ids[:cut])
    X_va, y_va = blocks(ids[cut:])
    if n_train is not None:
        if check_int("n_train", n_train) > len(X_tr):
            raise ValueError(f"n_train={n_train!r}: the text has {len(X_tr)} training blocks; use 1 to {len(X_tr)}")
        X_tr, y_tr = X_tr[:n_train], y_tr[:n_train]
    dev = resolve_device(device)
    data = Dataset(name="chars", X_train=X_tr.to(dev), y_train=y_tr.to(dev), X_val=X_va.to(dev), y_val=y_va.to(dev),
                   num_classes=len(vocab), input_shape=(block_size,),
                   config=dict(block_size=block_size, n_train=len(X_tr), n_val=len(X_va), characters=len(text)))
    return data, vocab


def ngram_loss(data: Dataset, n: int, *, k: float = 1.0) -> float:
    """Validation cross-entropy (nats/char) of an add-k smoothed n-gram count model fitted on the training blocks.

    P(c | previous n-1 characters) = (count(context, c) + k) / (count(context) + k V). Contexts are read
    inside each block, as the transformer sees them: the target at position t follows inputs 0..t, so a
    trigram scores position 0 with the bigram it has (one character of context).

    Args:
        data: from ``lm_dataset``: X (N, T) inputs, y (N, T) next characters, V = ``data.num_classes``.
        n: 1 (unigram: counts of characters), 2 (bigram: counts of pairs) or 3 (trigram).
        k: additive smoothing (1 = Laplace / add-one).

    Returns:
        Mean negative log-likelihood per validation character, in nats.
    """
    check_choice("n", n, (1, 2, 3))  # unigram, bigram, trigram
    if not (isinstance(k, (int, float)) and k > 0):
        raise ValueError(f"k={k!r} must be a number > 0 (add-k smoothing keeps unseen n-grams possible)")
    V = data.num_classes
    X_tr, y_tr, X_va, y_va = (t.cpu() for t in (data.X_train, data.y_train, data.X_val, data.y_val))

    def codes(X: torch.Tensor, y: torch.Tensor, order: int, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        # context = inputs t-order+2 .. t as one integer, for positions t >= start; (N, T - start) each
        T = y.shape[1]
        ctx = torch.zeros_like(y[:, start:])
        for lag in range(order - 2, -1, -1):
            ctx = ctx * V + X[:, start - lag: T - lag]
        return ctx, y[:, start:]

    def scores(order: int, start: int) -> torch.Tensor:
        # -log P(y | context) at validation positions t >= start, from counts at training positions t >= order-2
        ctx, tgt = codes(X_tr, y_tr, order, max(order - 2, 0))
        joint = torch.bincount((ctx * V + tgt).flatten(), minlength=V ** order).double().view(-1, V)
        logp = ((joint + k) / (joint.sum(1, keepdim=True) + k * V)).log()  # (V**(order-1), V)
        ctx, tgt = codes(X_va, y_va, order, start)
        return -logp[ctx, tgt]

    start = max(n - 2, 0)
    parts = [scores(n, start)] + [scores(t + 2, t)[:, :1] for t in range(start)]  # short-context positions
    total = sum(float(p.sum()) for p in parts)
    return total / y_va.numel()


def count_baselines(data: Dataset, *, k: float = 1.0) -> dict[str, float]:
    """``{"unigram": ..., "bigram": ...}``: add-k count models' validation loss in nats/char (``ngram_loss``)."""
    return {"unigram": ngram_loss(data, 1, k=k), "bigram": ngram_loss(data, 2, k=k)}

