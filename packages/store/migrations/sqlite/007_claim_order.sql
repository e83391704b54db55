-- Claims take the oldest run's steps first (run ids are time-ordered UUIDv7), so runs already
-- started finish before new ones start: ordered by priority, then run, then item.
DROP INDEX queue_priority;
CREATE INDEX queue_claim_order ON queue (priority DESC, run_id, id);
