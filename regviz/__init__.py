"""regviz: the helper package behind the regularisation course notebooks."""
from .data import DATASETS, Dataset, load_dataset
from .device import default_device, environment_report, mode_line, resolve_device, seed_everything
from .history import History
from .models import CNN, MLP, count_parameters, make_model
from .stopping import EarlyStopping
from .sweep import sweep
from .train import evaluate, fit

__version__ = "0.1.0"

__all__ = ["DATASETS", "Dataset", "load_dataset", "default_device", "environment_report", "mode_line", "resolve_device", "seed_everything",
           "History", "MLP", "CNN", "count_parameters", "make_model", "EarlyStopping", "fit", "evaluate",
           "sweep", "__version__"]
