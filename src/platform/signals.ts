/**
 * How the API tells the reconciler that an instance's desired state changed (created, resized,
 * restarted, suspended, terminated). The reconciler implements it by waking at once; it also resyncs
 * periodically, so a lost signal only delays work, never loses it.
 */
export interface InstanceSignal {
  instanceChanged(instanceId: string): void;
}

/** Used until a reconciler is wired in (and by tests that drive the reconciler by hand). */
export class RecordingInstanceSignal implements InstanceSignal {
  readonly changed: string[] = [];
  instanceChanged(instanceId: string): void {
    this.changed.push(instanceId);
  }
}
