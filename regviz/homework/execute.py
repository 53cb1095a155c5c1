"""Execute one grading copy in a sandboxed Jupyter kernel (nbclient), with capped output and time limits.

The kernel talks to the grader over Unix sockets in its scratch folder (it has no network); nothing it
writes is read back except its messages: each is dropped unread when its raw frames exceed a byte limit, and
what is kept is capped per cell.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.session import Session
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import output_from_msg

from .cgroups import Cgroups, kernel_cgroups, sandbox_memory_cap
from .sandbox import Sandbox, kernel_command
from .tamper import ROLE

OUTPUT_LIMIT = 2 * 10**6  # bytes of output kept per cell
MAX_OUTPUTS = 500  # output items kept per cell
MESSAGE_LIMIT = 16 * 2**20  # bytes of one kernel message (all its frames); larger ones are dropped undecoded
MAX_IPC_ENTRIES = 12  # the connection file and ipykernel's five sockets, with room to spare
HEADER_LIMIT = 64 * 2**10  # a dropped message's header frames are read only when this small
OUTPUT_TYPES = ("stream", "display_data", "execute_result", "update_display_data", "error")


class CappedSession(Session):
    """A Session that drops a message whose raw frames exceed `limit` bytes before unpacking any of it.

    Nothing of the message's content is decoded (no JSON parse, no Python strings, no notebook output): an
    output message becomes a short stderr note for its cell, an execute reply an error reply, anything else an
    ignored message. `dropped` holds the size of each dropped message.
    """

    def __init__(self, *, limit: int = MESSAGE_LIMIT, **kwargs):
        super().__init__(**kwargs)
        self.limit = limit
        self.dropped: list[int] = []

    def clone(self) -> "CappedSession":
        new = super().clone()  # the client's copy: same limit, and its drops are seen by the manager
        new.limit, new.dropped = self.limit, self.dropped
        return new

    def deserialize(self, msg_list, content=True, copy=True):
        size = sum(len(m.bytes) if hasattr(m, "bytes") and not isinstance(m, bytes) else len(m) for m in msg_list)
        if size <= self.limit:
            return super().deserialize(msg_list, content=content, copy=copy)
        self.dropped.append(size)
        frames = [bytes(m.bytes) if hasattr(m, "bytes") and not isinstance(m, bytes) else m for m in msg_list[1:3]]

        def small(frame) -> dict:
            try:
                value = self.unpack(frame) if len(frame) <= HEADER_LIMIT else {}
            except Exception:  # noqa: BLE001 - a hostile kernel's frames
                value = {}
            return value if isinstance(value, dict) else {}

        header = small(frames[0]) if frames else {}
        parent = small(frames[1]) if len(frames) > 1 else {}
        kind = header.get("msg_type") if isinstance(header.get("msg_type"), str) else ""
        note = f"[grader: a kernel message of {size:,} bytes was dropped unread (limit {self.limit:,})]\n"
        if kind in OUTPUT_TYPES:
            kind, body = "stream", {"name": "stderr", "text": note}
        elif kind == "execute_reply":
            body = {"status": "error", "ename": "MessageTooLarge", "evalue": note.strip(), "traceback": [],
                    "execution_count": None}
        else:
            kind, body = "execute_input", {}  # ignored by the client
        header = {"msg_id": str(header.get("msg_id", "")), "msg_type": kind, "session": str(header.get("session", "")),
                  "username": "", "date": header.get("date"), "version": "5.3"}
        return {"header": header, "msg_id": header["msg_id"], "msg_type": kind, "parent_header": parent,
                "metadata": {}, "content": body, "buffers": []}


# A first cell planted by the grader: stream output past the cap is not even sent, so an honest flood (a cell
# that prints 100 MB) never reaches the grader's memory. A hostile kernel can undo it; the grader caps again.
KERNEL_CAP = """
def _regviz_cap(cls, limit=%d):
    flush_buffers, sent = cls._flush_buffers, {}
    def capped(self):  # ipykernel's OutStream: the text of each message, per stream and cell
        for parent, data in flush_buffers(self):
            key = (self.name, parent.get("msg_id"))
            room, sent[key] = limit - sent.get(key, 0), sent.get(key, 0) + len(data)
            yield parent, data[:max(room, 0)]
    cls._flush_buffers = capped
import sys as _regviz_sys
if hasattr(type(_regviz_sys.stdout), "_flush_buffers"):
    _regviz_cap(type(_regviz_sys.stdout))
