"""Friendly error pages in the visitor's language; JSON errors under /api/."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

from .api import error_response
from .i18n import gettext as _
from .limits import retry_after

MESSAGES: dict[int, tuple[str, Callable[[], str]]] = {
    400: ("bad_request", lambda: _("Something in the address of this page is not right.")),
    403: ("forbidden", lambda: _("You may not open this page with your account.")),
    404: (
        "not_found",
        lambda: _("We cannot find this page. Maybe the activity is no longer listed."),
    ),
    405: ("method_not_allowed", lambda: _("This action is not possible here.")),
    413: ("too_large", lambda: _("This is too much text for one form. Please make it shorter.")),
    429: (
        "too_many_requests",
        lambda: _("Too many tries. Please wait a few minutes and try again."),
    ),
    500: (
        "server_error",
        lambda: _("Something went wrong on our side. Please try again in a moment."),
    ),
}


def _handle(exc: Exception) -> Response | tuple[str, int, dict[str, str]]:
    if isinstance(exc, SecurityError):  # a Host we do not serve: nothing built from it
        return Response("Unknown host.\n", 400, mimetype="text/plain")
    status = exc.code if isinstance(exc, HTTPException) and exc.code else 500
    code, message = MESSAGES.get(status, MESSAGES[400 if status < 500 else 500])
    if isinstance(exc, CSRFError):
        code, message = (
            "form_expired",
            lambda: _(
                "This form was open too long or came from elsewhere. Please fill it in again."
            ),
        )
    headers = {"Retry-After": str(retry_after())} if status == 429 else {}
    if request.path.startswith("/api/"):
        response = error_response(status, code, message())
        response.headers.update(headers)
        return response
    return render_template("error.html", status=status, message=message()), status, headers


def init_app(app: Flask) -> None:
    for status in (400, 403, 404, 405, 413, 429, 500):
        app.register_error_handler(status, _handle)
