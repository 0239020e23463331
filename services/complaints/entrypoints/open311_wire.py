"""Open311 GeoReport v2 on the wire: JSON or XML rendering, the spec's error shape, and how a
category, its questions and a complaint are represented (public: no personal data). The routes
are in `open311`."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse, Response

from runtime.calendar import CHINA
from runtime.errors import DomainError, Forbidden, InvalidInput, NotFound, Unavailable
from services.complaints.domain import categories, owner_input
from services.complaints.domain import complaint as complaint_model
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.entrypoints.complaints_http import STATUS_ZH
from services.complaints.service.ports import PublicRow

GROUP = "物业服务投诉"
YESNO_VALUES = ({"key": "true", "name": "是"}, {"key": "false", "name": "否"})
FORMATS = ("json", "xml")
# XML: the root and item element per resource, as in the spec's examples.
XML_ITEMS = {"attributes": "attribute", "values": "value"}

Payload = list[dict[str, Any]] | dict[str, Any]
# The spec: "UTF-8 is required everywhere ... appropriate HTTP headers must be set".
JSON_TYPE = "application/json; charset=utf-8"


class Open311Error(Exception):
    def __init__(self, status: int, zh: str, en: str, headers: Mapping[str, str] | None = None):
        super().__init__(en)
        self.status, self.zh, self.en = status, zh, en
        self.headers = dict(headers or {})


# --- rendering ------------------------------------------------------------------------------------


def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for k, v in value.items():
            _xml_value(node, k, v)
    elif isinstance(value, list | tuple):
        for item in value:
            _xml_value(node, XML_ITEMS.get(name, "item"), item)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = str(value)


def render(fmt: str, payload: Payload, root: str, item: str, status: int = 200) -> Response:
    if fmt == "xml":
        top = ET.Element(root)
        if isinstance(payload, dict):
            for k, v in payload.items():
                _xml_value(top, k, v)
        else:
            for entry in payload:
                _xml_value(top, item, entry)
        body = '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="unicode")
        return Response(body, status_code=status, media_type="text/xml; charset=utf-8")
    return JSONResponse(payload, status_code=status, media_type=JSON_TYPE)


def error_response(fmt: str, err: Open311Error) -> Response:
    response = render(
        fmt if fmt in FORMATS else "json",
        [{"code": err.status, "description": f"{err.zh} / {err.en}"}],
        "errors",
        "error",
        err.status,
    )
    response.headers.update(err.headers)
    return response


def from_domain(exc: DomainError) -> Open311Error:
    status = 409
    if isinstance(exc, InvalidInput):
        status = 400
    elif isinstance(exc, NotFound):
        status = 404
    elif isinstance(exc, Forbidden):
        status = 403
    elif isinstance(exc, Unavailable):
        status = 503
    return Open311Error(status, exc.message.zh, exc.message.en)


async def answer(
    fmt: str, root: str, item: str, make: Callable[[], Awaitable[Payload]], status: int = 200
) -> Response:
    try:
        if fmt not in FORMATS:
            raise Open311Error(
                404, f"不支持的格式：{fmt[:16]}", f"unsupported format {fmt[:16]!r}: json or xml"
            )
        return render(fmt, await make(), root, item, status)
    except Open311Error as err:
        return error_response(fmt, err)
    except DomainError as exc:
        return error_response(fmt, from_domain(exc))


def w3(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(CHINA).isoformat(timespec="seconds")


def service(category: categories.Category) -> dict[str, Any]:
    return {
        "service_code": category.id,
        "service_name": category.name_zh,
        "description": f"{category.name_zh} / {category.name_en}",
        "metadata": bool(category.questions),
        "type": "realtime",
        "keywords": ",".join((category.id, category.name_zh, category.name_en)),
        "group": GROUP,
    }


def attribute(order: int, q: categories.Question) -> dict[str, Any]:
    values: list[dict[str, str]] = []
    datatype, datatype_description = "string", f"文字，最多 {owner_input.MAX_ANSWER} 字"
    if q.kind == "choice":
        datatype, datatype_description = "singlevaluelist", "从 values 中选择一个 key"
        values = [{"key": c.id, "name": c.label_zh} for c in q.choices]
    elif q.kind == "yesno":
        datatype, datatype_description = "singlevaluelist", "true（是）或 false（否）"
        values = [dict(v) for v in YESNO_VALUES]
    return {
        "variable": True,
        "code": q.id,
        "datatype": datatype,
        "required": q.required,
        "datatype_description": datatype_description,
        "order": order,
        "description": f"{q.label_zh} / {q.label_en}",
        "values": values,
    }


def updated(c: complaint_model.Complaint) -> datetime:
    moments = [c.filed_at]
    moments += [m for m in (c.accepted_at, c.escalated_at, c.closed_at) if m is not None]
    moments += [t.at for t in c.transfers]
    moments += [r.at for r in c.replies]
    moments += [f.at for f in c.feedback]
    for e in c.extensions:
        moments += [m for m in (e.requested_at, e.decided_at) if m is not None]
    return max(moments)


def notice(ticket_no: str) -> str:
    return f"受理编号 {ticket_no}，可凭编号查询办理进度 / ticket {ticket_no}"


def request(row: PublicRow, rules: ComplaintRules) -> dict[str, Any]:
    """Public: no contact, no description text, no owner-supplied address, no media."""
    c = row.complaint
    category = rules.categories.by_id.get(c.category)
    answer: dict[str, Any] = {
        "service_request_id": c.complaint_id,
        "status": "closed" if c.status is complaint_model.Status.CLOSED else "open",
        "status_notes": STATUS_ZH[c.status.value],
        "service_name": category.name_zh if category else c.category,
        "service_code": c.category,
        "agency_responsible": row.agency_name,
        "service_notice": notice(row.ticket_no),
        "requested_datetime": w3(c.filed_at),
        "updated_datetime": w3(updated(c)),
        "expected_datetime": w3(c.completion.deadline),
        "address": f"{row.district_name} {row.project_name}",
        "address_id": c.project_id,
    }
    if row.latitude is not None and row.longitude is not None:
        # The project's registered location (WGS-84, as the spec says), never the owner's.
        answer |= {"lat": row.latitude, "long": row.longitude}
    return answer