del _regviz_cap, _regviz_sys
"""


class SandboxKernelManager(AsyncKernelManager):
    """Starts the named kernel through `kernel_command` (sandbox + resource limits)."""

    def __init__(self, *, box: Sandbox, scratch: Path, hide: list[Path], env: dict[str, str], extra_ro: list[Path],
                 cpu_seconds: int, cgroups: Cgroups | None = None, message_limit: int = MESSAGE_LIMIT,
                 ipc: Path | None = None, **kwargs):
        ipc = scratch if ipc is None else ipc
        super().__init__(transport="ipc", ip=str(ipc / "kernel"), connection_file=str(ipc / "kernel.json"), **kwargs)
        self.session = CappedSession(limit=message_limit, key=self.session.key,
                                     signature_scheme=self.session.signature_scheme)
        self._box, self._scratch, self._hide, self._env = box, scratch, hide, env
        self._extra_ro, self._cpu, self._cgroups, self._ipc = extra_ro, cpu_seconds, cgroups, ipc

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        return kernel_command(self._box, cmd, self._scratch, hide=self._hide, env=self._env, extra_ro=self._extra_ro,
                              cpu_seconds=self._cpu, cgroups=self._cgroups,
                              ipc=None if self._ipc == self._scratch else self._ipc)

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"  # signals would reach bwrap, not the kernel
        return spec


def _size(out: nbformat.NotebookNode) -> int:
    if out.get("output_type") == "stream":
        return len(out.get("text", ""))
    return len(json.dumps(out.get("data", {}))) + len(json.dumps(out.get("traceback", [])))


class GradingClient(NotebookClient):
    """NotebookClient that caps each cell's output, ignores widget comms and records each reply's status."""

    def __init__(self, nb, *, output_limit: int = OUTPUT_LIMIT, **kwargs):
        super().__init__(nb, **kwargs)
        self.output_limit = output_limit
        self.statuses: dict[int, str] = {}
        self.truncated: set[int] = set()
        self._sizes: dict[int, int] = {}

    def output(self, outs, msg, display_id, cell_index):
        try:
            out = output_from_msg(msg)
        except ValueError:
            return None
        used = self._sizes.get(cell_index, 0)
        size = _size(out)
        if out.get("output_type") == "error":  # always kept (a check's verdict), traceback shortened
            out["traceback"] = out.get("traceback", [])[-20:]
            outs.append(out)
            return out
        if used + size > self.output_limit or len(outs) >= MAX_OUTPUTS:
            if cell_index not in self.truncated:
                self.truncated.add(cell_index)
                room = max(0, self.output_limit - used)
                if out.get("output_type") == "stream" and room:
                    out["text"] = out["text"][:room]
                    outs.append(out)
                outs.append(nbformat.v4.new_output("stream", name="stderr",
                                                   text=f"\n[grader: output over {self.output_limit} bytes; the rest was dropped]\n"))
            self._sizes[cell_index] = self.output_limit
            return None
        self._sizes[cell_index] = used + size
        outs.append(out)
        return out

    def handle_comm_msg(self, outs, msg, cell_index):
        return None  # no widget state and no output-widget redirection while grading

    def clear_output(self, outs, msg, cell_index):
        outs[:] = []
        self._sizes[cell_index] = 0
        self.truncated.discard(cell_index)

    async def _check_raise_for_error(self, cell, cell_index, exec_reply):
        self.statuses[cell_index] = (exec_reply or {}).get("content", {}).get("status", "none")
        return await super()._check_raise_for_error(cell, cell_index, exec_reply)


def run_notebook(nb: nbformat.NotebookNode, *, box: Sandbox, scratch: Path, hide: list[Path] = (),
                 env: dict[str, str] | None = None, extra_ro: list[Path] = (), timeout: int = 300,
                 total_timeout: int = 1800, kernel_name: str = "python3", output_limit: int = OUTPUT_LIMIT,
                 message_limit: int = MESSAGE_LIMIT) -> tuple[nbformat.NotebookNode, dict[int, str], list[str]]:
    """Execute `nb` (modified in place; a first cell that caps stream output is inserted) in a sandboxed kernel.

    The connection file and sockets live in a folder of their own beside `scratch`; the kernel may add
    nothing else there (a watchdog stops a kernel that does: that folder has no size cap).

    Args:
        nb: the grading copy.
        box: sandbox and limits.
        scratch: the kernel's working folder (with the socket folder, the only writable path inside the sandbox;
            under bwrap, a tmpfs of box.disk bytes filled with a copy of this folder).
        hide: folders the kernel must not see.
        env: the kernel's environment (bwrap/docker: its whole environment; none: added to the grader's).
        extra_ro: more read-only paths for the kernel.
        timeout: seconds per cell (interrupted past it, later cells still run).
        total_timeout: seconds for the whole notebook (kernel killed past it).
        kernel_name: Jupyter kernel whose command is wrapped.
        output_limit: bytes of output kept per cell.
        message_limit: a kernel message over this many bytes (all frames) is dropped before it is decoded.
    Returns:
        (executed notebook, reply status per executed cell index ('ok'/'error'/...), notes).
    """
    env = dict(env or {})
    prelude = nbformat.v4.new_code_cell(KERNEL_CAP % (output_limit + 1000))  # a bit more, so the cut is still noted
    prelude.metadata[ROLE] = {"role": "prelude"}
    nb.cells.insert(0, prelude)
    kernel_env = env if box.kind != "none" else {**os.environ, **env}
    # containers have --memory and --pids-limit; bwrap/none: cgroups where this process may make them
    cgroups = (kernel_cgroups(box.nproc, sandbox_memory_cap(box.memory, box.disk)) if box.kind in ("bwrap", "none")
               else None)
    ipc = Path(tempfile.mkdtemp(prefix="regviz-ipc-"))
    km = SandboxKernelManager(box=box, scratch=scratch, hide=list(hide), env=kernel_env, extra_ro=list(extra_ro),
                              cpu_seconds=total_timeout + 60, cgroups=cgroups, kernel_name=kernel_name,
                              message_limit=message_limit, ipc=ipc)
    client = GradingClient(
        nb, km=km, output_limit=output_limit, timeout=timeout, startup_timeout=120, allow_errors=True,
        interrupt_on_timeout=True, raise_on_iopub_timeout=False, iopub_timeout=5, record_timing=False,
        store_widget_state=False, shutdown_kernel="immediate",
        error_on_timeout={"ename": "TimeoutError", "evalue": f"cell exceeded the {timeout} s time limit", "traceback": []},
        resources={"metadata": {"path": str(scratch)}},
    )
    notes: list[str] = []
    start = time.monotonic()
    expired = threading.Event()

    def kill():
        expired.set()
        proc = getattr(km.provisioner, "process", None) if km.provisioner else None
        if proc is not None:
            try:
                proc.kill()  # bwrap --die-with-parent takes the whole sandbox down with it
            except OSError:
                pass

    timer = threading.Timer(total_timeout, kill)
    timer.daemon = True
    timer.start()
    done, misused = threading.Event(), threading.Event()

    def watch_sockets():  # the socket folder: the connection file and a few sockets, nothing else
        while not done.wait(0.25):
            try:
                entries = list(os.scandir(ipc))
                bad = len(entries) > MAX_IPC_ENTRIES or any(
                    not (e.name == "kernel.json" or stat.S_ISSOCK(e.stat(follow_symlinks=False).st_mode))
                    for e in entries)
            except OSError:
                continue
            if bad:
                misused.set()
                kill()
                return

    watcher = threading.Thread(target=watch_sockets, daemon=True)
    watcher.start()
    try:
        # cleanup_kc: nbclient does not stop a kernel whose manager it was given unless told to
        client.execute(cwd=str(scratch), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cleanup_kc=True,
                       **({"env": kernel_env} if box.kind == "none" else {}))
    except (DeadKernelError, CellTimeoutError, RuntimeError, asyncio.TimeoutError, OSError) as e:
        if expired.is_set() or time.monotonic() - start >= total_timeout:
            notes.append(f"notebook over its {total_timeout} s limit, kernel stopped")
        else:
            notes.append(f"execution stopped: {type(e).__name__}: {str(e)[:200]}")
    except Exception as e:  # noqa: BLE001 - a hostile kernel can break the protocol in any way
        notes.append(f"execution stopped: {type(e).__name__}: {str(e)[:200]}")
    finally:
        timer.cancel()
        done.set()
        watcher.join()
        proc = getattr(km.provisioner, "process", None) if km.provisioner else None
        if proc is not None and proc.poll() is None:  # a kernel that outlived its cleanup (or an error in it)
            kill()
        oom = cgroups.oom_kills() if cgroups is not None else 0
        if cgroups is not None:
            cgroups.remove()
        shutil.rmtree(ipc, ignore_errors=True)
    if misused.is_set():
        notes = [n for n in notes if "limit, kernel stopped" not in n]
        notes.append("kernel stopped: it wrote into the grader's socket folder")
    if oom:
        notes.append(f"{oom} process(es) killed at the sandbox memory cap ({cgroups.memory:,} bytes, shared mappings "
                     "and scratch files included)")
    if km.session.dropped:
        notes.append(f"{len(km.session.dropped)} kernel message(s) over {message_limit:,} bytes dropped unread "
                     f"(largest {max(km.session.dropped):,} bytes)")
    if client.truncated:
        notes.append(f"output over {output_limit} bytes in {len(client.truncated)} cell(s), truncated")
    return nb, client.statuses, notes
