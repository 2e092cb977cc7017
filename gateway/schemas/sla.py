"""HTTP models of the SLA clocks, business calendars and SLA policies (routing service)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

NAME = r"^[a-z0-9][a-z0-9_\-]{0,63}$"
CASE_TYPE_OR_DEFAULT = r"^(\*|[a-z][a-z0-9_\-]{0,63})$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CalendarPath(BaseModel):
    name: str = Field(max_length=64, pattern=NAME)


class PolicyPath(BaseModel):
    case_type: str = Field(max_length=64, pattern=CASE_TYPE_OR_DEFAULT, description='a case type, or "*"')


class AtRiskQuery(BaseModel):
    queue: str | None = Field(default=None, max_length=64)
    within: int = Field(
        default=3600, ge=0, le=90 * 86400, description="seconds: also list clocks due this soon"
    )
    limit: int = Field(default=50, ge=1, le=200)


class Holiday(Strict):
    date: str = Field(max_length=10, description="YYYY-MM-DD once, or MM-DD every year")
    name: str | None = Field(default=None, max_length=200)


class CalendarBody(Strict):
    """Working hours per weekday (mon..sun, wall-clock "HH:MM-HH:MM" spans in ``timezone``; a
    missing day is off) and holidays (whole local days). Checked again by the routing service."""

    timezone: str = Field(min_length=1, max_length=64, examples=["Europe/London"])
    description: str = Field(default="", max_length=500)
    hours: dict[str, list[str]] = Field(
        examples=[{"mon": ["09:00-12:30", "13:30-17:30"], "fri": ["09:00-16:00"]}], max_length=7
    )
    holidays: list[str | Holiday] = Field(default_factory=list, max_length=2000)


class CalendarOut(BaseModel):
    name: str
    timezone: str
    description: str
    hours: dict[str, list[str]]
    holidays: list[Any]
    version: int = Field(description="0 for the built-in 24x7 calendar")
    updated_by: str | None = None
    updated_at: str | None = None
    builtin: bool = False
    rescheduled_clocks: int | None = Field(
        default=None, description="after a PUT: running clocks rescheduled"
    )


class CalendarList(BaseModel):
    items: list[CalendarOut]


class PolicyBody(Strict):
    """Which clocks a case type runs: see deploy/demo/sla/calendars.yaml. Validated by routing."""

    calendar: str | None = Field(default=None, max_length=64)
    pause: dict[str, Any] | None = Field(default=None, examples=[{"stages": ["awaiting_customer"]}])
    clocks: dict[str, dict[str, Any]] = Field(
        examples=[
            {
                "first_response": {
                    "target_hours": {"urgent": 1, "high": 2, "*": 4},
                    "stop_on": ["agent_response"],
                    "warn_at": [0.75],
                    "on_breach": ["notify", "raise_priority"],
                }
            }
        ]
    )


class PolicyOut(BaseModel):
    case_type: str
    policy: dict[str, Any]
    version: int
    updated_by: str | None = None
    inherited: bool = Field(description="true: the type has no policy of its own; this one applies")


class ClockOut(BaseModel):
    name: str = Field(description="first_response, resolution, stage:<key>, ...")
    cycle: int = Field(description="1, 2, ... when a clock starts again (reopened, next reply)")
    state: str = Field(description="running, paused or stopped")
    status: str = Field(description="ok, paused, warning, breached, met or missed")
    calendar: str
    target_seconds: float
    target: str = Field(description='the target in words: "2 business days"')
    elapsed_seconds: float = Field(description="business seconds run so far")
    remaining_seconds: float = Field(description="business seconds left (negative once breached)")
    started_at: str
    due_at: str | None
    breached_at: str | None
    stopped_at: str | None
    met: bool | None
    warned_at_fractions: list[float]
    story: list[str] = Field(default_factory=list)


class StoryLine(BaseModel):
    at: str
    clock: str
    kind: str = Field(
        description="started, paused, resumed, warned, breached, stopped, retargeted, recalculated"
    )
    text: str = Field(examples=["paused 14:02 because stage became pending (5 h 02 min used)"])


class CaseClocks(BaseModel):
    case_id: str
    reference: str
    paused_by: str | None = Field(description="why the case's clocks are paused now, if they are")
    as_of: str
    clocks: list[ClockOut]
    story: list[StoryLine]


class AtRiskItem(BaseModel):
    case_id: str
    reference: str
    title: str
    queue: str | None
    assignee: str | None
    priority: str
    clock: str
    status: str = Field(description="warning, breached or due_soon")
    due_at: str | None
    remaining_seconds: float
    elapsed_seconds: float
    target_seconds: float


class AtRisk(BaseModel):
    queue: str | None
    as_of: str
    within_seconds: int
    items: list[AtRiskItem]
