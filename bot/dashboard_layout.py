"""The dashboard's page layout: the frame every page shares (a skip link, the navigation, who is
signed in and their Sign out button) and the pages of that frame that are about getting in and
out: the sign-in button, the refusal, the signed-out page and the error pages.

Every page, error pages included, is the same document shape, so a visitor who lands on a 404 or
a 500 still has the navigation, and every page is checked for accessibility the same way.
"""

from __future__ import annotations

from html import escape

from handlers.dashboard.signin import Visitor

__all__ = [
    "LAYOUT_STYLE",
    "error_page",
    "page",
    "refusal_page",
    "signed_out_page",
    "signin_page",
]

# The frame's own rules (the tables' and charts' are bot.dashboard_html's STYLE). Colours meet
# WCAG AA: every text at least 4.5:1 against what is behind it, focus rings at least 3:1.
LAYOUT_STYLE = """
header nav{display:flex;gap:16px;align-items:center}header form{margin:0}
header button{font:inherit;color:#fff;background:transparent;border:1px solid #fff;border-radius:4px;
padding:1px 10px;cursor:pointer}header button:hover{background:#fff;color:#24292f}
.skip{position:absolute;left:8px;top:-48px;background:#fff;color:#0550ae;padding:6px 10px;z-index:2}
.skip:focus{top:8px}
:focus-visible{outline:3px solid #0969da;outline-offset:2px}header :focus-visible{outline-color:#ffd33d}
main:focus{outline:none}
.primary{font:inherit;color:#fff;background:#1a7f37;border:0;border-radius:4px;padding:6px 16px;cursor:pointer}
caption{text-align:left;font-weight:600;padding:4px 0}
"""

_NAVIGATION = (
    '<nav aria-label="Dashboard"><a href="/ui/"><b>chatops</b></a><a href="/ui/">Flags</a>'
    '<a href="/ui/?cleanup=1">Cleanup</a><a href="/ui/deployments">Deployments</a>'
    '<a href="/ui/activity">Rollouts, freezes, approvals</a></nav>'
)
_HOW_TO_SIGN_IN = (
    "<p>Type <code>/chatops run dashboard</code> in Slack and follow the link it answers with "
    "(it is yours only, works once and expires in a few minutes).</p>"
)
_TITLES = {
    400: "Bad request",
    401: "Sign in through Slack",
    403: "Refused",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    500: "Something went wrong",
    503: "Unavailable",
}


def page(title: str, body: str, visitor: Visitor | None) -> str:
    """A whole page: ``body`` in the frame, with ``visitor``'s name and Sign out when signed in."""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · chatops</title>'
        f'<meta name="viewport" content="width=device-width"><link rel="stylesheet" href="/ui/style.css">'
        f'</head><body><a class="skip" href="#main">Skip to content</a><header>{_NAVIGATION}{_who(visitor)}'
        f'</header><main id="main" tabindex="-1">{body}</main></body></html>'
    )


def _who(visitor: Visitor | None) -> str:
    """Who is signed in and, for a session (not a proxy's visitor), the button that ends it."""
    if visitor is None:
        return ""
    name = f'<span class="who">{escape(visitor.name)}</span>'
    if not visitor.form_token:
        return name
    return name + _sign_out_form(visitor)


def _sign_out_form(visitor: Visitor, button: str = "<button>") -> str:
    """A POST carrying the session's form token: another site can send neither."""
    return (
        '<form method="post" action="/ui/signout">'
        f'<input type="hidden" name="token" value="{escape(visitor.form_token)}">{button}Sign out</button></form>'
    )


def refusal_page(message: str) -> str:
    """What a request without a valid session sees: why, and how to get in. Nothing else."""
    return page("Sign in", f"<h1>Sign in through Slack</h1><p>{escape(message)}</p>{_HOW_TO_SIGN_IN}", None)


def signin_page(visitor: Visitor, token: str) -> str:
    """What a sign-in link shows: a button. Only its POST spends the link, so a link unfurler or
    a mail scanner that fetches the link leaves it working for its person."""
    body = (
        f"<h1>Sign in</h1><p>This link signs you in to the dashboard as <b>{escape(visitor.name)}</b>. "
        "It works once.</p>"
        f'<form method="post" action="/ui/signin"><input type="hidden" name="token" value="{escape(token)}">'
        '<button class="primary">Sign in</button></form>'
    )
    return page("Sign in", body, None)


def signed_out_page(visitor: Visitor | None) -> str:
    """``/ui/signout`` read with GET (which changes nothing): signed out, or how to sign out."""
    if visitor is None:
        body = f"<h1>Signed out</h1><p>You are not signed in to the dashboard.</p>{_HOW_TO_SIGN_IN}"
    elif visitor.form_token:
        body = f"<h1>Sign out</h1><p>You are signed in as <b>{escape(visitor.name)}</b>.</p>" + _sign_out_form(
            visitor, '<button class="primary">'
        )
    else:
        body = (
            f"<h1>Sign out</h1><p>You are signed in as <b>{escape(visitor.name)}</b> by the proxy in front of "
            "the dashboard: sign out there.</p>"
        )
    return page("Sign out", body, visitor)


def error_page(status: int, message: str, visitor: Visitor | None) -> str:
    """An error (404, 403, 500...) in the frame: what went wrong, and the way back."""
    title = _TITLES.get(status, "Error")
    body = (
        f"<h1>{escape(title)}</h1><p>{escape(message)}</p>"
        + (_HOW_TO_SIGN_IN if visitor is None else '<p><a href="/ui/">Back to the flags</a></p>')
        + f'<p class="status">HTTP {status}</p>'
    )
    return page(title, body, visitor)
