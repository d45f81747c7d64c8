"""The web dashboard at /ui/: server-rendered pages over the same services as the API.

No build step and nothing fetched at run time: templates/ are tornado templates, static/ holds
the stylesheet, a small script and the vendored htmx (see static/README).
"""

from __future__ import annotations

from typing import Any

import tornado.web

from .accounts import AuditPage, RevokeTokenAction, RevokeUserTokensAction, TokensPage, UsersPage
from .base import STATIC, IndexRedirect, StaticHandler, UiHandler, app_settings
from .calendars import CalendarsPage
from .forms import JobFormPage, PreviewPartial
from .job import JobPage
from .jobs import DeleteAction, JobListPage, PauseAction, ResumeAction, RunAction
from .nodes import NodesPage
from .session import LoginPage, LogoutAction

NAME = r"([^/]+)"


class UiNotFound(UiHandler):
    requires_login = False

    async def prepare(self) -> None:
        raise tornado.web.HTTPError(404, log_message="There is no such page in the dashboard.")


def routes(args: dict[str, Any]) -> list[Any]:
    """The dashboard's routes, for make_app; `args` carries the Context."""
    return [
        (r"/ui", IndexRedirect),
        (r"/ui/", JobListPage, args),
        (r"/ui/login", LoginPage, args),
        (r"/ui/logout", LogoutAction, args),
        (r"/ui/new", JobFormPage, args),
        (r"/ui/preview", PreviewPartial, args),
        (r"/ui/calendars", CalendarsPage, args),
        (r"/ui/tokens", TokensPage, args),
        (r"/ui/audit", AuditPage, args),
        (r"/ui/tokens/([^/]+)/revoke", RevokeTokenAction, args),
        (r"/ui/users", UsersPage, args),
        (r"/ui/nodes", NodesPage, args),
        (r"/ui/users/([^/]+)/revoke-tokens", RevokeUserTokensAction, args),
        (rf"/ui/jobs/{NAME}/edit", JobFormPage, args),
        (rf"/ui/jobs/{NAME}/run", RunAction, args),
        (rf"/ui/jobs/{NAME}/pause", PauseAction, args),
        (rf"/ui/jobs/{NAME}/resume", ResumeAction, args),
        (rf"/ui/jobs/{NAME}/delete", DeleteAction, args),
        (rf"/ui/jobs/{NAME}", JobPage, args),
        (r"/ui/static/(.*)", StaticHandler, {"path": STATIC}),
        (r"/ui/.*", UiNotFound, args),
    ]


__all__ = ["app_settings", "routes"]
