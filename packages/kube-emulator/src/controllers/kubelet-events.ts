/**
 * The Events the scheduler and the kubelet record about a pod, worded as they are in Kubernetes
 * 1.33, so `kubectl describe pod` shows Scheduled, Pulling/Pulled, Created/Started, the image
 * pull failures and back-offs, and Killing. Repeats bump `count` (events.ts).
 * TEST/DEMO FIXTURE — see ../index.ts.
 */
import { qualifiedImage } from "../images.js";
import type { KubeObject } from "../types.js";
import { recordEvent } from "./events.js";
import type { ControllerContext, Obj } from "./shared.js";

export function scheduledEvent(ctx: ControllerContext, pod: KubeObject, node: string): void {
  const ns = pod.metadata.namespace ?? "default";
  recordEvent(ctx.cluster, pod, "Normal", "Scheduled", `Successfully assigned ${ns}/${pod.metadata.name} to ${node}`, "default-scheduler");
}

/** The image was pulled and each container started. */
export function startedEvents(ctx: ControllerContext, pod: KubeObject, containers: Obj[]): void {
  for (const c of containers) {
    const image = String(c.image);
    recordEvent(ctx.cluster, pod, "Normal", "Pulling", `Pulling image "${image}"`, "kubelet");
    recordEvent(
      ctx.cluster,
      pod,
      "Normal",
      "Pulled",
      `Successfully pulled image "${image}" in 1.2s (1.2s including waiting). Image size: 12345678 bytes.`,
      "kubelet",
    );
    recordEvent(ctx.cluster, pod, "Normal", "Created", `Created container: ${String(c.name)}`, "kubelet");
    recordEvent(ctx.cluster, pod, "Normal", "Started", `Started container ${String(c.name)}`, "kubelet");
  }
}

/** A pull that fails (the image does not exist) and the kubelet's back-off. */
export function pullFailedEvents(ctx: ControllerContext, pod: KubeObject, image: string): void {
  const ref = qualifiedImage(image);
  recordEvent(ctx.cluster, pod, "Normal", "Pulling", `Pulling image "${image}"`, "kubelet");
  recordEvent(
    ctx.cluster,
    pod,
    "Warning",
    "Failed",
    `Failed to pull image "${image}": rpc error: code = NotFound desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`,
    "kubelet",
  );
  recordEvent(ctx.cluster, pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet");
  recordEvent(ctx.cluster, pod, "Normal", "BackOff", `Back-off pulling image "${image}"`, "kubelet");
  recordEvent(ctx.cluster, pod, "Warning", "Failed", "Error: ImagePullBackOff", "kubelet");
}

/** A container that exits and is restarted with back-off. */
export function crashEvents(ctx: ControllerContext, pod: KubeObject, containers: Obj[]): void {
  const ns = pod.metadata.namespace ?? "default";
  for (const c of containers) {
    recordEvent(
      ctx.cluster,
      pod,
      "Warning",
      "BackOff",
      `Back-off restarting failed container ${String(c.name)} in pod ${pod.metadata.name}_${ns}(${pod.metadata.uid})`,
      "kubelet",
    );
  }
}

/** A pod being deleted: the kubelet stops its containers. */
export function killingEvents(ctx: ControllerContext, pod: KubeObject): void {
  const containers = Array.isArray((pod.spec as Obj | undefined)?.containers) ? ((pod.spec as Obj).containers as Obj[]) : [];
  for (const c of containers) recordEvent(ctx.cluster, pod, "Normal", "Killing", `Stopping container ${String(c.name)}`, "kubelet");
}
