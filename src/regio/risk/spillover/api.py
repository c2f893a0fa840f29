"""JSON routes of spillover: run a model on demand, list the river network."""

from __future__ import annotations

from fastapi import APIRouter

from regio.core.deps import CurrentPrincipal, SessionDep
from regio.risk.geography.api import Holder
from regio.risk.spillover import service
from regio.risk.spillover.schemas import ReachList, SpilloverIn, SpilloverOut

router = APIRouter(prefix="/api/risk", tags=["spillover"])


@router.post("/spillover", response_model=SpilloverOut)
async def run_model(
    body: SpilloverIn, session: SessionDep, principal: CurrentPrincipal, holder: Holder
) -> SpilloverOut:
    return await service.run_model(session=session, principal=principal, holder=holder, request=body)


@router.get("/rivers", response_model=ReachList)
async def list_reaches(session: SessionDep, principal: CurrentPrincipal) -> ReachList:
    return await service.list_reaches(session=session, principal=principal)
