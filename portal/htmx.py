"""htmx in one place: is this an htmx request, and the response headers that steer what it swaps."""
from flask import Response, request


def is_htmx() -> bool:
    """True for a request made by htmx (answer with a fragment, not a page)."""
    return request.headers.get("HX-Request") == "true"


def retarget(response: Response, selector: str) -> Response:
    """Swap the fragment into `selector` (its one root element replaces that element) instead of the target."""
    response.headers.update({"HX-Retarget": selector, "HX-Reswap": "outerHTML"})
    return response


def trigger(response: Response, event: str) -> Response:
    """Fire `event` on the page once the response is swapped (listeners use hx-trigger="event from:body")."""
    response.headers["HX-Trigger"] = event
    return response


def full_reload(response: Response, url: str) -> Response:
    """Make htmx load `url` as a whole page (the page around the fragment must change too)."""
    response.headers["HX-Redirect"] = url
    return response
