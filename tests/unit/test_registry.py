"""Registry files (services.inspections.adapters.registry_files), template and activity rules
(services.inspections.domain.project_registry): pure."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

from runtime import http
from services.inspections.adapters import registry_files, registry_tables
from services.inspections.domain import (
    activities,
    actors,
    checklist,
    problems,
    project_registry,
    templates,
)
from services.inspections.entrypoints import activities_http, registry_http
from services.inspections.entrypoints import http as inspections_http

DATA = Path("services/inspections/data")
HEADER = list(project_registry.PROJECT_FIELDS)
ROW = {
    "project_id": "P-120101-0001",
    "project_name": "和平区·海河花园",
    "address": "天津市和平区南京路 101 号",
    "district_code": "120101",
    "district_name": "和平区",
    "enterprise_id": "E-0001",
    "enterprise_name": "津城物业服务有限公司",
    "service_grade": "一级",
}


def row(**changes: str) -> dict[str, str]:
    return {**ROW, **changes}


def to_csv(rows: list[dict[str, str]], header: list[str] = HEADER, *, bom: bool = False) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(h, "") for h in header])
    return out.getvalue().encode("utf-8-sig" if bom else "utf-8")


def problems_of(data: bytes | str, fmt: registry_files.FileFormat = "csv") -> dict[str, str]:
    with pytest.raises(project_registry.InvalidRegistryFile) as caught:
        registry_files.parse_projects(data, fmt)
    assert caught.value.code == "registry_file_invalid"
    return {p.field: p.en for p in caught.value.problems}


# --- registry files ------------------------------------------------------------------------


def test_the_shipped_json_registry_parses() -> None:
    projects = registry_files.parse_projects((DATA / "projects.json").read_bytes(), "json")
    assert [p.project_id for p in projects] == [
        "P-120101-0001",
        "P-120101-0002",
        "P-120103-0001",
        "P-120104-0001",
    ]
    assert projects[0] == project_registry.ProjectFacts(**ROW, latitude=39.1205, longitude=117.198)
    assert all(p.latitude is not None and p.longitude is not None for p in projects)


def test_a_location_is_optional_both_or_neither_and_in_range() -> None:
    ok, problems = project_registry.check_project({**ROW, "latitude": "39.12", "longitude": 117.2})
    assert problems == []
    assert ok is not None
    assert (ok.latitude, ok.longitude) == (39.12, 117.2)
    none, problems = project_registry.check_project({**ROW, "latitude": "", "longitude": " "})
    assert problems == []
    assert none is not None
    assert none.latitude is None
    for bad, field in (
        ({"latitude": "39.12"}, "latitude"),
        ({"latitude": "91", "longitude": "117.2"}, "latitude"),
        ({"latitude": "39.1", "longitude": "east"}, "longitude"),
        ({"latitude": True, "longitude": 117.2}, "latitude"),
        ({"latitude": "nan", "longitude": "117.2"}, "latitude"),
    ):
        facts, problems = project_registry.check_project({**ROW, **bad})
        assert facts is None
        assert [p.field for p in problems] == [field], (bad, problems)


def test_csv_may_carry_location_columns() -> None:
    rows = [row(latitude="39.1205", longitude="117.198"), row(project_id="P-120101-0002")]
    rows[1] = {**rows[1], "latitude": "", "longitude": ""}
    first, second = registry_files.parse_projects(to_csv(rows), "csv")
    assert (first.latitude, first.longitude) == (39.1205, 117.198)
    assert (second.latitude, second.longitude) == (None, None)


def test_csv_with_an_excel_bom_reads_like_one_without() -> None:
    rows = [row(), row(project_id="P-120101-0002", project_name="和平区·五大道公寓")]
    with_bom = to_csv(rows, bom=True)
    assert with_bom.startswith(b"\xef\xbb\xbf")
    assert registry_files.parse_projects(with_bom, "csv") == registry_files.parse_projects(
        to_csv(rows), "csv"
    )
    # A BOM in already-decoded text (read with encoding="utf-8") is tolerated too.
    assert (
        registry_files.parse_projects(with_bom.decode("utf-8"), "csv")[0].project_id
        == "P-120101-0001"
    )


def test_chinese_text_round_trips_through_csv_and_json() -> None:
    facts = row(
        project_name="河西区·梅江家园(二期)“金色”苑",
        address="天津市河西区友谊南路 88 号,近紫金山路",
        enterprise_name="天津市津城物业服务有限公司(河西分公司)",
    )
    [from_csv] = registry_files.parse_projects(to_csv([facts], bom=True), "csv")
    document = json.dumps({"projects": [facts]}, ensure_ascii=False).encode()
    [from_json] = registry_files.parse_projects(document, "json")
    assert from_csv == from_json == project_registry.ProjectFacts(**facts)


def test_columns_may_come_in_any_order_and_values_are_trimmed() -> None:
    header = list(reversed(HEADER))
    [project] = registry_files.parse_projects(
        to_csv([row(project_name="  海河花园 ")], header), "csv"
    )
    assert project.project_name == "海河花园"


def test_excel_trailing_empty_rows_are_ignored() -> None:
    data = to_csv([row()]) + b",,,,,,,\r\n\r\n"
    assert len(registry_files.parse_projects(data, "csv")) == 1


@pytest.mark.parametrize("code", ["110101", "12010", "1201011", "120100", "12O101", ""])
def test_a_district_code_outside_tianjin_is_refused(code: str) -> None:
    problems = problems_of(to_csv([row(), row(project_id="P-2", district_code=code)]))
    assert list(problems) == ["rows.3.district_code"]


def test_a_missing_column_refuses_the_file() -> None:
    header = [h for h in HEADER if h != "service_grade"]
    problems = problems_of(to_csv([row()], header))
    assert problems == {"rows.1": "missing column service_grade"}


def test_unknown_and_repeated_columns_are_refused() -> None:
    with pytest.raises(project_registry.InvalidRegistryFile) as caught:
        registry_files.parse_projects(to_csv([row()], [*HEADER, "备注", "address"]), "csv")
    reasons = {p.en for p in caught.value.problems}
    assert reasons == {"unknown column 备注", "column address appears twice"}


def test_a_duplicate_project_id_in_one_file_names_the_first_row() -> None:
    problems = problems_of(to_csv([row(), row(), row(project_id="P-3")]))
    assert problems == {"rows.3.project_id": "project id P-120101-0001 already appears at rows.2"}


@pytest.mark.parametrize(
    ("field", "length"),
    [
        ("project_id", 65),
        ("project_name", 201),
        ("address", 501),
        ("district_name", 201),
        ("enterprise_name", 201),
        ("service_grade", 17),
    ],
)
def test_over_long_fields_are_refused(field: str, length: int) -> None:
    ok = "A" * (length - 1)
    registry_files.parse_projects(to_csv([row(**{field: ok})]), "csv")  # the limit itself is fine
    problems = problems_of(to_csv([row(**{field: "A" * length})]))
    assert problems == {f"rows.2.{field}": f"longer than {length - 1} characters"}


def test_every_bad_row_is_reported_not_only_the_first() -> None:
    rows = [
        row(),
        row(project_id="P-2", service_grade=""),
        row(project_id="P-3", district_code="999999", address="  "),
        row(project_id="P 4"),
        row(project_id="P-5", project_name="海河\n花园"),
    ]
    problems = problems_of(to_csv(rows))
    assert set(problems) == {
        "rows.3.service_grade",
        "rows.4.district_code",
        "rows.4.address",
        "rows.5.project_id",
        "rows.6.project_name",
    }


def test_one_district_code_has_one_name_within_a_file() -> None:
    rows = [row(), row(project_id="P-2", district_name="河西区")]
    problems = problems_of(to_csv(rows))
    assert list(problems) == ["rows.3.district_name"]
    rows = [row(), row(project_id="P-2", enterprise_name="另一家物业")]
    assert list(problems_of(to_csv(rows))) == ["rows.3.enterprise_name"]


def test_a_row_with_the_wrong_number_of_cells_is_refused() -> None:
    bad_row = to_csv([row(project_id="P 4")]).split(b"\r\n", 1)[1]  # without its header
    data = to_csv([row()]) + "P-2,名称,地址,120101\r\n".encode() + bad_row
    assert list(problems_of(data)) == ["rows.3", "rows.4.project_id"]  # all rows are reported


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the file is empty"),
        (",".join(HEADER).encode(), "the file lists no projects"),
        ("project_id,名称\r\n".encode("gbk"), "file is not UTF-8"),
        (b'"unterminated,\r\n', "malformed CSV"),
    ],
)
def test_unreadable_csv_files_are_refused(data: bytes, reason: str) -> None:
    problems = problems_of(data)
    assert any(r.startswith(reason) for r in problems.values()), problems


def test_excel_gbk_files_get_a_hint_in_chinese() -> None:
    with pytest.raises(project_registry.InvalidRegistryFile) as caught:
        registry_files.parse_projects(to_csv([row()]).decode().encode("gbk"), "csv")
    assert "CSV UTF-8" in caught.value.problems[0].zh


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("[]", "file"),
        ('{"projects": {}}', "file"),
        ("{", "file"),
        ('{"projects": ["P-1"]}', "projects.0"),
        ('{"projects": []}', "projects"),
    ],
)
def test_json_shapes_that_are_not_a_registry(document: str, field: str) -> None:
    assert list(problems_of(document, "json")) == [field]


def test_json_rows_are_checked_like_csv_rows() -> None:
    entries = [
        row(),
        {**row(project_id="P-2"), "district_code": 120101},
        {**row(project_id="P-3"), "remark": "x"},
        {k: v for k, v in row(project_id="P-4").items() if k != "address"},
        row(),
    ]
    problems = problems_of(json.dumps({"projects": entries}), "json")
    assert problems == {
        "projects.1.district_code": "must be a string",
        "projects.2.remark": "unknown field",
        "projects.3.address": "field required",
        "projects.4.project_id": "project id P-120101-0001 already appears at projects.0",
    }


def test_too_many_problems_are_capped_but_counted() -> None:
    rows = [
        row(project_id=f"P-{i}", district_code="1") for i in range(problems.MAX_REPORTED_ERRORS + 5)
    ]
    with pytest.raises(project_registry.InvalidRegistryFile) as caught:
        registry_files.parse_projects(to_csv(rows), "csv")
    assert len(caught.value.problems) == problems.MAX_REPORTED_ERRORS
    assert caught.value.total == problems.MAX_REPORTED_ERRORS + 5


# --- scope -----------------------------------------------------------------------------------

CITY = actors.Actor("city_office", None, None)
HEPING = actors.Actor("district_office", "120101", None)
E1 = actors.Actor("enterprise", None, "E-0001")
OWNER = actors.Actor("owner", None, None)


def test_who_sees_a_project() -> None:
    assert project_registry.can_see(CITY, "120104", "E-0003")
    assert project_registry.can_see(HEPING, "120101", "E-0003")
    assert not project_registry.can_see(HEPING, "120104", "E-0001")
    assert project_registry.can_see(E1, "120104", "E-0001")
    assert not project_registry.can_see(E1, "120101", "E-0002")
    assert not project_registry.can_see(OWNER, "120101", "E-0001")


def test_who_registers_where() -> None:
    assert project_registry.may_register_in(CITY, "120104")
    assert project_registry.may_register_in(HEPING, "120101")
    assert not project_registry.may_register_in(HEPING, "120104")
    assert not project_registry.may_register_in(E1, "120101")


# --- templates -------------------------------------------------------------------------------


def template(**changes: object) -> dict[str, object]:
    body = json.loads((DATA / "templates" / "flood-season.v1.json").read_text("utf-8"))
    body.update(changes)
    return body


@pytest.mark.parametrize("path", sorted((DATA / "templates").glob("*.json")), ids=lambda p: p.name)
def test_every_shipped_template_is_valid(path: Path) -> None:
    body = json.loads(path.read_text("utf-8"))
    assert templates.template_problems(body) == []
    assert path.name == f"{body['template_id']}.v{body['version']}.json"


def test_flood_season_template_follows_the_notice() -> None:
    items = {i["item_id"]: i for i in template()["items"]}  # type: ignore[attr-defined]
    assert items["flood.roof_leak"]["severity"] == "urgent"
    assert "房屋漏雨" in items["flood.roof_leak"]["title_zh"]
    assert items["flood.downpipe_blocked"]["severity"] == "urgent"
    assert "雨水管排水不畅" in items["flood.downpipe_blocked"]["title_zh"]
    assert "宁可备而不用,不可用而不备" in items["flood.materials"]["title_zh"]
    assert {"flood.emergency_team", "flood.duty_roster"} <= set(items)


def test_a_roof_leak_fails_a_flood_season_inspection_whatever_the_score() -> None:
    flood = registry_tables.template_from_json(template())
    results = tuple(
        checklist.ItemResult(
            i.item_id,
            checklist.Result.FAIL if i.item_id == "flood.roof_leak" else checklist.Result.PASS,
            "5 号楼顶层漏雨" if i.item_id == "flood.roof_leak" else "",
        )
        for i in flood.items
    )
    outcome = checklist.score(flood, results)
    assert outcome.score == 80.0 >= flood.pass_mark
    assert not outcome.passed  # an urgent failure


def test_template_rules() -> None:
    items = template()["items"]
    assert isinstance(items, list)
    bad_items = [
        {**items[0]},
        {**items[0], "weight": 0},
        {**items[1], "severity": "critical"},
        {**items[2], "title_zh": ""},
    ]
    problems = templates.template_problems(template(items=bad_items, pass_mark=101, version=0))
    assert {p.field for p in problems} == {
        "version",
        "pass_mark",
        "items.1.item_id",
        "items.1.weight",
        "items.2.severity",
        "items.3.title_zh",
    }
    assert templates.template_problems(template(items=[])) != []
    assert templates.template_problems(template(pass_mark=float("nan"))) != []
    assert templates.template_problems(template(pass_mark=True)) != []
    assert templates.template_problems(template(extra="x"))[0].field == "extra"


def test_a_new_version_follows_the_latest() -> None:
    assert templates.next_version_refusal(1, None) is None
    assert templates.next_version_refusal(3, 2) is None
    refusal = templates.next_version_refusal(4, 2)
    assert refusal is not None
    assert refusal.en == "the new version must be 3 (latest: 2)"
    assert templates.next_version_refusal(2, None) is not None


# --- activity records ------------------------------------------------------------------------

TODAY = date(2011, 8, 20)


def activity(**changes: object) -> list[problems.Problem]:
    values: dict[str, object] = {
        "title": "纳凉晚会",
        "held_on": date(2011, 8, 19),
        "description": "",
        "photo_refs": ("act/2011/08/19/a.jpg",),
        "today": TODAY,
    }
    values.update(changes)
    return activities.activity_problems(**values)  # type: ignore[arg-type]


def test_a_plain_activity_is_accepted() -> None:
    assert activity() == []
    assert activity(held_on=TODAY, photo_refs=tuple(f"p{i}.jpg" for i in range(9))) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"held_on": date(2011, 8, 21)}, "held_on"),
        ({"title": "  "}, "title"),
        ({"title": "晚会\x00"}, "title"),
        ({"description": "字" * 2001}, "description"),
        ({"photo_refs": tuple(f"p{i}.jpg" for i in range(10))}, "photo_refs"),
        ({"photo_refs": ("../../etc/passwd",)}, "photo_refs.0"),
        ({"photo_refs": ("/abs/a.jpg",)}, "photo_refs.0"),
        ({"photo_refs": ("a//b.jpg",)}, "photo_refs.0"),
        ({"photo_refs": ("照片.jpg",)}, "photo_refs.0"),
        ({"photo_refs": ("a.jpg", "a.jpg")}, "photo_refs.1"),
    ],
)
def test_activity_rules(changes: dict[str, object], field: str) -> None:
    assert [p.field for p in activity(**changes)] == [field]


# --- the HTTP contract -----------------------------------------------------------------------


def test_the_openapi_document_describes_the_registry_api() -> None:
    app = http.create_app(service="inspections", title="t", version="0", verifier=None)
    app.include_router(inspections_http.router)
    app.include_router(registry_http.router)
    app.include_router(activities_http.router)
    spec = app.openapi()
    paths = spec["paths"]
    assert {"get", "put"} <= set(paths["/api/v1/projects/{project_id}"])
    import_body = paths["/api/v1/registry/import"]["post"]["requestBody"]["content"]
    assert set(import_body) == {"application/json", "text/csv"}
    ref = import_body["application/json"]["schema"]["properties"]["projects"]["items"]["$ref"]
    assert ref.rsplit("/", 1)[-1] in spec["components"]["schemas"]
    district = spec["components"]["schemas"]["ProjectIn"]["properties"]["district_code"]
    assert district["pattern"] == project_registry.DISTRICT_CODE_PATTERN
    held_on = spec["components"]["schemas"]["ActivityIn"]["properties"]["held_on"]
    assert held_on["format"] == "date"


@pytest.mark.parametrize(("n", "grade"), [(1, "一级"), (2, "二级"), (3, "三级")])
def test_each_service_grade_has_the_contract_checklist_judged_at_its_grade(
    n: int, grade: str
) -> None:
    """The grade's checklist keeps the contract's items (ids, groups, weights, severities) so
    figures stay comparable across grades; what changes is each item's pass criterion."""
    base = json.loads((DATA / "templates" / "contract-self-inspection.v1.json").read_text("utf-8"))
    body = json.loads((DATA / "templates" / f"contract-grade-{n}.v1.json").read_text("utf-8"))
    assert templates.template_problems(body) == []
    assert (body["template_id"], body["service_grade"]) == (f"contract-grade-{n}", grade)
    strip = ("criterion_zh", "criterion_en")
    assert [{k: v for k, v in i.items() if k not in strip} for i in body["items"]] == base["items"]
    parsed = registry_tables.template_from_json(body)
    assert parsed.service_grade == grade
    assert all(i.criterion_zh.strip() and i.criterion_en.strip() for i in parsed.items)
    assert grade in body["title_zh"]


def test_the_grades_ask_more_of_a_higher_grade() -> None:
    criteria = [
        {
            i["item_id"]: i["criterion_zh"]
            for i in json.loads(
                (DATA / "templates" / f"contract-grade-{n}.v1.json").read_text("utf-8")
            )["items"]
        }
        for n in (1, 2, 3)
    ]
    assert "每日清运至少 2 次" in criteria[0]["waste.daily"]
    assert "每日清运 1 次" in criteria[1]["waste.daily"]
    assert "24 小时" in criteria[1]["facilities.elevators"]
    assert "合同约定时间" in criteria[2]["facilities.elevators"]
    assert len({c["order.night_duty"] for c in criteria}) == 3


def test_a_criterion_needs_both_languages_and_a_grade_is_text() -> None:
    body = template()
    body["items"][0]["criterion_zh"] = "生活垃圾每日清运 1 次"
    body["service_grade"] = ""
    fields = {p.field for p in templates.template_problems(body)}
    assert fields == {"items.0.criterion_en", "service_grade"}
    body["items"][0]["criterion_en"] = "x" * 301
    body["service_grade"] = "二级"
    assert {p.field for p in templates.template_problems(body)} == {"items.0.criterion_en"}
