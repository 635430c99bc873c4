"""The portal's request class: the CSV bundle upload may be larger than any other request body."""
from flask import Request, current_app

UPLOAD_ENDPOINTS = ("rostering.upload_bundle", "sources.upload_bundle")


class PortalRequest(Request):
    """Werkzeug refuses a body past `max_content_length` with 413 before parsing it; the form parser spools file
    parts to temporary files, so even the largest upload is never held in memory."""

    @property
    def max_content_length(self) -> int | None:
        if self.endpoint in UPLOAD_ENDPOINTS and current_app:
            return current_app.config["BUNDLE_MAX_UPLOAD_BYTES"]
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value
