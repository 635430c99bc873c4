"""Typed connector errors whose messages tell district IT what is wrong and what to do."""


class ConnectorError(Exception):
    """Base error; `message` is shown to users as-is, so it must never contain a secret."""

    def __init__(self, message: str, *, status: int | None = None, url: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url

    def __str__(self) -> str:
        return self.message


class AuthenticationFailed(ConnectorError):
    """The SIS refused our credentials or token (401, or a failed token request)."""


class ScopeRefused(AuthenticationFailed):
    """The token endpoint refused the scopes asked for (invalid_scope, unauthorized_client)."""


class PermissionDenied(ConnectorError):
    """The SIS denied read access (403) to one area, e.g. "teachers".

    `problem` says what was refused and `fix` what district IT should do; the message is both, in that order.
    """

    def __init__(self, problem: str, *, fix: str = "", area: str = "", status: int | None = 403, url: str = ""):
        super().__init__(f"{problem} {fix}".strip(), status=status, url=url)
        self.problem, self.fix, self.area = problem, fix, area


class NotFound(ConnectorError):
    """The SIS has no such endpoint or object (404). `web_page`: the 404 came as a web page (a web server or proxy
    answering for a path it does not route), not as the SIS's own OneRoster answer."""

    def __init__(self, message: str, *, status: int | None = None, url: str = "", web_page: bool = False):
        super().__init__(message, status=status, url=url)
        self.web_page = web_page


class ProviderUnavailable(ConnectorError):
    """The SIS was unreachable, too busy (429) or failing (5xx) even after retries."""


class BadResponse(ConnectorError):
    """The SIS answered with something that is not usable OneRoster data."""


class InvalidSettings(ConnectorError):
    """Connection form values were refused; `errors` maps field name to message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__(" ".join(f"{msg}" for msg in self.errors.values()))
