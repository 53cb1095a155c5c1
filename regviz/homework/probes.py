"""Differential grading: probes evaluate a student's answer on inputs drawn from a seed the grader picks per run.

The same probe cells run in the student's sandboxed kernel and in a clean kernel that ran the reference
solution (once per class). Each kernel sends back plain data only (numbers, strings, nested lists, tensors as
dtype + shape + raw bytes, never pickle), which the grader decodes with bounds and compares in its own
process with a tolerance per probe. A kernel that lies about its asserts passes only by returning the right
values for inputs it has never seen: by solving the exercise. Differential testing: McKeeman, "Differential
Testing for Software", Digital Technical Journal 10(1), 1998.

Probe definitions live here, keyed by chapter and exercise number (not in the notebooks' metadata), so a
chapter gains probes without a notebook edit. An exercise whose answer is notebook state (a trained model, a
value picked from stored runs) cannot be probed on fresh inputs: its spec has kind "state" and is judged by a
property computed here from the values its kernel returns (such values can be faked by a lying kernel).
"""
from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass, field
from typing import Callable

import nbformat
import numpy as np
from nbformat.v4 import new_code_cell

MIME = "application/vnd.regviz.probe+json"
ROLE = "regviz_grader"  # the cell metadata key of tamper.py (metadata never reaches the kernel)
MAX_SCALARS = 400_000  # numbers (tensor elements included) one probe cell may return
MAX_DEPTH = 16


@dataclass(frozen=True)
class Probe:
    """One expression evaluated on seeded inputs; compared with the reference kernel's value within a tolerance."""

    expr: str
    atol: float = 1e-6
    rtol: float = 1e-5


@dataclass(frozen=True)
class ExerciseProbes:
    """The probes of one exercise.

    Attributes:
        setup: code run (in a copy of the kernel's globals) before each probe; `_seed` and a torch
            generator `_g` seeded with it are bound.
        probes: name -> Probe (an expression string is taken as Probe(expr)).
        kind: "probe" (fresh inputs each run) or "state" (the answer is notebook state: a trained model,
            a value chosen from stored runs; graded by `judge` from returned values).
        judge: None: every probe must match the reference; else judge(values, reference) -> reason or None.
        why: for kind "state", why fresh inputs cannot be used.
    """

    setup: str = ""
    probes: dict = field(default_factory=dict)
    kind: str = "probe"
    judge: Callable | None = None
    why: str = ""

    def __post_init__(self):
        if self.kind not in ("probe", "state"):
            raise ValueError(f"kind={self.kind!r}; allowed: 'probe', 'state'")
        if self.kind == "state" and (self.judge is None or not self.why):
            raise ValueError("a 'state' exercise needs a judge and a reason (why)")
        object.__setattr__(self, "probes", {k: p if isinstance(p, Probe) else Probe(p) for k, p in self.probes.items()})


# ---------------------------------------------------------------------------------------------------
# Decoded values: what a kernel may send.

@dataclass(frozen=True)
class Raised:
    """A probe whose expression raised in the kernel."""

    message: str


@dataclass(frozen=True)
class Unsupported:
    """A value that is not plain data (its type name only)."""

    type_name: str


class BadResult(ValueError):
    """A probe message that is not well-formed plain data."""


