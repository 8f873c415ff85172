"""Processing workers for a CLI run or a stream drain: child Python processes that each load the NLP model once and
then run `process_batch` on the batches they are sent, so a run extracts and tags on every core.

Plain subprocesses, not `multiprocessing`: a Celery worker runs tasks in daemonic processes, which
`multiprocessing` forbids to have children (Airflow's `drain` task failed with "daemonic processes are not allowed
to have children"). A job is a pickled `(batch path, settings, today)` on the child's stdin; the child answers
with progress messages, then the output folder or the error's traceback text, pickled on a pipe of its own (the
child's stdout is its stderr, so whatever a library prints cannot corrupt the answers).
"""

from __future__ import annotations

import collections
import datetime as dt
import importlib.abc
import math
import os
import pickle
import queue
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, Any, Self

from pipeline import progress
from pipeline.settings import Settings

WORKER_BATCH_SIZE = 50
"""Most inputs in a raw batch when several workers process a run: small batches keep the workers evenly loaded
(with 200-input batches, 1,000 inputs went 600/400 to two workers); the load reads them back in larger chunks."""


def shared_batch_size(settings: Settings, workers: int, inputs: int | None = None) -> int:
    """Inputs per raw batch when `workers` processes share a run or a stream's micro-batch: at most
    `WORKER_BATCH_SIZE` when there are several, and for a known number of inputs (a micro-batch) no more than
    an even share of them per worker, so each has a batch."""
    size = min(settings.batch_size, WORKER_BATCH_SIZE) if workers > 1 else settings.batch_size
    return size if inputs is None else max(1, min(size, math.ceil(inputs / workers)))


class WorkerFailed(RuntimeError):
    """A worker raised on a batch, or died."""


class BatchWorkers:
    """`count` processing processes, started at once. `submit` queues batches and returns a ticket at once;
    each worker holds at most `IN_FLIGHT` of them, and gets the next queued batch as it answers, so a slow batch
    does not hold up the others. `collect` waits for a ticket's output folders, meanwhile handing the workers'
    progress (`pipeline.progress`) to this process's listeners.

    A reader thread per worker turns its answers into messages on one queue, so whichever worker speaks first is
    heard first."""

    IN_FLIGHT = 2
    """Batches a worker holds: the one it works on and the next, so it never waits for the parent."""

    def __init__(self, count: int, model_name: str):
        self._workers: list[subprocess.Popen[bytes]] = []
        self._messages: queue.SimpleQueue[tuple[int, tuple[str, Any]]] = queue.SimpleQueue()
        self._readers: list[threading.Thread] = []
        self._queued: collections.deque[tuple[int, tuple[Path, Settings, dt.date | None]]] = collections.deque()
        self._in_flight: list[collections.deque[int]] = []
        self._done: dict[int, Path] = {}
        self._next = 0
        for number in range(count):
            worker = subprocess.Popen([sys.executable, "-m", "pipeline.stages.workers", model_name],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            self._workers.append(worker)
            self._in_flight.append(collections.deque())
            reader = threading.Thread(target=self._read, args=(number, worker.stdout), daemon=True)
            reader.start()
            self._readers.append(reader)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._workers)

    def submit(self, batches: list[Path], settings: Settings, today: dt.date | None = None) -> list[int]:
        """Queue the batches and return at once (the workers tag while the caller loads the micro-batch before);
        `collect` waits for their answers."""
        ticket = list(range(self._next, self._next + len(batches)))
        self._next += len(batches)
        self._queued.extend((index, (batch, settings, today)) for index, batch in zip(ticket, batches, strict=True))
        self._dispatch()
        return ticket

    def collect(self, ticket: list[int]) -> list[Path]:
        """The output folder of each batch of a `submit`, in order."""
        while any(index not in self._done for index in ticket):
            number, (kind, value) = self._messages.get()
            if kind == "progress":
                progress.advance(*value)
            elif kind == "done":
                self._done[self._in_flight[number].popleft()] = Path(value)
                self._dispatch()
            elif kind == "error":
                raise WorkerFailed(value)
            else:
                raise WorkerFailed(f"processing worker {number} exited with {self._workers[number].wait()}")
        return [self._done.pop(index) for index in ticket]

    def _dispatch(self) -> None:
        while self._queued:
            number = min(range(len(self._workers)), key=lambda n: len(self._in_flight[n]))
            if len(self._in_flight[number]) >= self.IN_FLIGHT:
                return
            index, job = self._queued.popleft()
            stream = self._workers[number].stdin
            assert stream is not None
            _send(stream, job)
            self._in_flight[number].append(index)

    def _read(self, number: int, stream: IO[bytes] | None) -> None:
        assert stream is not None
        while True:
            try:
                message = pickle.load(stream)
            except (EOFError, OSError, pickle.UnpicklingError):
                self._messages.put((number, ("exited", None)))
                return
            self._messages.put((number, message))

    def close(self) -> None:
        for worker in self._workers:
            if worker.stdin:
                worker.stdin.close()
        for worker in self._workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        for worker in self._workers:
            if worker.stdout:
                worker.stdout.close()


def _send(stream: IO[bytes], job: Any) -> None:
    pickle.dump(job, stream)
    stream.flush()


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Makes pandas unimportable in a worker. pyarrow imports it, when it is installed, on the first list it
    converts, only to ask whether the list is a pandas object (45 MB a worker); nothing a worker runs needs it."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError("a processing worker does without pandas", name=name)


def _serve(model_name: str) -> None:
    """Answer jobs until stdin closes. Arrow allocates the batch files with malloc: its default mimalloc pool kept
    what each batch freed (37 MB more per worker at its peak)."""
    sys.meta_path.insert(0, _WithoutPandas())
    import pyarrow

    pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    from pipeline.enrich.entities import load_model
    from pipeline.stages.process import process_batch

    def report(stage: str, done: int, total: int | None) -> None:
        if done:
            _send(answers, ("progress", (stage, done)))

    load_model(model_name)
    jobs = sys.stdin.buffer
    with progress.listening(report):
        while True:
            try:
                batch, settings, today = pickle.load(jobs)
            except EOFError:
                return
            try:
                answer = ("done", str(process_batch(batch, settings, today)))
            except Exception:  # noqa: BLE001 - the parent raises it with the traceback
                answer = ("error", traceback.format_exc())
            _send(answers, answer)


if __name__ == "__main__":
    _serve(sys.argv[1])
