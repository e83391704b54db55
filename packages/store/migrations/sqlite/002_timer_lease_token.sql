-- Timer leases get a token, like queue leases: a worker fires a claimed timer only while its token
-- still holds the lease (StoreTransaction.releaseTimer), so a timer never fires twice.
ALTER TABLE timers ADD COLUMN lease_token TEXT;
