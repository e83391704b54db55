-- The workspace concurrency limit counts a workspace's unfinished runs at every run start: this
-- index holds only those, so the count reads as many entries as there are unfinished runs, however
-- many finished runs the workspace keeps.
CREATE INDEX runs_active ON runs (workspace_id, status) WHERE status IN ('pending', 'running', 'waiting', 'paused');
