"""The probes of each chapter, keyed by chapter and exercise number (not in the notebooks' metadata), so a chapter
gains probes without a notebook edit (the mechanics are in probes.py).

An exercise whose answer is notebook state (a trained model, a value picked from stored runs) cannot be probed
on fresh inputs: its spec has kind "state" and is judged by a property computed here from the values its
kernel returns (such values can be faked by a lying kernel).
"""
from __future__ import annotations

import numpy as np

from .probes import ExerciseProbes, Probe

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
    positions = (x.shape[-2] - s + 1) * (x.shape[-1] - s + 1)  # as few as 16 for the smallest probe images
    seen = len({z.tobytes() for z in zero})
    return None if seen > min(20, positions // 2) else f"the square's position hardly varies ({seen} of {positions})"


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
            setup=f"from regviz.models import TinyLM\n_m = TinyLM({_randint(5, 60)}, 8, d_model=8 * {_randint(1, 4)}, "
                  f"n_layers={_randint(1, 4)})\n"
                  "import torch.nn as _nn\n"
                  "_m2 = _nn.Sequential(*[(_nn.Linear(4, 4), _nn.Linear(4, 4, bias=False), _nn.LayerNorm(4), _nn.Tanh())[_k]\n"
                  "                       for _k in torch.randint(0, 4, (8,), generator=_g).tolist()])",
            probes={"names": Probe("no_decay_names(_m)", **EXACT), "other": Probe("no_decay_names(_m2)", **EXACT)}),
    },
}
