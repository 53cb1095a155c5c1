"""Command line: `python -m regviz.homework release SRC --out DIR` and `... grade SUBMISSIONS --out CSV`."""
from __future__ import annotations

import argparse
import sys

from .classrun import grade
from .partial import partial_path
from .release import release
from .sandbox import KINDS, parse_memory


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage block
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The `release` / `grade` argument parser."""
    p = _Parser(prog="python -m regviz.homework", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    r = sub.add_parser("release", help="write student copies (solutions stubbed, outputs cleared)")
    r.add_argument("src", help="folder of chapter notebooks (NN_name.ipynb) or one notebook")
    r.add_argument("--out", required=True, help="folder for the student copies")
    r.add_argument("--chapter", action="append", help="only this chapter (01, 1, 01_overfitting, overfitting); repeatable")
    g = sub.add_parser("grade", help="execute every submission and write a CSV of marks")
    g.add_argument("submissions", help="folder of submitted notebooks (one per student; file name = student)")
    g.add_argument("--out", required=True, help="CSV file to write")
    g.add_argument("--chapter", help="chapter to grade against (default: read from the notebooks' metadata)")
    g.add_argument("--notebooks", help="folder of reference notebooks (default: ./notebooks or the course's)")
    g.add_argument("--jobs", type=int, help="parallel kernels of the local cluster (default and maximum: number of cores)")
    g.add_argument("--timeout", type=int, default=300, help="seconds per cell (default 300)")
    g.add_argument("--total-timeout", type=int, default=1800, help="seconds per notebook (default 1800)")
    g.add_argument("--quick", action="store_true", help="run only the cells the exercises depend on")
    g.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3)")
    g.add_argument("--keep", help="folder to save the executed notebooks in (feedback for students)")
    g.add_argument("--sandbox", choices=KINDS, help="isolation for each kernel: bwrap (default), docker, podman, or none")
    g.add_argument("--memory", default="4G", type=_memory, help="memory cap per kernel, e.g. 4G (default) or 512M")
    g.add_argument("--disk", default="512M", type=_disk,
                   help="bytes each kernel may write in all (bwrap: a tmpfs scratch folder; default 512M)")
    g.add_argument("--max-size", default="20M", type=_size,
                   help="larger submissions are not read; their row says so (default 20M)")
    g.add_argument("--scheduler", help="a Dask scheduler (tcp://host:8786, or a scheduler file) whose workers grade "
                   "the class; default: a local cluster of --jobs worker processes")
    g.add_argument("--resume", action="store_true",
                   help="keep the rows an interrupted run wrote (CSV + .partial.jsonl) and grade only the others")
    return p


def _memory(text: str) -> int:
    try:
        return parse_memory(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _disk(text: str) -> int:
    try:
        return parse_memory(text, minimum=16 * 2**20, what="disk")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _size(text: str) -> int:
    try:
        return parse_memory(text, minimum=1, what="size")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; bad arguments print one line on stderr and return 2."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "release":
            for path in release(args.src, args.out, chapters=args.chapter):
                print(path)
        else:
            grades = grade(args.submissions, args.out, chapter=args.chapter, notebooks=args.notebooks, jobs=args.jobs,
                           timeout=args.timeout, total_timeout=args.total_timeout, quick=args.quick,
                           kernel_name=args.kernel, keep=args.keep, sandbox=args.sandbox, memory=args.memory, disk=args.disk,
                           max_bytes=args.max_size, scheduler=args.scheduler, resume=args.resume)
            print(f"graded {len(grades)} notebooks -> {args.out}")
    except (ValueError, OSError) as e:
        print(f"python -m regviz.homework {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command == "grade":
            print(f"python -m regviz.homework grade: interrupted; the rows finished so far are kept in "
                  f"{partial_path(args.out)}: rerun with --resume to grade only the others", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
