"""Differential grading: probe definitions agree with the reference, reject wrong answers, decode only plain data."""
import ast
import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from regviz.homework import find_exercises
from regviz.homework import chapter_probes as cp
from regviz.homework import compare
from regviz.homework import probes as pr
from regviz.homework.execute import CappedSession

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("0[0-9]_*.ipynb"))


def _imports(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [ast.unparse(s) for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]


def namespace(path: Path, numbers) -> dict:
    """The reference's top-level imports and the answer cells of `numbers`, executed in one namespace."""
    nb = nbformat.read(path, as_version=4)
    ns: dict = {}
    for cell in nb.cells:
        for statement in _imports(cell.source) if cell.cell_type == "code" else []:
            exec(statement, ns)
    for e in find_exercises(nb):
        if e.number in numbers:
            for i in e.answer_cells:
                exec(nb.cells[i].source, ns)
    return ns


def run_probes(ns: dict, spec: pr.ExerciseProbes, seed: int, monkeypatch) -> dict:
    """What the kernel side sends for one exercise, through JSON as on the wire, decoded by the grader."""
    import IPython.display

    sent = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: sent.append(obj))
    exec(pr.KERNEL_SIDE, ns)
    ns["_regviz_probe"](pr.PRELUDE + spec.setup, {k: p.expr for k, p in spec.probes.items()}, seed, pr.MAX_SCALARS, pr.MIME)
    (message,) = sent
    wire = json.loads(json.dumps(message[pr.MIME], allow_nan=False))
    budget = [pr.MAX_SCALARS]
    return {k: pr.decode(v, budget) for k, v in wire.items()}


FRESH = [(p, n) for p in CHAPTERS for n, s in cp.PROBES.get(p.stem, {}).items() if s.kind == "probe"]


class TestDefinitions:
    """Every course exercise has probes; those on fresh inputs pass the reference and fail a wrong answer."""

    @pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
    def test_every_exercise_is_probed(self, path):
        """Each exercise of each chapter has a probe spec; a 'state' one says why it cannot take fresh inputs."""
        numbers = [e.number for e in find_exercises(nbformat.read(path, as_version=4))]
        specs = cp.PROBES.get(path.stem, {})
        assert sorted(specs) == numbers
        assert all(s.why for s in specs.values() if s.kind == "state")

    @pytest.mark.parametrize("path, n", FRESH, ids=[f"{p.stem}-ex{n}" for p, n in FRESH])
    def test_reference_passes_wrong_answer_fails(self, path, n, monkeypatch):
        """Reference vs reference on one seed: no difference. Reference on another seed, or a constant answer: fails."""
        spec = cp.PROBES[path.stem][n]
        ns = namespace(path, [n])
        ref = run_probes(ns, spec, 1234, monkeypatch)
        assert not any(isinstance(v, pr.Raised) for v in ref.values()), ref
        again = run_probes(namespace(path, [n]), spec, 1234, monkeypatch)
        assert compare.judge_exercise(spec, again, ref) == (None, [])
        if spec.judge is None:  # the inputs depend on the seed: last run's answers are wrong for this one
            other = run_probes(namespace(path, [n]), spec, 98765, monkeypatch)
            assert compare.judge_exercise(spec, other, ref)[0] is not None
        wrong = namespace(path, [n])
        for name in [k for k, v in wrong.items() if callable(v) and k not in namespace(path, [])]:
            wrong[name] = lambda *a, **k: 0.5  # the answer's functions, all returning a constant
        assert compare.judge_exercise(spec, run_probes(wrong, spec, 1234, monkeypatch), ref)[0] is not None


