"""Pending approval requests as the flags page shows them: on each environment the request
would change, who asked, and who may approve it."""

from __future__ import annotations

from collections.abc import Sequence

from redis.exceptions import RedisError

from handlers.approvals.store import APPROVAL_STORE, ApprovalRequest
from handlers.core.context import Application
from handlers.core.flag_activity import Activities, Activity
from handlers.core.timefmt import utc

__all__ = ["ApprovalActivity"]


class ApprovalActivity:
    """``FLAG_ACTIVITY`` for approvals: each pending request, on each environment it names."""

    async def about(self, app: Application, flags: Sequence[str], options: Sequence[str]) -> Activities:
        try:
            pending = await app.ports.need(APPROVAL_STORE).pending()
        except (RedisError, OSError, ValueError, KeyError) as error:
            return Activities(unread=f"Could not read the approval requests: {error}")
        wanted, where = set(flags), set(options)
        return Activities(
            tuple(
                Activity("approval", option, r.flag, r.id, _says(r))
                for r in pending
                if r.flag in wanted
                for option in r.options
                if option in where
            )
        )


def _says(request: ApprovalRequest) -> str:
    approvers = ", ".join(f"@{a}" for a in request.approvers) or "nobody"
    return (
        f"Approval {request.id} pending: /chatops {request.text}, asked by {request.requester.user_name}; "
        f"{approvers} may approve it until {utc(request.expires_at)}"
    )
