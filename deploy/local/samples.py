"""Sample requests shared by the end-to-end tests, the fault suite and the benchmarks.

A patrol inspection of the contract self-inspection template with three failed items (below the
pass mark): what a district office records when it finds a project wanting.
"""

from __future__ import annotations

from typing import Any

FAILED_INSPECTION: dict[str, Any] = {
    "project_id": "P-120101-0001",
    "kind": "patrol",
    "template_id": "contract-self-inspection",
    "inspected_at": "2011-08-20T09:30:00+08:00",
    "results": [
        {"item_id": item, "result": "pass"}
        for item in (
            "premises.office",
            "premises.gatehouse",
            "premises.plant_rooms",
            "waste.renovation",
            "waste.bins",
            "greenery.lawns",
            "greenery.pests",
            "order.uniform",
            "order.posture",
            "facilities.records",
            "facilities.elevators",
            "facilities.water",
            "facilities.power",
            "facilities.emergency_fund",
        )
    ]
    + [
        {"item_id": "waste.daily", "result": "fail", "note": "3 号楼垃圾桶满溢"},
        {"item_id": "order.night_duty", "result": "fail", "note": "夜班门岗空岗"},
        {"item_id": "facilities.fire", "result": "fail", "note": "2 号楼消防栓水压不足"},
    ],
}
