import type { InstanceSignal } from "../../src/platform/signals.js";

/** Records every signal (tests assert on it) and passes it on to the real receiver, if any. */
export class RecordingInstanceSignal implements InstanceSignal {
  readonly changed: string[] = [];
  constructor(private readonly next?: InstanceSignal) {}
  instanceChanged(instanceId: string): void {
    this.changed.push(instanceId);
    this.next?.instanceChanged(instanceId);
  }
}
