"""regviz: the helper package behind the regularisation course notebooks."""
from .data import load_dataset
from .device import default_device, environment_report, mode_line, resolve_device
from .models import CNN, MLP, count_parameters
from .stopping import EarlyStopping
from .sweep import sweep
from .train import evaluate, fit

__version__ = "0.1.0"

__all__ = ["load_dataset", "default_device", "environment_report", "mode_line", "resolve_device",
           "MLP", "CNN", "count_parameters", "EarlyStopping", "fit", "evaluate", "sweep", "__version__"]