class TestDecode:
    """Only plain data comes out of a kernel's message; anything else is refused, never executed."""

    def test_round_trip(self, monkeypatch):
        """Numbers, strings, nested lists, dicts with number keys, tensors (dtype, shape, bytes), errors."""
        import torch

        spec = pr.ExerciseProbes(probes={"v": "[1, 2.5, 'a', None, True, {0.1: (3,)}, torch.arange(6).view(2, 3), "
                                              "float('nan')]", "e": "1 / 0", "o": "object()"})
        v = run_probes({"torch": torch}, spec, 0, monkeypatch)
        assert v["v"][:5] == [1, 2.5, "a", None, True] and v["v"][5] == {0.1: [3]}
        assert v["v"][6].dtype == np.int64 and v["v"][6].tolist() == [[0, 1, 2], [3, 4, 5]]
        assert np.isnan(v["v"][7])
        assert v["e"] == pr.Raised("ZeroDivisionError: division by zero") and v["o"] == pr.Unsupported("object")

    @pytest.mark.parametrize("bad", [
        {"__tensor__": ["object", [1], "AAAA"]},                       # a dtype numpy would unpickle
        {"__tensor__": ["float32", [4], "AAAA"]},                      # 3 bytes for 16
        {"__tensor__": ["float32", [2], "not base64!"]},
        {"__pickle__": "gASVAAAA"},                                    # unknown tag
        {"a": 1, "b": 2},
        {"__dict__": [[[1], 2]]},                                      # unhashable key
        {"__tensor__": ["float32", [10**9], ""]},                      # over the budget
    ])
    def test_refused(self, bad):
        """Unknown tags, bad dtypes, byte counts that do not match, oversized tensors: BadResult."""
        with pytest.raises(pr.BadResult):
            pr.decode(bad)

    def test_depth(self):
        """Nesting deeper than the limit is refused (no recursion error in the grader)."""
        deep = 1
        for _ in range(pr.MAX_DEPTH + 2):
            deep = [deep]
        with pytest.raises(pr.BadResult):
            pr.decode(deep)

    def test_differs(self):
        """Tolerances apply to numbers and tensors; types, shapes and lengths must match."""
        a = np.array([1.0, 2.0], dtype=np.float32)
        assert compare.differs(a + 1e-7, a, 1e-6, 0) is None and compare.differs(a + 1e-3, a, 1e-6, 0)
        assert compare.differs(np.array(0.5), 0.5, 0, 0) is None  # a 0-d tensor counts as its number
        assert compare.differs([1, 2], [1, 2, 3], 0, 0) and compare.differs(True, 1, 0, 0) and compare.differs("1", 1, 0, 0)
        assert compare.differs(a.reshape(2, 1), a, 1, 1) and compare.differs(pr.Raised("E: x"), 1.0, 1, 1) == "raised E: x"


class TestMessageCap:
    """A kernel message over the byte limit is dropped before anything in it is decoded."""

    def frames(self, session, msg_type: str, text: str):
        msg = session.msg(msg_type, content={"name": "stdout", "text": text}, parent={"msg_id": "cell-7"})
        return session.feed_identities(session.serialize(msg))[1]

    def test_small_message_passes(self):
        """Under the limit: the message as sent."""
        s = CappedSession(limit=10_000, key=b"k")
        msg = s.deserialize(self.frames(s, "stream", "hello"))
        assert msg["content"]["text"] == "hello" and s.dropped == []

    def test_large_output_becomes_a_note(self, monkeypatch):
        """Over the limit: a short stderr note for the same cell; the content frame is never unpacked."""
        s = CappedSession(limit=10_000, key=b"k")
        frames = self.frames(s, "display_data", "x" * 50_000)
        unpacked = []
        original = s.unpack
        monkeypatch.setattr(s, "unpack", lambda b: (unpacked.append(len(b)), original(b))[1])
        msg = s.deserialize(frames)
        assert msg["msg_type"] == "stream" and msg["parent_header"]["msg_id"] == "cell-7"
        assert "dropped unread" in msg["content"]["text"] and s.dropped == [sum(map(len, frames))]
        assert max(unpacked) < 1000  # header and parent only

    def test_large_reply_is_an_error_reply(self):
        """An oversized execute_reply becomes an error reply (the cell does not hang)."""
        s = CappedSession(limit=1_000, key=b"k")
        msg = s.deserialize(self.frames(s, "execute_reply", "y" * 5_000))
        assert msg["msg_type"] == "execute_reply" and msg["content"]["status"] == "error"

    def test_client_copy_keeps_the_cap(self):
        """The kernel client works on a clone of the manager's session: same limit, drops seen by the manager."""
        s = CappedSession(limit=1_000, key=b"k")
        c = s.clone()
        c.deserialize(self.frames(c, "stream", "z" * 5_000))
        assert c.limit == 1_000 and len(s.dropped) == 1


@pytest.mark.parametrize("size,H", [(2, 5), (4, 7), (3, 10)])
def test_cutout_judge_accepts_a_correct_answer_on_the_smallest_probe_images(size, H):
    """The probe draws H - size from [3, 8): as few as 16 square positions, so 'varies' cannot mean > 20 of them."""
    import torch
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 1, H, H, generator=g) + 0.5
    top, left = torch.randint(0, H - size + 1, (2, 300), generator=g)
    out = x.clone()
    for i in range(300):
        out[i, :, top[i]:top[i] + size, left[i]:left[i] + size] = 0
    v = {"out": out.numpy(), "x": x.numpy(), "size": size, "untouched": True}
    assert cp._judge_cutout(v, None) is None
    fixed = x.clone()
    fixed[:, :, :size, :size] = 0  # the same square in every image
    assert "hardly varies" in cp._judge_cutout({**v, "out": fixed.numpy()}, None)
