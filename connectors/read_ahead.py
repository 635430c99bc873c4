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


def read_ahead(pages: Iterator[list], depth: int = 2) -> Iterator[list]:
    """The pages of `pages`, in order, fetched by a thread at most `depth` pages ahead of the caller."""
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

    thread = threading.Thread(target=fetch, name="read-ahead", daemon=True)
    thread.start()
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
