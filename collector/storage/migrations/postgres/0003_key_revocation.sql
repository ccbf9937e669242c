-- Keys can be revoked from the UI; a revoked key stops working at once.
ALTER TABLE api_keys ADD COLUMN revoked_at BIGINT;
