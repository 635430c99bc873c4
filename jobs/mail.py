"""RQ jobs on the mail queue: emails people are waiting for, kept apart from long syncs."""
from .context import app_context


def deliver_reset_email(email: str) -> None:
    """Send the password-reset email if an active account has this address (the lookup happens here, in the
    worker, so the web request does the same work for every address)."""
    from portal.auth.reset import send_reset_email
    with app_context():
        send_reset_email(email)
