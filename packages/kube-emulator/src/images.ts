/**
 * Image references as a containerd kubelet reports them: `image` fully qualified
 * (`nginx:1.25` → `docker.io/library/nginx:1.25`), `imageID` the repository digest
 * (`docker.io/library/nginx@sha256:<64 hex>`), `containerID` `containerd://<64 hex>`.
 * Digests are stable per image so repeated runs agree. TEST/DEMO FIXTURE — see index.ts.
 */
import { createHash } from "node:crypto";

const hex = (input: string) => createHash("sha256").update(input).digest("hex");

/** `busybox` → `docker.io/library/busybox:latest`; digests (`@sha256:`) are kept. */
export function qualifiedImage(image: string): string {
  let ref = image;
  const first = ref.split("/")[0];
  const hasRegistry = ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  if (!hasRegistry) ref = ref.includes("/") ? `docker.io/${ref}` : `docker.io/library/${ref}`;
  const lastSegment = ref.slice(ref.lastIndexOf("/") + 1);
  if (!ref.includes("@") && !lastSegment.includes(":")) ref = `${ref}:latest`;
  return ref;
}

/** The repository digest the runtime pulled: `docker.io/library/busybox@sha256:<64 hex>`. */
export function imageIdOf(image: string): string {
  const q = qualifiedImage(image);
  if (q.includes("@")) return q;
  const repo = q.slice(0, q.lastIndexOf(":"));
  return `${repo}@sha256:${hex(`image:${q}`)}`;
}

/** A container's runtime ID: `containerd://<64 hex>`, stable for one (pod uid, container, attempt). */
export function containerIdOf(seed: string): string {
  return `containerd://${hex(`container:${seed}`)}`;
}
