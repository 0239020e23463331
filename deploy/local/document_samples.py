"""Sample official documents for docs/documents/: a circulated criticism (通报批评) and a
rectification order (整改通知书), each made the way the services make it (the ladder drafts, the
district office signs off, the notice becomes the document; an order as stored, with its number),
as PDF, and page 1 as PNG (pdftoppm from Debian's poppler-utils) to look at without a viewer.

    python -m deploy.local.document_samples [--out docs/documents]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runtime.documents import OfficialDocument, render_pdf
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Delivered
from schemas import cloudevents
from schemas.inspections import v1 as inspections
from services.inspections.domain import rectification
from services.inspections.service import rectifications
from services.inspections.service.ports import OrderRow
from services.notifications.adapters import rule_file
from services.notifications.adapters.memory import MemoryStore
from services.notifications.domain import rules
from services.notifications.service import criticisms, issuing

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "services" / "notifications" / "data" / "rules.toml"
PROJECT = rules.ProjectFacts(
    "P-120101-0001", "和平区·海河花园", "E-0001", "津城物业服务有限公司", "120101", "和平区"
)
ITEMS = (
    inspections.FailedItem(
        item_id="facilities.fire", group="facilities", title_zh="消防设施运行正常",
        title_en="Fire protection working", severity="urgent", note="2 号楼消防栓水压不足",
    ),
    inspections.FailedItem(
        item_id="waste.daily", group="cleaning", title_zh="垃圾日产日清",
        title_en="Daily waste", severity="serious", note="3 号楼垃圾桶满溢",
    ),
)  # fmt: skip
DETECTED = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


async def criticism() -> OfficialDocument:
    """An overdue rectification's reminder, its criticism drafted 72 hours later, signed off by
    the district office two days after that: the issued notice as its document."""
    store = MemoryStore(FixedClock(DETECTED))
    store.tables.projects[PROJECT.project_id] = PROJECT
    book = rule_file.load(RULES)
    overdue = inspections.RectificationOverdue(
        order_id="8d0c7a52-2f8e-4c52-9a55-6f0f3b1d2c11", inspection_id="I-2026-1120-01",
        project_id=PROJECT.project_id, project_name=PROJECT.project_name,
        enterprise_id=PROJECT.enterprise_id, enterprise_name=PROJECT.enterprise_name,
        district_code=PROJECT.district_code, items=ITEMS, severity="urgent",
        deadline=DETECTED - timedelta(hours=1), status="ordered", detected_at=DETECTED,
    )  # fmt: skip
    await issuing.notices_for(book)(
        store.unit(), [Delivered(overdue, cloudevents.from_event(overdue, source="/samples"))]
    )
    due = DETECTED + timedelta(hours=72)
    await issuing.escalate_due(lambda: store.unit(FixedClock(due)), book)
    (draft,) = store.tables.drafts.values()
    notice = await criticisms.sign_off(
        store.unit(FixedClock(due + timedelta(days=2))), book, draft.draft_id,
        district_code=PROJECT.district_code, by="sample-officer",
    )  # fmt: skip
    row = {f.name: getattr(notice, f.name) for f in dataclasses.fields(notice)}
    return criticisms.official_document(row, PROJECT.enterprise_name)


def rectification_order() -> OfficialDocument:
    ordered = DETECTED - timedelta(days=3)
    row = OrderRow(
        order=rectification.new_order(
            "8d0c7a52-2f8e-4c52-9a55-6f0f3b1d2c11", ordered, ordered + timedelta(days=2)
        ),
        inspection_id="I-2026-1117-01", project_id=PROJECT.project_id,
        project_name=PROJECT.project_name, enterprise_id=PROJECT.enterprise_id,
        enterprise_name=PROJECT.enterprise_name, district_code=PROJECT.district_code,
        items=[i.model_dump() for i in ITEMS], severity="urgent", doc_year=2026, doc_seq=12,
    )  # fmt: skip
    return rectifications.official_order(row, PROJECT.district_name)


def write(out: Path, name: str, doc: OfficialDocument) -> None:
    pdf = out / f"{name}.pdf"
    pdf.write_bytes(render_pdf(doc))
    print(f"wrote {pdf.relative_to(REPO) if pdf.is_relative_to(REPO) else pdf}")
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        print("pdftoppm not found (Debian: apt-get install -y poppler-utils): no PNG")
        return
    subprocess.run(
        [pdftoppm, "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", str(pdf),
         str(out / name)],
        check=True,
    )  # fmt: skip
    print(f"wrote {out / name}.png")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "documents")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    write(args.out, "criticism", asyncio.run(criticism()))
    write(args.out, "rectification-order", rectification_order())


if __name__ == "__main__":
    main()
