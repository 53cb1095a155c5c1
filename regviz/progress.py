"""Progress bars that leave their final state behind, never a frozen 0% (tqdm, https://github.com/tqdm/tqdm).

In a Jupyter kernel the bar is tqdm's widget, shown under a display id. Closing it replaces that output with one
line of text (``fit: 60/60 epochs, train_loss=0.001, val_loss=0.457``), so a saved notebook, GitHub, nbviewer
and the course website show how the run ended. The widget's own text/plain is written once, when it first
appears, and would read ``0/60`` forever. Elsewhere (terminals, pytest) it is tqdm's text bar, which erases itself
when it closes.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable


def final_text(desc: str, n: int, total: int | None, unit: str = "it", postfix: str | None = None) -> str:
    """The line a closed bar leaves: ``"fit: 5/5 epochs, val_loss=1.2"``, or ``"fit: stopped after 3 of 5 epochs"``.

    Args:
        desc: the bar's label. n: steps done. total: steps planned (None: unknown). unit: one step's name.
        postfix: tqdm's postfix text (``"train_loss=0.1, val_loss=0.2"``), appended when given.

    Returns:
        One line without a percentage or a bar, so it cannot be mistaken for a bar that stopped moving.
    """
    units = f"{unit}s" if unit and not unit.endswith("s") else unit
    if total is None or total <= 0:
        done = f"{n} {units}"
    elif n >= total:
        done = f"{n}/{total} {units}"
    else:
        done = f"stopped after {n} of {total} {units}"
    head = f"{desc}: {done}" if desc else done
    return f"{head}, {postfix}" if postfix else head


def in_notebook() -> bool:
    """True where ``tqdm.auto`` picks its notebook widget (an IPython kernel with ipywidgets)."""
    import tqdm.auto

    return any(c.__module__ == "tqdm.notebook" for c in tqdm.auto.tqdm.__mro__)


@functools.lru_cache(maxsize=1)
def _notebook_bar():
    """tqdm's notebook bar, displayed under a display id that ``close`` points at the final line."""
    from IPython.display import display
    from tqdm.notebook import tqdm as notebook_tqdm
    from tqdm.std import tqdm as std_tqdm

    class NotebookBar(notebook_tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, display=False, **kwargs)
            self._handle = None
            if not self.disable:
                self._handle = display(self.container, display_id=True)
                self.displayed = True

        def close(self):
            if self.disable or self._handle is None:
                return
            std_tqdm.close(self)  # bookkeeping only (gui=True: tqdm itself prints nothing)
            self.disp(check_delay=False)  # the widget's texts and value at their last step, for the saved state
            try:
                self.container.close()
            except AttributeError:
                pass
            handle, self._handle = self._handle, None
            text = final_text(self.desc, self.n, self.total, self.unit, self.postfix)
            handle.update({"text/plain": text}, raw=True)

    return NotebookBar


def progress_bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", disable: bool = False):
    """A tqdm bar (``update``, ``set_postfix``, ``close``; iterate it when given ``iterable``).

    Args:
        iterable: wrapped and counted as it is consumed (its end closes the bar); None for a manual bar.
        total: number of steps (taken from ``len(iterable)`` when omitted). desc: the label. unit: a step's name.
        disable: no bar at all.

    Returns:
        In a notebook, tqdm's widget bar whose ``close`` leaves ``final_text`` in its place; elsewhere tqdm's
        text bar with ``leave=False``.
    """
    if in_notebook():
        cls = _notebook_bar()
    else:
        from tqdm.std import tqdm as cls
    return cls(iterable, total=total, desc=desc, unit=unit, leave=False, disable=disable)
