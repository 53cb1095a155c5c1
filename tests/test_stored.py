"""regviz.experiments.stored: stored rows <-> JSON, and every chapter loader against its committed file."""
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from regviz.experiments.stored import read_json, record, rows

RESULTS = Path(__file__).resolve().parents[1] / "notebooks" / "results"


@dataclass(frozen=True)
class Row:
    name: str
    value: float
    extra: list | None = None


def test_rows_and_record_round_trip():
    got = rows(Row, [{"name": "a", "value": 1.0}, {"name": "b", "value": 2.0, "extra": [1]}])
    assert got == [Row("a", 1.0), Row("b", 2.0, [1])]
    assert [record(r) for r in got] == [{"name": "a", "value": 1.0}, {"name": "b", "value": 2.0, "extra": [1]}]


@pytest.mark.parametrize("bad, says", [({"name": "a"}, "required"), ({"name": "a", "value": 1, "typo": 2}, "typo"),
                                       (["a", 1], "list")])
def test_a_record_that_is_not_a_row_is_a_value_error(bad, says):
    with pytest.raises(ValueError, match=says) as e:
        rows(Row, [{"name": "ok", "value": 0.0}, bad], source="x.json")
    assert "record 1 in x.json" in str(e.value)


def test_read_json_refuses_what_is_not_a_json_object(tmp_path):
    (tmp_path / "a.json").write_text("[1, 2]")
    (tmp_path / "b.json").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(ValueError, match="JSON list"):
        read_json(tmp_path / "a.json")
    with pytest.raises(ValueError, match="not JSON"):
        read_json(tmp_path / "b.json")
    (tmp_path / "c.json").write_text(json.dumps({"k": 1}))
    assert read_json(tmp_path / "c.json") == {"k": 1}


def _loaders():
    from regviz.experiments import augmentation, dropout, lm_anisotropy, lm_regularisers, lm_stability, overfitting
    from regviz.experiments import weight_decay
    keep_command = lambda r, path: dropout.save_sweep(r, path, command=r.command)  # noqa: E731
    from regviz.experiments import capacity
    return [("double_descent_mlp.json", capacity.load_width_sweep, capacity.save_width_sweep),
            ("fashion_reference.json", overfitting.load_reference, overfitting.save_reference),
            ("fashion_lambda_sweep.json", weight_decay.load_fashion_sweep, weight_decay.save_fashion_sweep),
            ("dropout_fashion.json", dropout.load_sweep, keep_command),
            ("dropout_fashion_5000.json", dropout.load_sweep, keep_command),
            ("augmentation_fashion.json", augmentation.load_results, augmentation.save_results),
            ("augmentation_fashion_400steps.json", augmentation.load_results, augmentation.save_results),
            ("lm_lr_sweep.json", lm_stability.load, lm_stability.save),
            ("lm_lr_sweep_bf16.json", lm_stability.load, lm_stability.save),
            ("lm_anisotropy.json", lm_anisotropy.load, lm_anisotropy.save),
            ("lm_regularisers.json", lm_regularisers.load, lm_regularisers.save),
            ("lm_zloss_sweep.json", lm_regularisers.load, lm_regularisers.save)]


@pytest.mark.parametrize("name, load, save", _loaders(), ids=lambda v: v if isinstance(v, str) else "")
def test_stored_files_load_into_dataclasses_and_save_back_byte_for_byte(name, load, save, tmp_path):
    """Reading a committed result and writing it again gives the same file: no field is lost or renamed."""
    src = RESULTS / name
    if not src.exists():
        pytest.skip(f"{name} not committed")
    result = load(src)
    save(result, tmp_path / name)
    assert (tmp_path / name).read_text() == src.read_text()


def test_a_stored_file_with_a_renamed_field_is_refused(tmp_path):
    from regviz.experiments import augmentation
    d = json.loads((RESULTS / "augmentation_fashion.json").read_text())
    d["sizes"][3]["val_acc"] = d["sizes"][3].pop("best_val_acc")
    (tmp_path / "g.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match=r"record 3 .* not a SizeRun.*val_acc"):
        augmentation.load_results(tmp_path / "g.json")
