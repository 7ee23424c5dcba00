/**
 * How the API tells the reconciler that an instance's desired state changed (created, resized,
 * restarted, suspended, terminated). The reconciler implements it by waking at once; it also resyncs
 * periodically, so a lost signal only delays work, never loses it.
 */
export interface InstanceSignal {
  instanceChanged(instanceId: string): void;
}
