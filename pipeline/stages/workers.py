"""Processing workers for a stream drain: child Python processes that each load the NLP model once and then run
`process_batch` on the batches they are sent, so a drain extracts and tags on every core.

Plain subprocesses, not `multiprocessing`: a Celery worker runs tasks in daemonic processes, which
`multiprocessing` forbids to have children (Airflow's `drain` task failed with "daemonic processes are not allowed
to have children"). A job is a pickled `(batch path, settings, today)` on the child's stdin, the answer the output
folder or the error's traceback text, pickled on a pipe of its own (the child's stdout is its stderr, so whatever
a library prints cannot corrupt the answers).
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import subprocess
import sys
import traceback
from pathlib import Path
from typing import IO, Any, Self

from pipeline.settings import Settings


class WorkerFailed(RuntimeError):
    """A worker raised on a batch, or died."""


class BatchWorkers:
    """`count` processing processes, started at once; `submit` spreads batches over them round-robin, `collect`
    waits for their answers."""

    def __init__(self, count: int, model_name: str):
        self._workers: list[subprocess.Popen[bytes]] = []
        for _ in range(count):
            self._workers.append(subprocess.Popen([sys.executable, "-m", "pipeline.stages.workers", model_name],
                                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self._workers)

    def submit(self, batches: list[Path], settings: Settings, today: dt.date | None = None) -> list[list[int]]:
        """Send the batches round-robin and return at once (the workers tag while the caller loads the
        micro-batch before); `collect` waits for the answers."""
        assigned: list[list[int]] = [[] for _ in self._workers]
        for index, batch in enumerate(batches):
            number = index % len(self._workers)
            _send(self._stdin(number), (batch, settings, today))
            assigned[number].append(index)
        return assigned

    def collect(self, assigned: list[list[int]]) -> list[Path]:
        """The output folder of each batch `submit` sent, in order."""
        results: list[Path | None] = [None] * sum(map(len, assigned))
        for number, indexes in enumerate(assigned):
            for index in indexes:
                results[index] = self._answer(number)
        return [result for result in results if result is not None]

    def _stdin(self, number: int) -> IO[bytes]:
        stream = self._workers[number].stdin
        assert stream is not None
        return stream

    def _answer(self, number: int) -> Path:
        stream = self._workers[number].stdout
        assert stream is not None
        try:
            kind, value = pickle.load(stream)
        except EOFError as error:
            raise WorkerFailed(f"processing worker {number} exited with {self._workers[number].wait()}") from error
        if kind == "error":
            raise WorkerFailed(value)
        return Path(value)

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
            if worker.stdout:
                worker.stdout.close()


def _send(stream: IO[bytes], job: Any) -> None:
    pickle.dump(job, stream)
    stream.flush()


def _serve(model_name: str) -> None:
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    from pipeline.enrich.entities import load_model
    from pipeline.stages.process import process_batch

    load_model(model_name)
    jobs = sys.stdin.buffer
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
