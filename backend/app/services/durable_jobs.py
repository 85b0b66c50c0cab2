"""Durable background work: a row in `pending_jobs` for every graph update and summary.

The row is written in the transaction of the request that asked for the work, so accepted work is
never lost with a process. A process claims a row with a lease before running it and deletes it
when done. A row whose lease ran out (its process died, or was stopped mid-job) or that was never
claimed within a lease is taken over by whichever backend process looks next: every process scans
for such rows at start-up and then every quarter lease. Jobs of one session still run in order in
a process (BackgroundRunner keys); a job may run twice if it outlives its lease, so handlers are
idempotent or harmless to repeat.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import PendingJob
from app.services.background import BackgroundRunner

logger = logging.getLogger(__name__)

Handler = Callable[[uuid.UUID, str | None], Awaitable[None]]
MAX_ATTEMPTS = 3
RECOVERY_BATCH = 200
# Seconds between attempts to claim a job just submitted (about 8 s in all).
CLAIM_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0)


def add(
    db: AsyncSession, session_id: uuid.UUID, kind: str, payload: str | None = None
) -> PendingJob:
    """Records a job in `db`'s transaction; the caller commits, then calls DurableJobs.start."""
    job = PendingJob(session_id=session_id, kind=kind, text=payload, attempts=0)
    db.add(job)
    return job


class DurableJobs:
    def __init__(
        self,
        runner: BackgroundRunner,
        session_factory: async_sessionmaker[AsyncSession],
        handlers: Mapping[str, Handler],
        lease_seconds: float,
    ) -> None:
        self._runner = runner
        self._sessions = session_factory
        self._handlers = handlers
        self._lease = timedelta(seconds=lease_seconds)

    def start(self, job: PendingJob) -> None:
        self._submit(job.id, job.session_id, job.kind)

    def _submit(self, job_id: int, session_id: uuid.UUID, kind: str) -> None:
        # Keyed by session, like the in-process jobs: a summary runs after that session's updates.
        self._runner.submit(session_id, kind, lambda: self._run(job_id))

    async def _run(self, job_id: int) -> None:
        claimed = await self._claim_soon(job_id)
        if claimed is None:
            return
        session_id, kind, payload = claimed
        # An exception leaves the row leased: another attempt follows when the lease runs out.
        await self._handlers[kind](session_id, payload)
        async with self._sessions() as db:
            await db.execute(delete(PendingJob).where(PendingJob.id == job_id))
            await db.commit()

    async def _claim_soon(self, job_id: int) -> tuple[uuid.UUID, str, str | None] | None:
        """The claim, retried briefly: a job whose claim failed (a dropped connection, a full
        pool) would otherwise wait a whole lease for the recovery scan while its session waits."""
        for delay in (*CLAIM_RETRY_DELAYS, None):
            try:
                return await self._claim(job_id)
            except (OSError, DBAPIError, SQLAlchemyError):
                if delay is None:
                    logger.warning("could not claim a background job; the recovery scan will")
                    return None
                await asyncio.sleep(delay)
        return None

    async def _claim(self, job_id: int) -> tuple[uuid.UUID, str, str | None] | None:
        """Leases the row; None when it is done already, held by another process, or dropped."""
        async with self._sessions() as db:
            claimed = (
                await db.execute(
                    update(PendingJob)
                    .where(
                        PendingJob.id == job_id,
                        or_(PendingJob.lease_until.is_(None), PendingJob.lease_until < func.now()),
                    )
                    .values(
                        lease_until=func.now() + self._lease,
                        attempts=PendingJob.attempts + 1,
                    )
                    .returning(
                        PendingJob.session_id, PendingJob.kind, PendingJob.text, PendingJob.attempts
                    )
                )
            ).one_or_none()
            await db.commit()
            if claimed is None:
                return None  # done already, or another process holds a live lease on it
            session_id, kind, payload, attempts = claimed
            if attempts > MAX_ATTEMPTS or kind not in self._handlers:
                # Failed every time: give up loudly rather than retry a poison job forever.
                logger.warning(
                    "dropping background job after %d attempts", attempts - 1, extra={"kind": kind}
                )
                await db.execute(delete(PendingJob).where(PendingJob.id == job_id))
                await db.commit()
                return None
        return session_id, kind, payload

    async def recover_once(self) -> int:
        """Submits every job whose lease ran out or that nobody claimed within a lease."""
        async with self._sessions() as db:
            due = (
                await db.execute(
                    select(PendingJob.id, PendingJob.session_id, PendingJob.kind)
                    .where(
                        or_(
                            PendingJob.lease_until < func.now(),
                            PendingJob.lease_until.is_(None)
                            & (PendingJob.created_at < func.now() - self._lease),
                        )
                    )
                    .order_by(PendingJob.id)
                    .limit(RECOVERY_BATCH)
                )
            ).all()
        for job_id, session_id, kind in due:
            self._submit(job_id, session_id, kind)
        if due:
            logger.info("resuming %d background jobs", len(due))
        return len(due)

    async def recover_forever(self) -> None:
        interval = max(self._lease.total_seconds() / 4, 0.2)
        while True:
            try:
                await self.recover_once()
            except (OSError, DBAPIError, SQLAlchemyError):
                # The database is away; the next scan tries again (readiness reports it meanwhile).
                logger.warning("could not scan for pending background jobs")
            except Exception:
                # Never let the scanner die silently: it is what makes accepted work durable.
                logger.exception("scan for pending background jobs failed")
            await asyncio.sleep(interval)
