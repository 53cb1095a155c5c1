"""Chapter 07 panel: z_loss (the z-loss coefficient) and dropout p of a tiny character LM -> loss curves and the log Z trace.

z-loss: Shazeer et al., Mesh-TensorFlow (2018); Chowdhery et al., "PaLM" (2022).
"""
from __future__ import annotations

from ..experiments.llm import PS, Z_COEFS, with_reference
from ..views.llm import LMView
from ..widgets import SliderPanel, choice_slider, log_slider


def panel(*, fast: bool = False, device=None, seed: int = 0) -> SliderPanel:
    """z_loss (log scale, with 0) and dropout p; each setting trains once and is cached."""
    def run(z_loss, p):
        return with_reference(z_loss=z_loss, p=p, fast=fast, device=device, seed=seed)

    def precompute():
        # the whole z-loss axis at the default p: the slider the chapter is about redraws from the cache;
        # then the z-loss-0 reference of every other p, so a fresh setting trains one run, not two
        for z, p in [(z, 0.1) for z in Z_COEFS] + [(0.0, p) for p in PS if p != 0.1]:
            yield {"z_loss": z, "p": p}, run(z, p)

    controls = {"z_loss": log_slider("z_loss", Z_COEFS, 1e-2),
                "p": choice_slider("p", PS, 0.1)}  # dropout at all three sites (TinyLM's p)
    return SliderPanel(run, controls, LMView(), precompute=precompute,
                       title="z-loss pins log Z; dropout narrows the train/validation gap")
