"""Backups at practice scale: backup, verify and restore of N sessions with transcripts and graphs,
each beside its floor, and the backend's latency while a backup runs (backups must not stall it).

    .venv/bin/python bench/backup/measure.py [--sessions 10000] [--rate 50]

The scripts are the operator's own (specs/scripts, as the backup pods run them), run on the host
against a real Postgres 15 with the backend (`python -m app.serve`, 2 workers) serving the
authenticated patient list to an open-loop client. A backup container runs under the CPU limit the
operator renders (specs/backup.DEFAULT_RESOURCES); here that limit is a cgroup with the same CFS
quota, as the kubelet sets it. Floors: bare `pg_dump` under the same limit (the script's own cost:
snapshot, manifest, row counts, checksum), bare `pg_restore` into a new database (for verify and
restore), and the list's latency with nothing else running. Asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[2])]
from dimini_operator.specs import backup  # noqa: E402

from bench.backend.run_bench import (  # noqa: E402
    THROUGHPUT_SETTINGS,
    get_load,
    latency_summary,
    open_loop,
    prepare_data,
    start_backend,
)
from tests.operator.backup.test_scripts import run  # noqa: E402
from tests.support.postgres import PG_BIN, PostgresServer, start_postgres  # noqa: E402

CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
SLICE_SECONDS = 2.0

# Per session: 60 transcript lines, 40 graph nodes (with a 64-value embedding), 60 edges, 40
# mentions, 4 notes; one clinical note version. About a 50-minute session's records.
SEED = """
WITH therapist AS (SELECT id FROM users WHERE email = 'bench@example.org'),
pats AS (
  SELECT id, row_number() OVER (ORDER BY id) - 1 AS n, count(*) OVER () AS total
  FROM patients WHERE therapist_id = (SELECT id FROM therapist)
)
INSERT INTO sessions (id, patient_id, therapist_id, status, started_at, ended_at, transcript,
                      duration_seconds)
SELECT gen_random_uuid(), p.id, (SELECT id FROM therapist), 'completed',
       now() - make_interval(days => g), now() - make_interval(days => g) + interval '50 min',
       repeat('I have been sleeping badly since the move. ', 40), 3000
FROM generate_series(1, {sessions}) g JOIN pats p ON p.n = g % p.total;

INSERT INTO transcript_entries (session_id, speaker, text, spoken_at)
SELECT s.id, CASE WHEN i % 2 = 0 THEN 'patient' ELSE 'therapist' END,
       'Line ' || i || ': the week was hard, work and sleep and my sister again.',
       s.started_at + make_interval(secs => i * 50)
FROM sessions s, generate_series(1, 60) i WHERE s.status = 'completed';

INSERT INTO graph_nodes (id, session_id, key, type, label, context, mention_count, embedding,
                         weighted_degree, pagerank, betweenness)
SELECT gen_random_uuid(), s.id, 'topic-' || i, 'topic', 'Topic ' || i,
       'said around minute ' || i, 1 + i % 5,
       (SELECT array_agg(random()) FROM generate_series(1, 64)), random(), random(), random()
FROM sessions s, generate_series(1, 40) i WHERE s.status = 'completed';

INSERT INTO graph_edges (id, session_id, source_id, target_id, similarity)
SELECT gen_random_uuid(), session_id, source_id, target_id, random() FROM (
  SELECT DISTINCT a.session_id, least(a.id, b.id) AS source_id, greatest(a.id, b.id) AS target_id
  FROM graph_nodes a JOIN graph_nodes b ON b.session_id = a.session_id
   AND b.key IN ('topic-' || (split_part(a.key, '-', 2)::int % 40 + 1),
                 'topic-' || ((split_part(a.key, '-', 2)::int + 7) % 40 + 1))
   AND b.id <> a.id
) pairs;

INSERT INTO graph_mentions (id, session_id, node_id, context)
SELECT gen_random_uuid(), n.session_id, n.id, 'mentioned: ' || n.label FROM graph_nodes n;

