-- Stop and start by the owner (POST /api/instances/:id/stop and /start): the instance is scaled to 0
-- and kept (objects, volume, data, subscription). STOPPED is both a desired state (what the owner asked
-- for) and the status the reconciler reports once the workload has no pods.
ALTER TYPE "InstanceStatus" ADD VALUE 'STOPPED';

ALTER TYPE "DesiredState" ADD VALUE 'STOPPED';
