"""The insurance settlement engine: loader checks, split invariants as properties, and each shipped region."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regio.care.payment.insurance import (
    HOSPITAL_LEVELS,
    NATIONAL,
    Enrolment,
    Item,
    ItemKind,
    NoPolicy,
    Policy,
    PolicyError,
    RefundSplit,
    Scheme,
    Settlement,
    YearToDate,
    load_policies,
    load_policy,
    policies,
    policy_for,
    reverse,
    settle,
)

LEVELS = {"tertiary": 6000, "secondary": 7000, "primary": 8000}


def _scheme(**changes: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "deductible_fen": 100000,
        "annual_cap_fen": 500000,
        "ratio_bp": dict(LEVELS),
        "first_self_pay_bp": {"甲": 0, "乙": 1000},
        "consultation_first_self_pay_bp": 0,
        "covered_visit_types": ["follow_up"],
        "first_visit_conditions": {},
        "drug_classes": ["甲", "乙"],
        "delivery_covered": False,
        "chronic": None,
        "personal_account": True,
    }
    terms.update(changes)
    return terms


def raw_policy(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": "test-policy",
        "version": 1,
        "region_adcode": "330000",
        "name_zh": "测试政策",
        "name_en": "Test policy",
        "source": "unit test",
        "valid_from": "2023-01-01",
        "valid_to": None,
        "schemes": {"employee": _scheme(), "resident": _scheme(personal_account=False)},
    }
    data.update(changes)
    return data


def make_policy(**changes: Any) -> Policy:
    return load_policy(raw_policy(**changes), origin="test")


TEST_POLICY = make_policy()
DAY = date(2024, 5, 6)
PAID_UP = YearToDate(deductible_used_fen=10_000_000)  # the year's deductible is long used up
EMPLOYEE_ZJ = Enrolment("330106", Scheme.employee)


def by_key(key: str, version: int = 1) -> Policy:
    return next(p for p in policies() if p.key == key and p.version == version)


def _settle(policy: Policy, items: list[Item], **kwargs: Any) -> Settlement:
    arguments: dict[str, Any] = {
        "scheme": Scheme.employee,
        "on": policy.valid_from,
        "visit_type": "follow_up",
        "condition": None,
        "hospital_level": "tertiary",
        "enrolment": Enrolment(policy.region_adcode if not policy.is_national else "440300", Scheme.employee),
        "ytd": PAID_UP,
    }
    arguments.update(kwargs)
    return settle(policy=policy, items=items, **arguments)


def _assert_sums(result: Settlement) -> None:
    for line in result.lines:
        assert line.fund_fen + line.personal_account_fen + line.out_of_pocket_fen == line.amount_fen
        assert min(line.fund_fen, line.personal_account_fen, line.out_of_pocket_fen) >= 0
    assert result.fund_fen + result.personal_account_fen + result.out_of_pocket_fen == result.total_fen
    assert result.total_fen == sum(line.amount_fen for line in result.lines)
    assert result.fund_fen == sum(line.fund_fen for line in result.lines)
    assert result.personal_account_fen == sum(line.personal_account_fen for line in result.lines)


# ---- loading ---------------------------------------------------------------------------------------------


def test_every_shipped_policy_loads_and_covers_the_regions() -> None:
    shipped = policies()
    assert {p.region_adcode for p in shipped} == {NATIONAL, "350000", "330000", "110000"}
    for policy in shipped:
        assert policy.source and policy.name_zh and policy.name_en
        assert not policy.terms(Scheme.resident).personal_account
        assert not policy.terms(Scheme.employee).delivery_covered
    assert policies() is not policies()  # callers get their own list, the cache stays intact


def test_national_default_names_the_2020_guidance() -> None:
    national = policy_for("440300", DAY)
    assert national.is_national
    assert "医保发〔2020〕45号" in national.source
    fujian = by_key("fujian-internet-outpatient")
    assert "福建省医疗保障局关于新冠病毒感染互联网诊疗医保支付的通知（2023年1月）" in fujian.source


def test_loader_refuses_a_resident_personal_account() -> None:
    schemes = {"employee": _scheme(), "resident": _scheme(personal_account=True)}
    with pytest.raises(PolicyError, match=r"schemes\.resident\.personal_account"):
        make_policy(schemes=schemes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 0}, r"test\.version"),
        ({"region_adcode": "330106"}, r"province code"),
        ({"valid_to": "2022-12-31"}, r"ends before valid_from"),
        ({"valid_from": "2023-02-30"}, r"YYYY-MM-DD"),
        ({"source": " "}, r"test\.source"),
        ({"key": "Bad Key"}, r"test\.key"),
        ({"extra": 1}, r"unknown field\(s\) extra"),
        ({"schemes": {"employee": _scheme()}}, r"missing field\(s\) resident"),
        (
            {"schemes": {"employee": _scheme(ratio_bp={**LEVELS, "tertiary": 10001}), "resident": _scheme()}},
            r"ratio_bp\.tertiary",
        ),
        (
            {
                "schemes": {
                    "employee": _scheme(deductible_fen=-1),
                    "resident": _scheme(personal_account=False),
                }
            },
            r"deductible_fen",
        ),
        (
            {
                "schemes": {
                    "employee": _scheme(drug_classes=["丙"]),
                    "resident": _scheme(personal_account=False),
                }
            },
            r"drug_classes: 丙",
        ),
        (
            {
                "schemes": {
                    "employee": _scheme(
                        chronic={"conditions": ["I1"], "deductible_fen": 0, "ratio_bp": LEVELS}
                    ),
                    "resident": _scheme(personal_account=False),
                }
            },
            r"chronic\.conditions",
        ),
    ],
)
def test_loader_names_the_bad_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        make_policy(**change)


def test_a_bad_or_duplicated_file_fails_the_directory_load(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(raw_policy()), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(raw_policy()), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"b\.json: test-policy version 1 is also in a\.json"):
        load_policies(tmp_path)
    (tmp_path / "b.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"b\.json: not valid JSON"):
        load_policies(tmp_path)


def test_shipped_files_fail_loudly_when_broken(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[3] / "src/regio/care/payment/data/policies/fujian-v1.json"
    data = json.loads(source.read_text(encoding="utf-8"))
    broken = copy.deepcopy(data)
    broken["schemes"]["resident"]["personal_account"] = True
    (tmp_path / "fujian-v1.json").write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"fujian-v1\.json\.schemes\.resident\.personal_account"):
        load_policies(tmp_path)


# ---- choosing the policy ---------------------------------------------------------------------------------


def test_policy_for_picks_by_date_and_version_and_maps_a_county_to_its_province() -> None:
    national = make_policy(key="national", region_adcode=NATIONAL, valid_from="2020-01-01")
    v1 = make_policy(key="zj", version=1, valid_from="2023-01-01")
    v2 = make_policy(key="zj", version=2, valid_from="2023-06-01", valid_to="2023-12-31")
    pool = [v2, national, v1]
    assert policy_for("330782", date(2023, 3, 1), pool) is v1  # 义乌市 → 浙江
    assert policy_for("330782", date(2023, 7, 1), pool) is v2  # both in force, the higher version wins
    assert policy_for("330782", date(2023, 12, 31), pool) is v2  # valid_to is inclusive
    assert policy_for("330782", date(2024, 1, 1), pool) is v1
    assert policy_for("330782", date(2022, 7, 1), pool) is national
    assert policy_for("350102", date(2023, 7, 1), pool) is national
    with pytest.raises(NoPolicy):
        policy_for("330782", date(2019, 1, 1), pool)
    with pytest.raises(ValueError, match="six-digit"):
        policy_for("3307", date(2023, 1, 1), pool)


def test_shipped_policies_by_region_and_date() -> None:
    assert policy_for("350102", date(2023, 2, 1)).key == "fujian-internet-outpatient"
    assert policy_for("350102", date(2023, 1, 7)).is_national  # the day before the Fujian notice
    assert policy_for("350102", date(2024, 2, 1)).is_national
    assert policy_for("110105", date(2023, 1, 10)).key == "beijing-internet-outpatient"
    assert policy_for("330106", date(2023, 1, 10)).version == 1
    assert policy_for("330106", date(2024, 1, 10)).version == 2


# ---- examples per region ---------------------------------------------------------------------------------


def test_fujian_covid_first_visit_fee_is_covered_without_first_self_pay() -> None:
    fujian = by_key("fujian-internet-outpatient")
    fee = Item(ItemKind.consultation, 5000)
    first = _settle(fujian, [fee], visit_type="first_visit", condition="covid19", on=date(2023, 2, 1))
    (line,) = first.lines
    assert (line.fund_fen, line.personal_account_fen, line.out_of_pocket_fen) == (
        3000,
        0,
        2000,
    )  # 60% at tertiary
    assert "新冠病毒感染互联网首诊诊查费纳入医保支付" in line.rule_zh
    assert "先行自付" not in line.rule_zh
    # An ordinary follow-up fee there carries a 10% first self-pay, so the exemption is real.
    follow_up = _settle(fujian, [fee], on=date(2023, 2, 1))
    assert follow_up.fund_fen == 4500 * 6000 // 10000
    # A diagnosis code works as well as the condition's name.
    by_code = _settle(fujian, [fee], visit_type="first_visit", condition="U07.1", on=date(2023, 2, 1))
    assert by_code.fund_fen == 3000


def test_fujian_first_visit_for_another_condition_is_not_covered() -> None:
    fujian = by_key("fujian-internet-outpatient")
    items = [Item(ItemKind.consultation, 5000), Item(ItemKind.drug, 3000, "甲")]
    result = _settle(fujian, items, visit_type="first_visit", condition="I10")
    assert result.fund_fen == result.personal_account_fen == 0
    assert result.out_of_pocket_fen == 8000


def test_national_default_does_not_cover_a_first_visit_but_covers_a_follow_up() -> None:
    national = policy_for("440300", DAY)
    items = [Item(ItemKind.consultation, 3000), Item(ItemKind.drug, 10000, "甲")]
    enrolment = Enrolment("440300", Scheme.employee, personal_account_balance_fen=100000)
    first = _settle(
        national, items, on=DAY, visit_type="first_visit", condition="covid19", enrolment=enrolment
    )
    assert first.fund_fen == first.personal_account_fen == 0
    assert first.out_of_pocket_fen == 13000
    assert "首诊不在医保支付范围" in first.lines[0].rule_zh
    assert "首诊不在医保支付范围" in first.lines[1].rule_zh
    follow_up = _settle(national, items, on=DAY, enrolment=enrolment)
    assert follow_up.fund_fen == 13000 * 5000 // 10000


def test_zhejiang_hypertension_follow_up_uses_the_chronic_terms() -> None:
    zhejiang = policy_for("330106", DAY)
    registered = Enrolment("330106", Scheme.employee, chronic_diseases=("I10",))
    drug = [Item(ItemKind.drug, 20000, "甲")]
    common = {"on": DAY, "hospital_level": "secondary", "ytd": YearToDate()}
    chronic = _settle(zhejiang, drug, condition="I10.x00", enrolment=registered, **common)
    assert chronic.fund_fen == 20000 * 8500 // 10000  # no deductible, 85% at a secondary hospital
    assert chronic.deductible_applied_fen == 0
    assert "门诊慢特病" in chronic.lines[0].rule_zh
    # Without the registration the same visit meets the ordinary 1,500 yuan deductible first.
    ordinary = _settle(zhejiang, drug, condition="I10", enrolment=EMPLOYEE_ZJ, **common)
    assert ordinary.fund_fen == 0
    assert ordinary.deductible_applied_fen == 20000
    assert ordinary.year_to_date_after.deductible_used_fen == 20000
    # Registered, but the visit is for something else: ordinary terms.
    other = _settle(zhejiang, drug, condition="J06", enrolment=registered, **common)
    assert other.fund_fen == 0


def test_zhejiang_fever_first_visit_covered_only_during_the_winter_measure() -> None:
    items = [Item(ItemKind.consultation, 2000), Item(ItemKind.drug, 3000, "乙")]
    winter = policy_for("330106", date(2023, 1, 5))
    assert (
        _settle(winter, items, on=date(2023, 1, 5), visit_type="first_visit", condition="fever").fund_fen > 0
    )
    later = policy_for("330106", DAY)
    assert _settle(later, items, on=DAY, visit_type="first_visit", condition="fever").fund_fen == 0


def test_class_b_first_self_pay_then_deductible_then_ratio() -> None:
    drug = [Item(ItemKind.drug, 10000, "乙")]
    paid_up = _settle(TEST_POLICY, drug, on=DAY, hospital_level="primary")
    (line,) = paid_up.lines
    assert line.fund_fen == 9000 * 8000 // 10000
    assert line.rule_zh.startswith("乙类药品先行自付 10%")
    assert "统筹支付 80%" in line.rule_zh
    assert "（测试政策，第 1 版）" in line.rule_zh
    # With 20 yuan of deductible left, it takes eligible money after the first self-pay.
    ytd = YearToDate(deductible_used_fen=98000)
    partial = _settle(TEST_POLICY, drug, on=DAY, hospital_level="primary", ytd=ytd)
    assert partial.deductible_applied_fen == 2000
    assert partial.fund_fen == (9000 - 2000) * 8000 // 10000
    assert partial.year_to_date_after == YearToDate(100000, partial.fund_fen)


def test_delivery_and_unlisted_drugs_are_self_paid_and_not_from_the_account() -> None:
    enrolment = Enrolment("330106", Scheme.employee, personal_account_balance_fen=1_000_000)
    items = [Item(ItemKind.delivery, 1200), Item(ItemKind.drug, 5000, None), Item(ItemKind.drug, 1000, "甲")]
    result = _settle(TEST_POLICY, items, on=DAY, enrolment=enrolment)
    delivery, unlisted, listed = result.lines
    assert (delivery.fund_fen, delivery.personal_account_fen, delivery.out_of_pocket_fen) == (0, 0, 1200)
    assert "配送费不在医保支付范围" in delivery.rule_zh
    assert (unlisted.fund_fen, unlisted.personal_account_fen) == (0, 0)
    assert "目录外药品" in unlisted.rule_zh
    assert (listed.fund_fen, listed.personal_account_fen, listed.out_of_pocket_fen) == (600, 400, 0)
    assert "个人账户支付 4.00 元" in listed.rule_zh


def test_personal_account_stops_at_its_balance() -> None:
    enrolment = Enrolment("330106", Scheme.employee, personal_account_balance_fen=500)
    items = [Item(ItemKind.drug, 1000, "甲"), Item(ItemKind.drug, 1000, "甲")]
    result = _settle(TEST_POLICY, items, on=DAY, enrolment=enrolment)
    assert [line.personal_account_fen for line in result.lines] == [400, 100]
    assert result.out_of_pocket_fen == 300


def test_beijing_covid_first_visit_is_reimbursed_like_the_offline_fee() -> None:
    beijing = by_key("beijing-internet-outpatient")
    fee = [Item(ItemKind.consultation, 5000)]
    day = date(2023, 1, 3)
    enrolment = Enrolment("110105", Scheme.resident)
    first = _settle(
        beijing,
        fee,
        on=day,
        scheme=Scheme.resident,
        enrolment=enrolment,
        visit_type="first_visit",
        condition="covid19",
        hospital_level="secondary",
    )
    offline = _settle(
        beijing, fee, on=day, scheme=Scheme.resident, enrolment=enrolment, hospital_level="secondary"
    )
    assert first.fund_fen == offline.fund_fen == 2500
    assert first.out_of_pocket_fen == offline.out_of_pocket_fen == 2500
    assert first.personal_account_fen == 0


def test_not_insured_or_insured_elsewhere_pays_everything() -> None:
    items = [Item(ItemKind.consultation, 3000), Item(ItemKind.drug, 2000, "甲")]
    nobody = _settle(TEST_POLICY, items, on=DAY, enrolment=None)
    assert nobody.out_of_pocket_fen == 5000
    assert all("未参保" in line.rule_zh for line in nobody.lines)
    assert nobody.year_to_date_after == PAID_UP
    fujianese = Enrolment("350102", Scheme.employee, personal_account_balance_fen=100000)
    elsewhere = _settle(TEST_POLICY, items, on=DAY, enrolment=fujianese)
    assert elsewhere.out_of_pocket_fen == 5000
    assert all("参保地（350102）不在本政策统筹区" in line.rule_zh for line in elsewhere.lines)
    # The national default has no pooling region of its own to refuse.
    national = policy_for("350102", DAY)
    assert _settle(national, items, on=DAY, enrolment=fujianese).fund_fen > 0


def test_annual_cap_limits_the_fund() -> None:
    ytd = YearToDate(deductible_used_fen=100000, fund_paid_fen=499000)
    result = _settle(TEST_POLICY, [Item(ItemKind.drug, 10000, "甲")], on=DAY, ytd=ytd)
    assert result.fund_fen == 1000
    assert "已达年度封顶线" in result.lines[0].rule_zh
    assert result.year_to_date_after.fund_paid_fen == 500000


def test_settle_refuses_bad_arguments() -> None:
    drug = [Item(ItemKind.drug, 100, "甲")]
    with pytest.raises(ValueError, match="not in force"):
        _settle(TEST_POLICY, drug, on=date(2022, 1, 1))
    with pytest.raises(ValueError, match="hospital_level"):
        _settle(TEST_POLICY, drug, on=DAY, hospital_level="三级")
    with pytest.raises(ValueError, match="visit_type"):
        _settle(TEST_POLICY, drug, on=DAY, visit_type="revisit")
    with pytest.raises(ValueError, match="resident scheme"):
        _settle(TEST_POLICY, drug, on=DAY, enrolment=Enrolment("330106", Scheme.resident))
    with pytest.raises(ValueError, match="amount_fen"):
        Item(ItemKind.drug, -1, "甲")
    with pytest.raises(ValueError, match="insurance_class"):
        Item(ItemKind.drug, 1, "丙")


# ---- properties ------------------------------------------------------------------------------------------

items_st = st.builds(
    Item,
    kind=st.sampled_from(list(ItemKind)),
    amount_fen=st.integers(0, 300_000),
    insurance_class=st.sampled_from(["甲", "乙", None]),
    visit_type=st.sampled_from([None, "follow_up", "first_visit"]),
)
ytd_st = st.builds(YearToDate, st.integers(0, 400_000), st.integers(0, 3_000_000))


@st.composite
def settlements(draw: st.DrawFn) -> tuple[Settlement, Scheme]:
    policy = draw(st.sampled_from([*policies(), TEST_POLICY]))
    scheme = draw(st.sampled_from(list(Scheme)))
    enrolment = draw(
        st.none()
        | st.builds(
            Enrolment,
            region_adcode=st.sampled_from(["330106", "350102", "110105", "440300", policy.region_adcode]),
            scheme=st.just(scheme),
            chronic_diseases=st.lists(st.sampled_from(["I10", "E11", "J45"]), max_size=2).map(tuple),
            personal_account_balance_fen=st.integers(0, 50_000),
        )
    )
    result = settle(
        policy=policy,
        scheme=scheme,
        on=policy.valid_from,
        visit_type=draw(st.sampled_from(["follow_up", "first_visit"])),
        condition=draw(st.sampled_from([None, "covid19", "fever", "I10", "E11.9", "J06", "U07.1"])),
        hospital_level=draw(st.sampled_from(HOSPITAL_LEVELS)),
        items=draw(st.lists(items_st, max_size=6)),
        enrolment=enrolment,
        ytd=draw(ytd_st),
    )
    return result, scheme


@settings(max_examples=300, deadline=None)
@given(settlements())
def test_shares_add_up_and_are_never_negative(case: tuple[Settlement, Scheme]) -> None:
    result, scheme = case
    _assert_sums(result)
    if scheme is Scheme.resident:
        assert result.personal_account_fen == 0
    assert result.year_to_date_after.fund_paid_fen >= result.fund_fen
    assert all(line.rule_zh and line.rule_en for line in result.lines)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(items_st, min_size=1, max_size=4), min_size=1, max_size=8),
    st.sampled_from(list(Scheme)),
)
def test_the_fund_never_pays_beyond_the_annual_cap_across_visits(
    visits: list[list[Item]], scheme: Scheme
) -> None:
    policy = make_policy(
        schemes={
            "employee": _scheme(deductible_fen=20000, annual_cap_fen=150000),
            "resident": _scheme(deductible_fen=5000, annual_cap_fen=60000, personal_account=False),
        }
    )
    cap = policy.terms(scheme).annual_cap_fen
    ytd = YearToDate()
    paid = 0
    for items in visits:
        result = _settle(policy, items, on=DAY, scheme=scheme, ytd=ytd, enrolment=Enrolment("330106", scheme))
        _assert_sums(result)
        paid += result.fund_fen
        ytd = result.year_to_date_after
        assert ytd.fund_paid_fen == paid <= cap
        assert ytd.deductible_used_fen <= policy.terms(scheme).deductible_fen


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 200_000),
    st.integers(0, 200_000),
    st.sampled_from(["甲", "乙"]),
    st.sampled_from(HOSPITAL_LEVELS),
)
def test_the_deductible_counts_across_visits(first: int, second: int, cls: str, level: str) -> None:
    def visit(amounts: list[int], ytd: YearToDate) -> Settlement:
        items = [Item(ItemKind.drug, amount, cls) for amount in amounts]
        return _settle(TEST_POLICY, items, on=DAY, ytd=ytd, hospital_level=level)

    once = visit([first + second], YearToDate())
    before = visit([first], YearToDate())
    after = visit([second], before.year_to_date_after)
    # Each line rounds its first self-pay and its fund share down, so two lines may differ by a fen each.
    assert abs((before.fund_fen + after.fund_fen) - once.fund_fen) <= 2
    used_twice = after.year_to_date_after.deductible_used_fen
    assert abs(used_twice - once.year_to_date_after.deductible_used_fen) <= 1
    assert used_twice <= TEST_POLICY.terms(Scheme.employee).deductible_fen


def test_six_hundred_twice_is_twelve_hundred_once() -> None:
    def visit(amount: int, ytd: YearToDate) -> Settlement:
        return _settle(TEST_POLICY, [Item(ItemKind.drug, amount, "甲")], on=DAY, ytd=ytd)

    once = visit(120000, YearToDate())
    first = visit(60000, YearToDate())
    second = visit(60000, first.year_to_date_after)
    assert first.fund_fen == 0
    assert first.fund_fen + second.fund_fen == once.fund_fen == 20000 * 6000 // 10000


@settings(max_examples=300, deadline=None)
@given(settlements(), st.data())
def test_refunds_split_back_without_overpaying_any_share(
    case: tuple[Settlement, Scheme], data: st.DataObject
) -> None:
    result, _ = case
    full = reverse(result, result.total_fen)
    assert (full.fund_fen, full.personal_account_fen, full.out_of_pocket_fen) == (
        result.fund_fen,
        result.personal_account_fen,
        result.out_of_pocket_fen,
    )
    # A run of partial refunds that ends with the whole amount returns each share exactly once.
    so_far = RefundSplit()
    while so_far.refund_fen < result.total_fen:
        amount = data.draw(st.integers(1, result.total_fen - so_far.refund_fen))
        part = reverse(result, amount, already_refunded=so_far)
        assert part.fund_fen + part.personal_account_fen + part.out_of_pocket_fen == amount
        assert min(part.fund_fen, part.personal_account_fen, part.out_of_pocket_fen) >= 0
        so_far = RefundSplit(
            so_far.refund_fen + amount,
            so_far.fund_fen + part.fund_fen,
            so_far.personal_account_fen + part.personal_account_fen,
            so_far.out_of_pocket_fen + part.out_of_pocket_fen,
        )
        assert so_far.fund_fen <= result.fund_fen
        assert so_far.personal_account_fen <= result.personal_account_fen
        assert so_far.out_of_pocket_fen <= result.out_of_pocket_fen
    assert so_far == RefundSplit(
        result.total_fen, result.fund_fen, result.personal_account_fen, result.out_of_pocket_fen
    )


def _shares(fund: int, account: int, patient: int) -> Settlement:
    total = fund + account + patient
    return Settlement("k", 1, total, fund, account, patient, (), 0, YearToDate())


def test_refund_rounds_down_the_fund_and_never_overpays_the_patient() -> None:
    assert reverse(_shares(7000, 0, 3000), 1001) == RefundSplit(1001, 700, 0, 301)
    # One fen each: rounding both shares down would give the patient 2 fen of the 1 they paid.
    split = reverse(_shares(1, 1, 1), 2)
    assert split.out_of_pocket_fen == 1
    assert split.fund_fen + split.personal_account_fen == 1
    with pytest.raises(ValueError, match="refund"):
        reverse(_shares(1, 1, 1), 4)
    with pytest.raises(ValueError, match="more of a share"):
        reverse(_shares(1, 1, 1), 0, already_refunded=RefundSplit(2, 2, 0, 0))
