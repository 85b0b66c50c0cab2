-- What a backup's manifest records about the database, and what verification compares with the
-- restored copy: one JSON object (revision, row counts of every table in public, server version).
SELECT json_build_object(
  'database', current_database(),
  'postgresVersion', current_setting('server_version'),
  'postgresVersionNum', current_setting('server_version_num')::int,
  'revision', CASE WHEN to_regclass('public.alembic_version') IS NULL THEN NULL ELSE
    (xpath('/row/v/text()', query_to_xml(
      'SELECT string_agg(version_num, '','' ORDER BY version_num) AS v FROM public.alembic_version',
      false, true, '')))[1]::text END,
  'rowCounts', COALESCE((SELECT json_object_agg(t.relname, (xpath('/row/c/text()', query_to_xml(
      format('SELECT count(*) AS c FROM public.%I', t.relname), false, true, '')))[1]::text::bigint
      ORDER BY t.relname)
    FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE n.nspname = 'public' AND t.relkind IN ('r', 'p') AND t.relname <> 'alembic_version'),
    '{}'::json)
);
