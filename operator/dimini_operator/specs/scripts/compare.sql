-- What differs between a manifest (:'want') and the facts of a restored database (:'have'),
-- as one line ('' when they match): major version, Alembic revision, row count per table.
WITH w AS (SELECT :'want'::jsonb AS j), h AS (SELECT :'have'::jsonb AS j)
SELECT concat_ws('; ',
  CASE WHEN (w.j->>'postgresVersionNum')::int / 10000 <> (h.j->>'postgresVersionNum')::int / 10000
    THEN format('major version %s, verified on %s', w.j->>'postgresVersion', h.j->>'postgresVersion') END,
  CASE WHEN (w.j->'revision') IS DISTINCT FROM (h.j->'revision')
    THEN format('revision %s, restored %s', w.j->>'revision', h.j->>'revision') END,
  (SELECT string_agg(format('%s: %s rows, restored %s', k, w.j->'rowCounts'->>k,
      coalesce(h.j->'rowCounts'->>k, 'no table')), ', ' ORDER BY k)
   FROM (SELECT jsonb_object_keys(w.j->'rowCounts' || h.j->'rowCounts') AS k) keys
   WHERE (w.j->'rowCounts'->k) IS DISTINCT FROM (h.j->'rowCounts'->k)))
FROM w, h;
