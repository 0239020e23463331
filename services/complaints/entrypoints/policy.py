"""The complaints service's authorization policy as the routes see it: which roles may call a
route at all (401 without a token, 403 for another role), and what a response may show. The
rules themselves (scope by district and enterprise, contact visibility, who files on which
channel) are `service.access`, applied by the handlers once they have loaded what is asked for;
routes never repeat them.
"""

from __future__ import annotations

from typing import Annotated

from runtime.auth import Principal, Role
from runtime.http import require
from services.complaints.domain import complaint as complaint_model
from services.complaints.service import access

# --- who may call -------------------------------------------------------------------------------

Filer = Annotated[Principal, require(Role.OWNER, Role.ENTERPRISE)]
"""Owners (web) and enterprise staff (phone, counter) file complaints."""
Reader = Annotated[Principal, require(Role.ENTERPRISE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]
"""Enterprises and offices read complaints and survey results in their scope."""
Enterprise = Annotated[Principal, require(Role.ENTERPRISE)]
"""Enterprise staff handle complaints and run surveys."""
District = Annotated[Principal, require(Role.DISTRICT_OFFICE)]
"""The district office decides extensions."""


# --- what a response may show -------------------------------------------------------------------


def shows_contact(principal: Principal, c: complaint_model.Complaint) -> bool:
    """The detail view carries the owner's contact details only for those who handle it."""
    return c.contact is not None and access.may_see_contact(principal, c)
