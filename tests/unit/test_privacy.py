"""The personal-data scrubber of free text on public topics (schemas/privacy.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.privacy import scrub

MASKED = [
    # mobile numbers
    ("已联系业主,电话13800138000", "已联系业主,电话138****8000"),
    ("手机:139 1234 5678 请回电", "手机:139****5678 请回电"),
    ("手机：139-1234-5678", "手机：139****5678"),
    ("联系 +86 13912345678", "联系 139****5678"),
    ("联系+86-139-1234-5678。", "联系139****5678。"),
    ("(+86)15012345678", "150****5678"),
    ("008618612345678", "186****5678"),
    ("８６１３８００１３８０００", "138****8000"),
    ("１３８００１３８０００号", "138****8000号"),
    ("call 17712345678 now", "call 177****5678 now"),
    ("两个号码13800138000、15912345678", "两个号码138****8000、159****5678"),
    # landlines with an area code
    ("物业前台022-23456789", "物业前台022-****6789"),
    ("(022)23456789", "022-****6789"),
    ("022 2345 6789", "022-****6789"),
    ("02223456789", "022****6789"),
    ("010-62345678 无人接听", "010-****5678 无人接听"),
    ("0311-8234567", "0311-***4567"),
    # numbers after a telephone label
    ("值班电话：2345678", "值班电话：***5678"),
    ("Tel: 23456789", "Tel: ****6789"),
    # resident ID cards
    ("身份证号120101199001011234", "身份证号[身份证号已隐去]"),
    ("证件 12010119900101123X 已核对", "证件 [身份证号已隐去] 已核对"),
    ("证件12010120011231123x", "证件[身份证号已隐去]"),
    # e-mail addresses
    ("回复至 zhangsan@example.com", "回复至 ***@example.com"),
    ("a@b.cn", "*@b.cn"),
    (
        "550 5.1.1 <wang.wei@mail.example.com.cn>: Recipient address rejected",
        "550 5.1.1 <***@mail.example.com.cn>: Recipient address rejected",
    ),
    # names after a label
    ("业主张三反映漏水", "业主某某反映漏水"),
    ("业主王小明称楼道灯坏", "业主某某称楼道灯坏"),
    ("联系人：李四，电话13800138000", "联系人：某某，电话138****8000"),
    ("姓名：欧阳娜娜", "姓名：某某"),
    ("姓名: 牧晓", "姓名: 某某"),
    ("报修人：佘太君", "报修人：某某"),
    ("住户刘德华家中漏水", "住户某某家中漏水"),
    ("经办人 赵强", "经办人 某某"),
    ("业主诸葛亮投诉", "业主某某投诉"),
    ("项目经理周强到场", "项目经理某某到场"),
    ("保安张三 13812345678 夜班睡岗", "保安某某 138****5678 夜班睡岗"),
    ("门卫李四未登记", "门卫某某未登记"),
    ("业主委员会主任张三", "业主委员会主任某某"),
    ("联系人:王五 电话:022-58301234", "联系人:某某 电话:022-****1234"),
    ("姓名：张三丰", "姓名：某某"),
    # names before an honorific
    ("已通知张先生", "已通知某先生"),
    ("王女士表示不满", "某女士表示不满"),
    ("由刘师傅维修", "由某师傅维修"),
    ("保洁陈阿姨", "保洁某阿姨"),
    ("物业公司李经理到场", "物业公司某经理到场"),
    ("王小明先生来电", "某先生来电"),
    ("欧阳女士", "某女士"),
    # several at once
    (
        "业主张三(13800138000)投诉,王经理已处理,邮箱zs@qq.com",
        "业主某某(138****8000)投诉,某经理已处理,邮箱**@qq.com",
    ),
]

UNCHANGED = [
    "",
    "3 号楼垃圾桶满溢",
    "夜班门岗空岗",
    "2 号楼消防栓水压不足",
    "检查时间 2011-08-20 09:30,得分 85.5",
    "和平区物业通〔2011〕3号",
    "整改期限:2026-12-25 17:00",
    "罚款 10000 元,面积 1380 平方米",
    "订单号 12345678901234567890",
    "编号 120101199013011234",  # not a real birth date
    "项目编号 P-120101-0001",
    "3f2a9c1e-0b4d-4c1a-9e2b-7a1c5d9e8f00",
    "业主委员会已召开业主大会",
    "业主反映楼道灯不亮,业主要求尽快维修",
    "业主方面认为收费过高",
    "业主高度评价保洁工作",
    "业主何时入住不详",
    "业主陈述了情况",
    "居民楼外墙脱落",
    "住户周边环境脏乱",
    "物业主管到场",
    "物业主任签字",
    "维修师傅已到场",
    "保安师傅在岗",
    "保安周界巡查,保安人员缺岗,门卫室无人,保洁不到位,电工持证上岗,管理员登记",
    "保洁阿姨打扫及时",
    "项目经理未到场",
    "总经理已签收",
    "办公室主任确认",
    "这位先生未登记",
    "一位女士来电",
    "万科物业服务有限公司",
    "小高层住宅电梯故障",
    "水龙头漏水",
    "联系物业前台处理",
    "业主某某反映漏水",
    "某先生来电",
    "138****8000",
    "022-****6789",
    "[身份证号已隐去]",
    "***@example.com",
    "http 410",
    "smtp 550 mailbox unavailable",
    "Inspection failed at 3 buildings; 12 items, 400-800-1234 hotline",
    "2 号楼 13 层 1301 室",
    "电梯维保单位电话400-123-4567",
    "联系人：物业前台",
    "消防通道被业主车辆占用",
    "业主自行装修,住户安装防盗窗",
    "业主孙子在小区玩耍",
    "检查员发现问题,管家服务不到位",
    "业主余额不足,业主常年不在,业主马上到",
    "居民高空抛物",
    "经理高度重视,主任签字,经理室",
    "本月 135 户业主,共 13800 平方米",
    "2011年08月20日,编号20110820001",
    "1380013800 与 138001380001",  # ten and twelve digits: not a mobile number
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_personal_data_is_masked(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize("text", UNCHANGED)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert scrub(text) == text


@pytest.mark.parametrize("text", [t for t, _ in MASKED] + UNCHANGED)
def test_scrubbing_is_idempotent_and_never_lengthens(text: str) -> None:
    once = scrub(text)
    assert scrub(once) == once
    assert len(once) <= len(text)


def test_the_notice_templates_pass_unchanged() -> None:
    """Notice titles and bodies are scrubbed on the public topic: the platform's own wording
    (rules.toml, the checklist templates) must not look like personal data."""
    root = Path(__file__).resolve().parents[2]
    files = [root / "services" / "notifications" / "data" / "rules.toml"]
    files += sorted((root / "services" / "inspections" / "data").rglob("*.*"))
    changed = [
        (path.name, line)
        for path in files
        for line in path.read_text("utf-8").splitlines()
        if scrub(line) != line
    ]
    assert not changed