INSERT INTO session_notes (id, session_id, content, category, importance, source)
SELECT gen_random_uuid(), s.id, 'Note ' || i || ': sleep and routine.', 'insight', 'medium',
       'voice_agent'
FROM sessions s, generate_series(1, 4) i WHERE s.status = 'completed';
ANALYZE;
"""


def cpu_of(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


@contextlib.contextmanager
def cpu_limit(cores: float | None) -> Iterator[list[str]]:
    """A command prefix that runs under a CFS quota of `cores` (cgroup v1, as the kubelet sets a
    container's limit); no prefix when `cores` is None or the cgroup cannot be made."""
    group = CGROUP_CPU / f"dimini-bench-{os.getpid()}-{time.monotonic_ns()}"
    if cores is None:
        yield []
        return
    try:
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text(str(int(cores * 100000)))
    except OSError as error:
        print(f"no CPU limit (cgroup v1 cpu controller not writable: {error})", flush=True)
        yield []
        return
    try:
        yield ["sh", "-c", f'echo $$ > {group}/tasks && exec "$@"', "limited"]
    finally:
        # The quota goes with the group; a task still in it would keep it (rmdir fails).
        with contextlib.suppress(OSError):
            group.rmdir()


def timed_under_load(
    action: Callable[[], Any], url: str, auth: dict[str, str], rate: int
) -> tuple[float, dict[str, Any], Any]:
    """(seconds the action took, the list's latency meanwhile, what the action returned)."""
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(action()))
    started = time.monotonic()
    worker.start()
    latencies: list[float] = []
    errors = 0
    while worker.is_alive():
        slice_latencies, slice_errors = open_loop(get_load(url, auth), rate, SLICE_SECONDS)
        latencies += slice_latencies
        errors += slice_errors
    worker.join()
    took = time.monotonic() - started
    return took, latency_summary(latencies, errors, rate), result[0] if result else None


def as_postgres(command: list[str], prefix: list[str]) -> list[str]:
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return [*prefix, *run_as, *command]


