-- Claims take the oldest run's steps first (run ids are time-ordered UUIDv7), so runs already
-- started finish before new ones start: ordered by priority, then run, then item.
DROP INDEX queue_ready;
CREATE INDEX queue_ready ON queue (priority DESC, run_id, id) WHERE lease_expires_at = 0;
