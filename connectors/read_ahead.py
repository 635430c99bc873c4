"""Read the next pages of a listing while the caller works on the current one.

Paging is a ping-pong: the SIS builds a page while we wait, then we parse and file it while the SIS waits. A
district night's read files every record of the district (parsed, packed, written to the spool), about as much
work per page as the SIS's, so fetching ahead on a thread lets the two overlap (measured with benchmarks/
district_bench.py; see the README). Nothing is lost or reordered: pages come out in the order the listing gave
them, and an error of the listing is raised where its page would have been, so an incomplete read still fails.
"""
import queue
import threading
from collections.abc import Iterator

_END = object()


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


def read_ahead(pages: Iterator[list], depth: int = 2) -> "ReadAhead":
    """The pages of `pages`, in order, fetched by a thread at most `depth` pages ahead of the caller.

    The thread starts at once, so the first pages come in while the caller still prepares (a sync loads its
    directory meanwhile); close() it (or read it to the end) to stop the thread."""
    return ReadAhead(pages, depth)


class ReadAhead:
    """An iterator over another's pages, read ahead by a thread that starts when it is made."""

    def __init__(self, pages: Iterator[list], depth: int):
        ready: queue.Queue = queue.Queue(maxsize=depth)
        stop = threading.Event()

        def offer(item) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def fetch() -> None:
            try:
                for page in pages:
                    if not offer(page):
                        return
                offer(_END)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it in order
                offer(_Failed(exc))
            finally:
                close = getattr(pages, "close", None)
                if close is not None and stop.is_set():
                    close()

        self._stop = stop
        self._thread = threading.Thread(target=fetch, name="read-ahead", daemon=True)
        self._thread.start()
        self._out = _taken(ready, stop, self._thread)

    def __iter__(self) -> "ReadAhead":
        return self

    def __next__(self) -> list:
        return next(self._out)

    def close(self) -> None:
        """Stop the thread (it closes the pages it reads) and wait for it."""
        self._stop.set()
        self._out.close()
        self._thread.join(timeout=30)

    def __del__(self) -> None:  # dropped unread (a loop left by an exception): the thread must not wait forever
        self._stop.set()


def _taken(ready: queue.Queue, stop: threading.Event, thread: threading.Thread) -> Iterator[list]:
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=30)
