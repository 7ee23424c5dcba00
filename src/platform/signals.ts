/**
 * How the API tells the reconciler that an instance's desired state changed (created, resized,
 * restarted, suspended, terminated). The reconciler implements it by waking at once; it also resyncs
 * periodically, so a lost signal only delays work, never loses it.
 */
export interface InstanceSignal {
  instanceChanged(instanceId: string): void;
}

/** Records every signal (tests assert on it) and passes it on to the real receiver, if any. */
export class RecordingInstanceSignal implements InstanceSignal {
  readonly changed: string[] = [];
  constructor(private readonly next?: InstanceSignal) {}
  instanceChanged(instanceId: string): void {
    this.changed.push(instanceId);
    this.next?.instanceChanged(instanceId);
  }
}
