"""Test connection as the page runs it: the POST queues the test, a worker runs it, the poll shows the rows."""
import re

from rq import SimpleWorker

HX = {"HX-Request": "true"}


def finish_connection_test(app, client, queued):
    """The poll's response once a worker has run the test that `queued` (the POST's 202) started."""
    html = queued.get_data(as_text=True)
    assert queued.status_code == 202 and 'hx-trigger="every 1s"' in html, (queued.status_code, html[:300])
    poll = re.search(r'hx-get="([^"]+)"', html).group(1)
    SimpleWorker([app.check_queue], connection=app.redis).work(burst=True)
    return client.get(poll, headers=HX)
