"""htmx in one place: is this an htmx request, and the response headers that steer what it swaps."""
from flask import Response, flash, make_response, redirect, request
from flask_login import login_url


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


def sign_in_first(login_view: str, message: str, category: str):
    """Flask-Login's answer to a request that is not signed in (a session ended elsewhere, expired or deactivated).

    htmx follows a redirect inside its own request and would swap the whole sign-in page into the panel it was
    updating: it gets 401 with HX-Redirect to the sign-in page instead, whose `next` is the page the panel is on
    (HX-Current-URL; the sign-in page keeps only same-site paths), not the fragment's own address.
    """
    flash(message, category)
    if not is_htmx():
        return redirect(login_url(login_view, request.url))
    response = make_response("", 401)
    response.headers["HX-Redirect"] = login_url(login_view, request.headers.get("HX-Current-URL") or request.url)
    return response
