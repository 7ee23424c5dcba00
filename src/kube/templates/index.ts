export { generateCredentials } from "./credentials.js";
export { imageRef, PROFILES, renderInstance, workloadKind } from "./instance.js";
export {
  ANNOTATIONS,
  FLEET_SELECTOR,
  instanceLabels,
  instanceSelector,
  LABELS,
  MANAGED_BY,
  selectorLabels,
  tenantLabels,
  userSelector,
} from "./labels.js";
export {
  assertInstanceName,
  type InstanceObjectNames,
  isDns1123Label,
  MAX_INSTANCE_NAME_LENGTH,
  names,
  tenantNamespace,
} from "./names.js";
export type { ServiceProfile } from "./profile.js";
export { POD_SECURITY_LEVEL, renderTenant, TENANT_OBJECT_NAMES } from "./tenant.js";
export * from "./template-spec.js";
export type { Manifest } from "../objects.js";
