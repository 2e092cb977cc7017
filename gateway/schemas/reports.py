"""HTTP models of the reports and process-insight routes (gateway/routes/reports.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

REPORT_NAMES = (
    "opened",
    "completed",
    "reopened",
    "throughput",
    "backlog",
    "cycle_time",
    "stage_time",
    "sla",
    "workload",
    "channels",
)
VIEW_NAMES = ("stages", "dfg", "variants", "rework", "bottlenecks")


class ReportQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(
        default=None, alias="from", max_length=40, description="ISO date or time (inclusive)"
    )
    to: str | None = Field(
        default=None, max_length=40, description="ISO date or time (exclusive); default now"
    )
    last: str | None = Field(
        default=None, max_length=8, description="instead of from: 5d, 12h, 2w before `to`"
    )
    case_type: str | None = Field(default=None, max_length=64)
    queue: str | None = Field(default=None, max_length=64)
    team: str | None = Field(default=None, max_length=64)
    agent: str | None = Field(default=None, max_length=128, description="the case's current assignee")
    priority: str | None = Field(default=None, max_length=32)
    channel: str | None = Field(default=None, max_length=32)
    by: str | None = Field(
        default=None, max_length=32, description="grouping: day, week, month, case_type, ..."
    )
    limit: int = Field(default=20, ge=1, le=1000, description="variants: how many")
    level: Literal["stage", "activity"] = Field(
        default="stage", description="dfg and graph: stages or activities"
    )

    def params(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class ReportPath(BaseModel):
    name: str = Field(max_length=40, description=f"one of {', '.join(REPORT_NAMES)}; add .csv for CSV")


class ViewPath(BaseModel):
    view: str = Field(max_length=40, description=f"one of {', '.join(VIEW_NAMES)}; add .csv for CSV")


class ReportTable(BaseModel):
    name: str
    title: str
    from_: str = Field(alias="from")
    to: str
    filters: dict[str, str]
    by: str | None = None
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]


class ReportCatalog(BaseModel):
    reports: list[str]
    process: list[str]
