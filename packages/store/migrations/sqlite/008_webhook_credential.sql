-- A webhook may take its signing secret from a `webhookSecret` credential instead of the workflow.
ALTER TABLE webhooks ADD COLUMN credential_id TEXT;