# Runs in the kernel: evaluate each probe and send the encoded values as one display message.
KERNEL_SIDE = '''
def _regviz_probe(setup, exprs, seed, limit, mime):
    import base64, math, sys
    left = [limit]
    def spend(k):
        left[0] -= k
        if left[0] < 0:
            raise ValueError("probe result over the size limit")
    def enc(v, depth=0):
        spend(1)
        if depth > 16:
            raise ValueError("probe result nested too deep")
        torch, np = sys.modules.get("torch"), sys.modules.get("numpy")
        if v is None or isinstance(v, (bool, str)):
            if isinstance(v, str):
                spend(len(v) // 8)
            return v if not isinstance(v, str) else str(v)
        if isinstance(v, int):
            return int(v)
        if isinstance(v, float):
            return float(v) if math.isfinite(v) else {"__float__": repr(float(v))}
        if isinstance(v, (list, tuple)):
            return [enc(x, depth + 1) for x in v]
        if isinstance(v, dict):
            return {"__dict__": [[enc(k, depth + 1), enc(x, depth + 1)] for k, x in v.items()]}
        if torch is not None and isinstance(v, torch.Tensor):
            t = v.detach().cpu()
            t = (t.float() if t.dtype == torch.bfloat16 else t).contiguous()
            spend(t.numel())
            return {"__tensor__": [str(t.dtype).replace("torch.", ""), list(t.shape),
                                   base64.b64encode(t.numpy().tobytes()).decode()]}
        if np is not None and isinstance(v, np.ndarray):
            spend(v.size)
            return {"__tensor__": [str(v.dtype), list(v.shape), base64.b64encode(np.ascontiguousarray(v).tobytes()).decode()]}
        if np is not None and isinstance(v, np.generic):
            return enc(v.item(), depth)
        return {"__type__": type(v).__name__}
    out = {}
    for name, expr in exprs.items():
        ns = dict(globals())
        ns["_seed"] = seed
        try:
            exec(setup, ns)
            out[name] = enc(eval(expr, ns))
        except Exception as e:
            try:
                text = (type(e).__name__ + ": " + str(e))[:300]
            except Exception:
                text = "an exception whose message cannot be shown"
            out[name] = {"__error__": text}
    from IPython.display import display
    display({mime: out}, raw=True)
'''
PRELUDE = "import torch\n_g = torch.Generator().manual_seed(_seed)\n"


def probe_cells(specs: dict[int, ExerciseProbes], seed: int) -> list[nbformat.NotebookNode]:
    """One cell per exercise (each has its own time limit), run after every cell of the notebook."""
    cells = []
    for n, spec in sorted(specs.items()):
        exprs = {k: p.expr for k, p in spec.probes.items()}
        source = (f"# regviz grader: probes of exercise {n}\n{KERNEL_SIDE.strip()}\n"
                  f"_regviz_probe({PRELUDE + spec.setup!r}, {exprs!r}, {seed + n}, {MAX_SCALARS}, {MIME!r})\n"
                  "del _regviz_probe")
        cell = new_code_cell(source)
        cell.metadata[ROLE] = {"role": "probe", "exercise": n}
        cells.append(cell)
    return cells


def add_probes(nb: nbformat.NotebookNode, chapter: str, seed: int) -> nbformat.NotebookNode:
    """Copy of a grading copy with the chapter's probe cells at the end (unchanged when it has none)."""
    out = nbformat.from_dict(nb)
    out.cells = list(out.cells) + probe_cells(PROBES.get(chapter, {}), seed)
    return out


def decode(value, budget: list[int] | None = None, depth: int = 0):
    """A probe value sent by a kernel -> Python data (numpy arrays for tensors), never executing anything.

    Raises:
        BadResult: an unknown shape of data, a dtype not allowed, sizes that do not add up, or too much of it.
    """
    budget = [MAX_SCALARS] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise BadResult("too large or nested too deep")
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        budget[0] -= len(value) // 8
        return value
    if isinstance(value, list):
        return [decode(v, budget, depth + 1) for v in value]
    if not (isinstance(value, dict) and len(value) == 1):
        raise BadResult(f"unexpected {type(value).__name__}")
    (tag, body), = value.items()
    if tag == "__tensor__":
        return _tensor(body, budget)
    if tag == "__dict__" and isinstance(body, list):
        out = {}
        for pair in body:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise BadResult("malformed dict")
            key = decode(pair[0], budget, depth + 1)
            if not (key is None or isinstance(key, (bool, int, float, str))):
                raise BadResult("dict key is not a number or string")
            out[key] = decode(pair[1], budget, depth + 1)
        return out
    if tag == "__float__" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "__error__" and isinstance(body, str):
        return Raised(body[:300])
    if tag == "__type__" and isinstance(body, str):
        return Unsupported(body[:100])
    raise BadResult(f"unexpected tag {str(tag)[:40]!r}")


DTYPES = {"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "complex64",
          "complex128"}