def shell(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {done.stderr[-500:]}")


def row(name: str, figure: float, floor: float, unit: str, note: str = "") -> str:
    ratio = figure / floor if floor else float("nan")
    return f"| {name} | {figure:.2f} {unit} | {floor:.2f} {unit} | {ratio:.2f} | {note} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=50, help="list requests per second")
    args = parser.parse_args()
    limit = backup.DEFAULT_RESOURCES["limits"]["cpu"]
    cores = cpu_of(limit)

    work = Path(tempfile.mkdtemp(prefix="dimini-backup-bench-"))
    work.chmod(0o755)
    scripts = work / "scripts"
    target = work / "backups"
    for folder in (scripts, target):
        folder.mkdir()
    for name, text in backup.scripts().items():
        (scripts / name).write_text(text)
    if os.geteuid() == 0:
        for path in (work, scripts, target):
            shutil.chown(path, "postgres", "postgres")
    postgres: PostgresServer = start_postgres()
    backend = None
    try:
        database = postgres.create_database("bench")
        backend = start_backend(
            postgres.url(database), 2, work / "backend.log", THROUGHPUT_SETTINGS
        )
        fixture = prepare_data(backend.url)
        auth = {"Authorization": f"Bearer {fixture.token}"}
        seeded = time.monotonic()
        try:
            postgres.psql(SEED.format(sessions=args.sessions), database)
        except subprocess.CalledProcessError as error:
            raise SystemExit(f"seeding failed: {error.stderr}") from None
        size = int(postgres.psql(f"SELECT pg_database_size('{database}')"))
        print(
            f"seeded {args.sessions} sessions in {time.monotonic() - seeded:.0f} s: database "
            f"{size / 2**20:.0f} MiB; backup containers limited to {limit} CPU",
            flush=True,
        )
        conn = {
            "PGHOST": postgres.host,
            "PGPORT": str(postgres.port),
            "PGUSER": "postgres",
            "PGDATABASE": database,
        }
        url = f"{backend.url}/api/patients"
        open_loop(get_load(url, auth), args.rate, 3)  # warm up: pools, prepared statements
        idle = latency_summary(*open_loop(get_load(url, auth), args.rate, 10), args.rate)

        with cpu_limit(cores) as prefix:
            took, during, outcome = timed_under_load(
                lambda: run(scripts, "backup.sh", target, conn, prefix=prefix, timeout=3600),
                url,
                auth,
                args.rate,
            )
        code, manifest, err = outcome
        if code != 0:
            raise SystemExit(f"backup.sh failed: {err}")
        floor_dump = work / "floor.dump"
        dump = as_postgres(
            [str(PG_BIN / "pg_dump"), "--format=custom", "--compress=6", f"--file={floor_dump}"],
            [],
        )
        with cpu_limit(cores) as prefix:
            floor_took, floor_during, _ = timed_under_load(
                lambda: shell([*prefix, *dump], conn), url, auth, args.rate
            )
        unlimited_took, unlimited_during, _ = timed_under_load(
            lambda: shell(dump, conn), url, auth, args.rate
        )

        def script(name: str, env: dict[str, str]) -> tuple[float, dict[str, object]]:
            """(seconds, result) of one script under the backup container's CPU limit."""
            with cpu_limit(cores) as prefix:
                started = time.monotonic()
                code, result, err = run(scripts, name, target, env, prefix=prefix, timeout=3600)
            if code != 0:
                raise SystemExit(f"{name} failed: {err}")
            return time.monotonic() - started, result

        verify_took, verified = script("verify.sh", {"RETENTION_COUNT": "7"})
        restored = postgres.create_database("restored")
        restore_took, _ = script(
            "restore.sh", {**conn, "PGDATABASE": restored, "RESTORE_NAME": str(manifest["name"])}
        )
        bare = postgres.create_database("bare")
        with cpu_limit(cores) as prefix:
            started = time.monotonic()
            shell(
                [*prefix, *as_postgres([str(PG_BIN / "pg_restore"), "--no-owner",
                                        f"--dbname={bare}", str(floor_dump)], [])],
                conn,
            )  # fmt: skip
            pg_restore_took = time.monotonic() - started

        print(
            f"\nbackup {manifest['name']}: {int(manifest['size']) / 2**20:.0f} MiB stored, "
            f"database {size / 2**20:.0f} MiB; verified: {verified.get('verified', verified)}"
        )
        print("\n| Figure | Value | Floor | Ratio | Note |\n| --- | --- | --- | --- | --- |")
        print(row("backup.sh duration", took, floor_took, "s", f"floor: bare pg_dump, {limit} CPU"))
        print(row("bare pg_dump, no limit", unlimited_took, floor_took, "s",
                  f"floor: bare pg_dump, {limit} CPU"))  # fmt: skip
        print(row("verify.sh duration", verify_took, pg_restore_took, "s", "floor: pg_restore"))
        print(row("restore.sh duration", restore_took, pg_restore_took, "s", "floor: pg_restore"))
        for name, window in [
            ("backup.sh", during),
            (f"bare pg_dump, {limit} CPU", floor_during),
            ("bare pg_dump, no limit", unlimited_during),
        ]:
            for stat in ("p50_ms", "p99_ms"):
                print(row(f"list {stat[:3]} during {name}", window[stat], idle[stat], "ms",
                          f"floor: idle; errors {window['errors']}/{window['n']}"))  # fmt: skip
        # Again at the end: the machine's own drift over the run, beside the windows above.
        after = latency_summary(*open_loop(get_load(url, auth), args.rate, 10), args.rate)
        print(row("list p99 idle, at the end", after["p99_ms"], idle["p99_ms"], "ms",
                  "floor: idle at the start (drift)"))  # fmt: skip
        print(json.dumps({"idle": idle, "backup": during, "floor": floor_during,
                          "unlimited": unlimited_during, "idle_after": after}))  # fmt: skip
    finally:
        if backend is not None:
            backend.stop()
        postgres.destroy()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
