"""Chapter 03 panel: dropout probability p and epochs -> learning curves, the gap, and the whole p sweep."""
from __future__ import annotations

from pathlib import Path

from ..experiments.dropout import FASHION_FAST, FASHION_PS, STORED, fashion_sweep, load_sweep
from ..views.dropout import DropoutView
from ..widgets import SliderPanel, choice_slider


def panel(*, fast: bool = False, device=None, seed: int = 0, stored: str | Path | None = STORED) -> SliderPanel:
    """The chapter-03 panel on FashionMNIST; every p is precomputed when it opens, moving a slider redraws.

    Opening reads seed 0 of the stored chapter grid (``stored``, written by ``python -m regviz.experiments.dropout``:
    MLP 2x1024 on 1,000 images, 60 epochs) when that file exists; otherwise (or with ``stored=None``) it trains the
    small live grid ``FASHION_FAST`` (MLP 2x256 on 300 images) in one batched sweep, a few seconds.
    """
    if stored is not None and Path(stored).exists():
        res, seed_index = load_sweep(stored), 0
        cfg = res.config
        title = (f"Dropout on FashionMNIST ({cfg['n_train']:,} images, stored run, seed {res.seeds[0]}): "
                 f"MLP {cfg['depth']}x{cfg['width']}, AdamW lr {cfg['lr']:g}, batch {cfg['batch_size']}")
    else:
        cfg = dict(FASHION_FAST, epochs=8 if fast else FASHION_FAST["epochs"])
        res, seed_index = None, 0
        title = (f"Dropout on FashionMNIST ({cfg['n_train']} images, trained live): MLP {cfg['depth']}x{cfg['width']}, "
                 f"AdamW lr {cfg['lr']:g}, batch {cfg['batch_size']}")
    epochs = cfg["epochs"]
    marks = tuple(sorted({max(1, epochs * k // 4) for k in range(1, 5)}))
    grid: dict = {}  # {p: History}, filled when the panel opens; the view draws every p from it

    def precompute():
        runs = res if res is not None else fashion_sweep(ps=FASHION_PS, seeds=[seed], device=device, **cfg)
        grid.update({p: hs[seed_index] for p, hs in runs.mlp.items()})
        for p, h in grid.items():
            yield {"p": p}, h

    def run(p):  # every slider position is in the precomputed grid; this only runs if that failed
        raise ValueError(f"p={p} was not precomputed")

    controls = {
        "p": choice_slider("p", FASHION_PS, 0.5),
        "epochs": choice_slider("epochs shown", marks, marks[-1]),
    }
    return SliderPanel(run, controls, DropoutView(grid), view_only=("epochs",), precompute=precompute,
                       figsize=(13, 3.8), title=title)