def _tensor(body, budget: list[int]) -> np.ndarray:
    if not (isinstance(body, list) and len(body) == 3):
        raise BadResult("malformed tensor")
    dtype, shape, data = body
    if dtype not in DTYPES:
        raise BadResult(f"dtype {str(dtype)[:20]!r} not allowed")
    if not (isinstance(shape, list) and len(shape) <= 8 and all(type(s) is int and s >= 0 for s in shape)):
        raise BadResult("malformed shape")
    count = math.prod(shape)
    budget[0] -= count
    if budget[0] < 0 or not isinstance(data, str) or len(data) > 4 * (16 * count // 3 + 2):  # base64 of complex128
        raise BadResult("tensor too large")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadResult("tensor bytes are not base64") from None
    if len(raw) != count * np.dtype(dtype).itemsize:
        raise BadResult("tensor bytes do not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def read_probes(nb: nbformat.NotebookNode, specs: dict[int, ExerciseProbes]) -> dict[int, dict | str]:
    """Per probed exercise of an executed grading copy: {probe name: decoded value}, or why there is none."""
    found: dict[int, dict | str] = {n: "probes did not run (time limit or kernel stopped)" for n in specs}
    for cell in nb.cells:
        role = cell.get("metadata", {}).get(ROLE, {})
        n = role.get("exercise")
        if role.get("role") != "probe" or n not in specs:
            continue
        sent = [o["data"][MIME] for o in cell.get("outputs", [])
                if o.get("output_type") == "display_data" and MIME in o.get("data", {})]
        if len(sent) != 1:
            found[n] = "probes sent no result" if not sent else "probes sent more than one result"
            continue
        if not (isinstance(sent[0], dict) and set(sent[0]) == set(specs[n].probes)):
            found[n] = "probe result malformed (wrong names)"
            continue
        try:
            budget = [MAX_SCALARS]
            found[n] = {k: decode(v, budget) for k, v in sent[0].items()}
        except BadResult as exc:
            found[n] = f"probe result malformed ({exc})"
    return found


# ---------------------------------------------------------------------------------------------------
# Comparing in the grader.

def _scalar(v):
    return v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v


def _show(v) -> str:
    if isinstance(v, np.ndarray):
        return f"a {v.dtype} tensor of shape {tuple(v.shape)}"
    if isinstance(v, Unsupported):
        return f"a {v.type_name}"
    if isinstance(v, float):
        return f"{v:.6g}"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def differs(got, expected, atol: float, rtol: float) -> str | None:
    """Why `got` does not match `expected` (a reference value), or None when it does."""
    if isinstance(got, Raised):
        return f"raised {got.message}"
    got, expected = _scalar(got), _scalar(expected)
    if expected is None or isinstance(expected, (bool, str, Unsupported)):
        ok = type(got) is type(expected) and got == expected
        return None if ok else f"got {_show(got)}, expected {_show(expected)}"
    if isinstance(expected, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"got {_show(got)}, expected a number"
        if (math.isnan(got) and math.isnan(expected)) or math.isclose(got, expected, rel_tol=rtol, abs_tol=atol):
            return None
        return f"got {_show(got)}, expected {_show(expected)}"
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return f"got {_show(got)}, expected a list of {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            why = differs(g, e, atol, rtol)
            if why:
                return f"[{i}] {why}"
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"got {_show(got)}, expected a dict with keys {sorted(map(str, expected))[:5]}"
        for k in expected:
            why = differs(got[k], expected[k], atol, rtol)
            if why:
                return f"[{k!r}] {why}"
        return None
    if isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray) or got.shape != expected.shape:
            return f"got {_show(got)}, expected {_show(expected)}"
        if expected.dtype == bool or got.dtype == bool:
            return None if got.dtype == expected.dtype and np.array_equal(got, expected) else "boolean tensor differs"
        a, b = got.astype(np.complex128), expected.astype(np.complex128)
        if np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            return None
        return f"tensor differs (largest difference {float(np.nanmax(np.abs(a - b))):.3g})"
    return f"unexpected reference value {_show(expected)}"


def judge_exercise(spec: ExerciseProbes, values: dict | str, reference: dict | str | None) -> tuple[str | None, list[str]]:
    """(why the exercise fails its probes or None, notes about probes the reference itself failed)."""
    if isinstance(values, str):
        return values, []
    if spec.judge is not None:
        raised = [f"{k}: {v.message}" for k, v in values.items() if isinstance(v, Raised)]
        if raised:
            return f"probe {raised[0]}", []
        try:
            return spec.judge(values, reference if isinstance(reference, dict) else {}), []
        except Exception as exc:  # noqa: BLE001 - values of the wrong type: the property does not hold
            return f"answer values of the wrong kind ({type(exc).__name__}: {str(exc)[:100]})", []
    if not isinstance(reference, dict):
        return None, [f"reference gave no probe values ({reference}); graded by its check alone"]
    notes = []
    for name, probe in spec.probes.items():
        expected = reference.get(name)
        if isinstance(expected, Raised) or name not in reference:
            notes.append(f"probe {name} failed on the reference ({getattr(expected, 'message', 'missing')}); not used")
            continue
        why = differs(values.get(name), expected, probe.atol, probe.rtol)
        if why:
            return f"probe {name} on fresh inputs: {why}", notes
    return None, notes


# ---------------------------------------------------------------------------------------------------
# Properties of returned values, for exercises whose answer is notebook state or random.

def _all_or_none_scaled(out: np.ndarray, x: np.ndarray, p: float) -> bool:
    """Each entry of out is 0 or x / (1 - p)."""
    return bool(np.all((out == 0) | np.isclose(out, x / (1 - p), rtol=1e-5, atol=1e-6)))


def _judge_dropout(v, _ref):
    out, x, p = np.asarray(v["out"]), np.asarray(v["x"]), v["p"]
    if out.shape != x.shape:
        return f"output shape {out.shape}, expected {x.shape}"
    if not _all_or_none_scaled(out, x, p):
        return "kept entries are not x / (1 - p)"
    frac = float((out == 0).mean())
    return None if abs(frac - p) < 0.015 else f"dropped fraction {frac:.3f} for p = {p:.3f}"


def _judge_drop_path(v, _ref):
    out, x, p = np.asarray(v["out"]), np.asarray(v["x"]), v["p"]
    if out.shape != x.shape:
        return f"output shape {out.shape}, expected {x.shape}"
    zero = out == 0
    if not np.array_equal(zero.all(1), zero.any(1)):
        return "drops single entries, not whole rows"
    if not _all_or_none_scaled(out, x, p):
        return "kept rows are not x / (1 - p)"
    frac = float(zero.all(1).mean())
    return None if abs(frac - p) < 0.02 else f"dropped fraction of rows {frac:.3f} for p = {p:.3f}"


def _judge_cutout(v, _ref):
    out, x, s = np.asarray(v["out"]), np.asarray(v["x"]), v["size"]
    if v["untouched"] is not True:
        return "the input was modified in place"
    if out.shape != x.shape:
        return f"output shape {out.shape}, expected {x.shape}"
    zero = out[:, 0] == 0  # (N, H, W)
    if not np.array_equal(np.where(zero, 0, out[:, 0]), np.where(zero, 0, x[:, 0])):
        return "pixels outside the square changed"
    rows, cols = zero.any(2), zero.any(1)  # (N, H), (N, W)
    square = (zero.sum((1, 2)) == s * s) & (rows.sum(1) == s) & (cols.sum(1) == s)
    if not square.all():
        return f"not exactly one {s}x{s} square per image"
    return None if len({z.tobytes() for z in zero}) > 20 else "the square's position hardly varies"


def _judge_memorising(v, _ref):
    if v["n_train"] != 100 or v["epochs"] != 60:
        return f"trained on {v['n_train']} images for {v['epochs']} epochs, expected 100 and 60"
    if not v["train_acc"] > 0.95:
        return f"final training accuracy {v['train_acc']:.3f}, expected > 0.95"
    if not v["val_acc"] < v["clean_val_acc"] - 0.1:
        return f"validation accuracy {v['val_acc']:.3f} not 0.1 below the clean run's {v['clean_val_acc']:.3f}"
    return None


def _judge_lambdas(v, _ref):
    for opt in ("adam", "adamw"):
        lam, losses = v[f"lam_{opt}"], v[opt]
        if lam not in v["wds"]:
            return f"lam_{opt} = {lam!r} is not in WDS"
        if losses[v["wds"].index(lam)] > min(losses):
            return f"lam_{opt} = {lam!r} is not the lowest final validation loss"
    return None


def _judge_temperature(v, _ref):
    if abs(v["T_grid"] - v["T_ref"]) >= 0.05:
        return f"T_grid = {v['T_grid']:.3f}, fit_temperature gives {v['T_ref']:.3f}"
    return None if v["T_grid"] > 1.0 else f"T_grid = {v['T_grid']:.3f}, expected > 1"


def _judge_best_eps(v, _ref):
    eps, nll = v["best_eps"], v["nll"]
    if eps not in nll or nll[eps] != min(nll.values()):
        return f"best_eps = {eps!r} is not the lowest final validation NLL"
    return None if eps != 0.0 else "best_eps = 0.0, expected some smoothing"


def _randint(lo: int, hi: int) -> str:
    """Setup expression: an int in [lo, hi) from the seeded generator."""
    return f"int(torch.randint({lo}, {hi}, (1,), generator=_g))"


def _uniform(lo: float, hi: float) -> str:
    return f"({lo} + {hi - lo} * float(torch.rand(1, generator=_g)))"


EXACT = dict(atol=0.0, rtol=0.0)
STATE = "its answer is notebook state (a trained model or a value picked from runs), not a function of inputs"

PROBES: dict[str, dict[int, ExerciseProbes]] = {
    "01_overfitting": {
        1: ExerciseProbes(
            setup=("from regviz.history import History\n"
                   "def _hist():\n"
                   f"    n = {_randint(3, 12)}\n"
                   "    h = History(train_loss=torch.rand(n, generator=_g).tolist(),\n"
                   "                val_loss=(torch.rand(n, generator=_g) + 0.5).tolist(), train_acc=[0.0] * n, val_acc=[0.0] * n)\n"
                   "    h.update_best()\n"
                   "    return h\n"
                   "_h1, _h2 = _hist(), _hist()"),
            probes={"gap": Probe("gap_at_best(_h1)", atol=1e-9), "gap_other": Probe("gap_at_best(_h2)", atol=1e-9)}),
        2: ExerciseProbes(
            setup=f"_v = torch.rand({_randint(2, 15)}, generator=_g).tolist()\n"
                  "_t = torch.randint(0, 4, (9,), generator=_g).float().tolist()  # ties: the first one counts",
            probes={"distinct": Probe("best_epoch(_v)", **EXACT), "ties": Probe("best_epoch(_t)", **EXACT)}),
        3: ExerciseProbes(
            setup="_a = torch.randint(0, 10, (500,), generator=_g)\n"
                  f"_b = torch.where(torch.rand(500, generator=_g) < {_uniform(0.05, 0.6)}, "
                  "torch.randint(0, 10, (500,), generator=_g), _a)",
            probes={"noisy": "flipped_fraction(_a, _b)", "clean": "flipped_fraction(_a, _a)"}),
        4: ExerciseProbes(
            kind="state", why=STATE, judge=_judge_memorising,
            probes={"n_train": "noisy_hist.config['n_train']", "epochs": "noisy_hist.num_epochs",
                    "train_acc": "noisy_hist.train_acc[-1]", "val_acc": "noisy_hist.val_acc[-1]",
                    "clean_val_acc": "hist.val_acc[-1]"}),
    },
    "02_weight_decay": {
        1: ExerciseProbes(
            setup=f"_w, _gr = torch.randn(7, generator=_g), torch.randn(7, generator=_g)\n"
                  f"_lr, _lam = {_uniform(0.05, 0.5)}, {_uniform(0.01, 1.0)}",
            probes={"step": "sgd_l2_step(_w, _gr, _lr, _lam)", "no_decay": "sgd_l2_step(_w, _gr, _lr, 0.0)"}),
        2: ExerciseProbes(
            setup=f"_w, _gr = torch.randn(7, generator=_g), torch.randn(7, generator=_g)\n"
                  f"_lr, _lam = {_uniform(0.001, 0.1)}, {_uniform(0.01, 2.0)}",
            probes={"step": "adamw_first_step(_w, _gr, _lr, _lam)", "no_decay": "adamw_first_step(_w, _gr, _lr, 0.0)"}),
        3: ExerciseProbes(
            setup=f"_w, _t = 2 * torch.randn(300, generator=_g), {_uniform(0.1, 1.1)}",
            probes={"shrunk": "my_soft_threshold(_w, _t)"}),
        4: ExerciseProbes(
            kind="state", why=STATE, judge=_judge_lambdas,
            probes={"lam_adam": "lam_adam", "lam_adamw": "lam_adamw", "wds": "list(WDS)",
                    "adam": "[h.val_loss[-1] for h in runs['adam']]", "adamw": "[h.val_loss[-1] for h in runs['adamw']]"}),
    },
    "03_dropout": {
        1: ExerciseProbes(
            setup=f"_p = {_uniform(0.1, 0.8)}\n_x = torch.rand(40_000, generator=_g) + 0.5",
            probes={"out": "my_dropout(_x, _p, torch.Generator().manual_seed(_seed))", "x": "_x", "p": "_p"},
            judge=_judge_dropout),
        2: ExerciseProbes(
            setup="from regviz.models import MLP\ntorch.manual_seed(_seed)\n_m = MLP(64, 10, width=32, p=0.5).train()\n"
                  f"_X = torch.randn({_randint(3, 30)}, 64, generator=_g)",
            probes={"out": Probe("predict(_m, _X)", atol=1e-5), "repeatable": "torch.equal(predict(_m, _X), predict(_m, _X))",
                    "no_grad": "predict(_m, _X).requires_grad", "keeps_train": "(predict(_m, _X), _m.training)[1]",
                    "keeps_eval": "(_m.eval(), predict(_m, _X), _m.training)[2]"}),
        3: ExerciseProbes(
            setup="import torch.nn as _nn\n_layers = [_nn.Linear(4, 4)]\n"
                  "for _k in torch.randint(0, 4, (7,), generator=_g).tolist():\n"
                  "    _layers.append((_nn.Dropout(0.5), _nn.BatchNorm1d(4), _nn.Linear(4, 4),\n"
                  "                    _nn.Sequential(_nn.Dropout(0.3), _nn.ReLU()))[_k])\n"
                  "_m = _nn.Sequential(*_layers).train()",
            probes={"modes": Probe("(only_dropout_on(_m), [mod.training for mod in _m.modules()])[1]", **EXACT)}),
        4: ExerciseProbes(
            setup=f"_p = {_uniform(0.1, 0.7)}\n_x = torch.rand(20_000, 3, generator=_g) + 0.5",
            probes={"out": "my_drop_path(_x, _p, torch.Generator().manual_seed(_seed))", "x": "_x", "p": "_p"},
            judge=_judge_drop_path),
    },
    "04_label_smoothing": {
        1: ExerciseProbes(setup=f"_eps, _K = {_uniform(0.01, 0.5)}, {_randint(2, 20)}",
                          probes={"eps": Probe("others_to_pytorch(_eps, _K)", atol=1e-9)}),
        2: ExerciseProbes(
            setup=f"_K, _N = {_randint(2, 6)}, {_randint(50, 300)}\n"
                  "_p = (2 * torch.randn(_N, _K, generator=_g)).softmax(1)\n"
                  f"_y = torch.randint(0, _K, (_N,), generator=_g)\n_b = {_randint(1, 20)}",
            probes={"bins": "my_ece(_p, _y, _b)", "default": "my_ece(_p, _y)"}),
        3: ExerciseProbes(
            kind="state", why=STATE, judge=_judge_temperature,
            probes={"T_grid": "T_grid", "T_ref": "fit_temperature(runs[0.0][2][-1][:half], yv[:half])"}),
        4: ExerciseProbes(
            kind="state", why=STATE, judge=_judge_best_eps,
            probes={"best_eps": "best_eps", "nll": "{e: runs[e][1].extra['val_nll'][-1] for e in EPS_GRID}"}),
    },
    "05_augmentation": {
        1: ExerciseProbes(
            setup=f"_s = {_randint(2, 5)}\n_H = _s + {_randint(3, 8)}\n"
                  "_X = torch.rand(300, 1, _H, _H, generator=_g) + 0.5\n_X0 = _X.clone()\n"
                  "_out = cutout(_X, _s, torch.Generator().manual_seed(_seed))",
            probes={"out": "_out", "x": "_X0", "size": "_s", "untouched": "torch.equal(_X, _X0)"},
            judge=_judge_cutout),
        2: ExerciseProbes(
            setup=f"_N = {_randint(4, 40)}\n_lg = torch.randn(_N, 10, generator=_g)\n"
                  f"_yy = torch.randint(0, 10, (_N,), generator=_g)\n_lam = {_uniform(0.0, 1.0)}",
            probes={"mixed": "float(two_label_loss(_lg, _yy, _lam))", "first": "float(two_label_loss(_lg, _yy, 1.0))",
                    "second": "float(two_label_loss(_lg, _yy, 0.0))"}),
        3: ExerciseProbes(setup=f"_a = {_uniform(0.1, 5.0)}",
                          probes={"alpha": Probe("mixing_strength(_a)", atol=0.01),
                                  "uniform": Probe("mixing_strength(1.0)", atol=0.01)}),
    },
    "06_early_stopping": {
        1: ExerciseProbes(
            setup=f"_v = torch.rand({_randint(5, 40)}, generator=_g).tolist()\n_pat = {_randint(1, 6)}",
            probes={"stop": Probe("stop_epoch(_v, _pat)", **EXACT),
                    "never": Probe("stop_epoch(sorted(_v, reverse=True), _pat)", **EXACT)}),
        2: ExerciseProbes(setup=f"_t, _lr = {_randint(5, 500)}, {_uniform(0.001, 0.5)}",
                          probes={"lam": Probe("matching_lambda(_t, _lr)", atol=0.0, rtol=1e-9)}),
        3: ExerciseProbes(
            setup="import torch.nn as _nn\ntorch.manual_seed(_seed)\n"
                  "_m = _nn.Sequential(_nn.Linear(6, 8), _nn.Tanh(), _nn.Linear(8, 3))\n"
                  f"_N = {_randint(10, 60)}\n_X = torch.randn(_N, 6, generator=_g)\n"
                  f"_y = torch.randint(0, 3, (_N,), generator=_g)\n_size = {_randint(3, 17)}",
            probes={"grads": "accumulated_grad(_m, _X, _y, _size)"}),
    },
    "07_llm_z_loss": {
        1: ExerciseProbes(
            setup=f"_t = torch.randn({_randint(1, 4)}, {_randint(1, 5)}, {_randint(2, 12)}, generator=_g) * {_uniform(1, 4)}",
            probes={"z": "my_z_loss(_t)", "normalised": "my_z_loss(_t.log_softmax(-1))"}),
        2: ExerciseProbes(
            setup=f"_t = torch.randn({_randint(1, 8)}, {_randint(2, 12)}, generator=_g) * 3 + 4",
            probes={"pinned": Probe("pin_log_z(_t)", atol=1e-5)}),
        3: ExerciseProbes(setup=f"_V, _d = {_randint(5, 200)}, {_randint(1, 64)}",
                          probes={"saved": Probe("tying_savings(_V, _d)", **EXACT)}),
        4: ExerciseProbes(
            setup=f"from regviz.lm import TinyLM\n_m = TinyLM({_randint(5, 60)}, 8, d_model=8 * {_randint(1, 4)}, "
                  f"n_layers={_randint(1, 4)})\n"
                  "import torch.nn as _nn\n"
                  "_m2 = _nn.Sequential(*[(_nn.Linear(4, 4), _nn.Linear(4, 4, bias=False), _nn.LayerNorm(4), _nn.Tanh())[_k]\n"
                  "                       for _k in torch.randint(0, 4, (8,), generator=_g).tolist()])",
            probes={"names": Probe("no_decay_names(_m)", **EXACT), "other": Probe("no_decay_names(_m2)", **EXACT)}),
    },
}
