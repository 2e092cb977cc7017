"""The SLA timer's nameko parts: a timer whose interval comes from config, and SLA settings.

``SLA_TIMER_INTERVAL`` (seconds, default 5; 1 in tests) is how often each replica looks for
due clocks; ``SLA_BATCH`` how many it claims per transaction; ``SLA_SEED`` the YAML file of
calendars and policies stored at start when missing (empty: none).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.timer import Timer
from sqlalchemy.orm import Session

from casekit.db import make_engine
from services.routing.logic.sla_store import seed

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]


class ConfigTimer(Timer):
    """``@config_timer("KEY", default)``: nameko's timer with its interval read from config."""

    def __init__(self, key: str, default: float, **kwargs: Any) -> None:
        self.key = key
        super().__init__(interval=default, **kwargs)

    def setup(self) -> None:
        self.interval = float(self.container.config.get(self.key) or self.interval)
        super().setup()


config_timer = ConfigTimer.decorator


@dataclass(frozen=True)
class SlaConfig:
    interval: float
    batch: int
    seed: str


class SlaSettings(DependencyProvider):
    """Injects ``SlaConfig``; on start stores the seed file's calendars and policies if missing."""

    def setup(self) -> None:
        config = self.container.config
        seed = str(config.get("SLA_SEED") or "")
        if seed and not Path(seed).is_absolute():
            seed = str(ROOT / seed)
        self.config = SlaConfig(
            interval=float(config.get("SLA_TIMER_INTERVAL") or 5),
            batch=int(config.get("SLA_BATCH") or 200),
            seed=seed,
        )

    def start(self) -> None:
        if not self.config.seed:
            return
        engine = make_engine(self.container.config["DB_URL"], pool_size=1)
        try:
            with Session(engine) as session, session.begin():
                added = seed(session, self.config.seed)
            log.info("SLA calendars and policies seeded", extra={"file": self.config.seed, **added})
        finally:
            engine.dispose()

    def get_dependency(self, worker_ctx: Any) -> SlaConfig:
        return self.config
