"""Run the watch when a publication is recorded, and record its alerts. A failure never undoes the publication."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

log = logging.getLogger("vigie.veille")


def after_publication(engine: Engine, number: int) -> bool:
    """Watch publication ``number`` and store its alerts; False (logged, noted in the register) on failure."""
    from analytics.veille.register import record_failure, record_watch
    from analytics.veille.source import watch_publication

    try:
        result = watch_publication(engine, number)
        record_watch(number, result, engine)
        log.info("veille de la publication n° %s : %s alertes en %.1f s", number, result.alert_count, result.seconds)
        return True
    except Exception as exc:  # noqa: BLE001 - the publication stands whatever happens here
        log.exception("veille de la publication n° %s impossible", number)
        try:
            record_failure(number, f"{type(exc).__name__} : {exc}", engine)
        except Exception:  # noqa: BLE001
            log.exception("échec de la veille non enregistré (publication n° %s)", number)
        return False
