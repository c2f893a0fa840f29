"""The home page: the front door to both applications, with one tile per journey the person may walk."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from regio.core.access import Principal, Role
from regio.core.deps import OptionalPrincipal, Public, SettingsDep
from regio.core.templating import render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Tile:
    """A door on the home page: where it leads, its label and a one-line hint (Chinese, English)."""

    key: str
    href: str
    label: tuple[str, str]
    hint: tuple[str, str]


# Everyone, signed in or not: the public registry and the booking entry.
PUBLIC_TILES = (
    Tile("portal", "/portal", ("找医院", "Find a hospital"), ("已批准的互联网医院", "Approved hospitals")),
    Tile(
        "fever",
        "/portal?department=fever_clinic",
        ("发热门诊", "Fever clinic"),
        ("24小时在线", "Open 24 hours"),
    ),
)
PATIENT_TILES = (
    Tile("triage", "/care/triage", ("智能分诊", "Triage"), ("该挂哪个科", "Which department?")),
    Tile("booking", "/booking", ("预约挂号", "Book a visit"), ("分时段，不排队", "Time slots, no queue")),
    Tile(
        "quick",
        "/care/consultations/quick",
        ("极速提问", "Quick question"),
        ("值班医生抢答", "On-duty doctors answer"),
    ),
    Tile(
        "consultations",
        "/care/consultations",
        ("我的问诊", "My consultations"),
        ("诊室与记录", "Rooms and history"),
    ),
    Tile("records", "/care/records", ("我的病历", "My records"), ("已签名病历", "Signed records")),
    Tile("reports", "/care/reports", ("报告查询", "Reports"), ("检验与影像报告", "Lab and imaging results")),
    Tile(
        "prescriptions",
        "/care/prescriptions",
        ("我的处方", "My prescriptions"),
        ("取药与配送", "Pickup and delivery"),
    ),
    Tile(
        "orders",
        "/care/payments",
        ("我的订单", "My orders"),
        ("支付、医保结算与退款", "Payments and refunds"),
    ),
    Tile(
        "insurance",
        "/care/insurance",
        ("医保信息", "Insurance"),
        ("参保地、险种、慢特病", "Region, scheme, chronic"),
    ),
    Tile("scales", "/care/scales", ("心理测评", "Mental health check"), ("PHQ-9 · GAD-7", "PHQ-9 · GAD-7")),
    Tile("me", "/me", ("就诊人", "Patients"), ("本人及家人", "You and your family")),
)
DOCTOR_TILES = (
    Tile(
        "workbench",
        "/care/consultations/workbench",
        ("接诊工作台", "Workbench"),
        ("候诊队列与极速提问", "Queue and quick questions"),
    ),
    Tile(
        "alerts",
        "/care/scales/alerts",
        ("紧急心理预警", "Urgent mental-health alerts"),
        ("须尽快联系患者", "Contact the patient soon"),
    ),
)
PHARMACIST_TILES = (
    Tile(
        "review",
        "/care/pharmacy/review",
        ("审方工作台", "Prescription review"),
        ("待审处方与超时提醒", "Queue and overdue reviews"),
    ),
    Tile(
        "pickup", "/care/pharmacy/pickup", ("取药核销", "Pickup"), ("凭取药码发药", "Dispense by pickup code")
    ),
)
RISK_TILES = (
    Tile(
        "dashboard",
        "/risk/dashboard",
        ("风险预警看板", "Warning dashboard"),
        ("实时预警与确认", "Live warnings"),
    ),
    Tile("report", "/risk/events/new", ("上报风险", "Report a risk"), ("CAP 1.2 标准", "CAP 1.2 standard")),
    Tile("events", "/risk/events", ("风险事件", "Risk events"), ("报告与责任清单", "Reports and duties")),
    Tile(
        "spillover",
        "/risk/spillover",
        ("波及分析", "Spill-over"),
        ("洪水、烟羽、疫情", "Flood, plume, epidemic"),
    ),
    Tile("map", "/risk/map", ("风险地图", "Risk map"), ("城市与区县协同", "Cities and counties")),
)
# The city officer and the coordination body run Regio Risk; oversight roles only read its reports.
RISK_ROLES = (Role.city_officer, Role.coordinator)
RISK_READERS = (Role.evaluator, Role.regulator)
READ_ONLY_RISK = frozenset({"events", "spillover", "map"})
ACCOUNT_TILE = Tile("account", "/account", ("我的账户", "My account"), ("角色与登录", "Roles and sign-in"))
# Oversight of online services: the region's health commission, regulators, platform and hospital admins.
ADMIN_TILES = (
    Tile(
        "statistics",
        "/care/statistics",
        ("服务统计", "Service statistics"),
        ("服务量、等待与高峰", "Services, waits, peak hours"),
    ),
)
ADMIN_ROLES = (Role.health_admin, Role.regulator, Role.platform_admin, Role.hospital_admin)


def tiles_for(principal: Principal) -> list[Tile]:
    """The home page's tiles for this person: only doors they may walk through, patients' first."""
    if not principal.is_authenticated:
        return [*PUBLIC_TILES, PATIENT_TILES[0], PATIENT_TILES[1]]  # both lead to sign-in first
    tiles: list[Tile] = []
    if principal.has_role(Role.patient):
        tiles += PATIENT_TILES
    if principal.has_role(Role.doctor):
        tiles += DOCTOR_TILES
    if principal.has_role(Role.pharmacist):
        tiles += PHARMACIST_TILES
    if any(principal.has_role(role) for role in RISK_ROLES):
        tiles += RISK_TILES
    elif any(principal.has_role(role) for role in RISK_READERS):
        tiles += [tile for tile in RISK_TILES if tile.key in READ_ONLY_RISK]
    if any(principal.has_role(role) for role in ADMIN_ROLES):
        tiles += ADMIN_TILES
    if not tiles:
        tiles += PUBLIC_TILES
    return [*tiles, ACCOUNT_TILE]


@router.get("/", response_class=HTMLResponse, dependencies=[Public])
async def home(request: Request, principal: OptionalPrincipal, settings: SettingsDep) -> HTMLResponse:
    return render(request, "home.html", {"region_name": settings.region_name, "tiles": tiles_for(principal)})
