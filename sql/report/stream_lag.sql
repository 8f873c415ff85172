-- Each stream's lag as its last committed micro-batch measured it (source_state, kind 'stream').
SELECT source_id AS stream,
       CAST(value ->> 'pending' AS BIGINT) AS pending,
       CAST(value ->> 'oldest_pending_seconds' AS DOUBLE) AS oldest_pending_seconds,
       CAST(value ->> 'consumed' AS BIGINT) AS consumed,
       run_id, updated_at
FROM source_state
WHERE kind = 'stream'
ORDER BY source_id;
