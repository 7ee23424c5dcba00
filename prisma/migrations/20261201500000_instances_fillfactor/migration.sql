-- Every health sweep rewrites the health columns of every RUNNING instance (none of them indexed).
-- With room left on each page, PostgreSQL can make those updates HOT (heap-only: no new entries in
-- the table's indexes), which is most of the cost of the sweep's one UPDATE at 10,000 instances.
-- Applies to pages written from now on; existing pages get the room as they are rewritten.
ALTER TABLE "instances" SET (fillfactor = 70);
