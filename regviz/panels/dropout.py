"""Chapter 03 panel: dropout probability p and epochs -> learning curves, the gap, and the whole p sweep."""
from __future__ import annotations

from ..experiments.dropout import PS, train_grid
from ..plots import DropoutView
from ..widgets import SliderPanel, choice_slider


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """The chapter-03 panel: opening it trains the whole p grid in one batched sweep; moving a slider redraws."""
    max_epochs = 20 if fast else 40
    marks = (5, 10, 15, 20) if fast else (10, 20, 30, 40)
    grid: dict = {}  # {p: History}, filled when the panel opens; the view draws every p from it

    def precompute():
        grid.update(train_grid(epochs=max_epochs, seed=seed, device=device))
        for p, h in grid.items():
            yield {"p": p}, h

    def run(p):  # every slider position is in the precomputed grid; this only runs if that failed
        raise ValueError(f"p={p} was not precomputed")

    controls = {
        "p": choice_slider("dropout p", PS, 0.5),
        "epochs": choice_slider("epochs shown", marks, marks[-1]),
    }
    return SliderPanel(run, controls, DropoutView(grid), view_only=("epochs",), precompute=precompute,
                       figsize=(13, 3.8), title="Dropout on digits (300 examples): MLP 2x256, AdamW lr 1e-3, batch 32")
