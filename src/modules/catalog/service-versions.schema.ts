import { z } from "zod";
import { IsoDateTime, pageOf } from "../../platform/http/schemas.js";

/** An image tag, as services.version. */
export const VersionTag = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._-]+$/, "must be an image tag");

const image = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[a-z0-9./_:@-]+$/i, "must be a container image reference");

const versionFields = {
  image: image.describe("Image repository without tag; defaults to the service's image"),
  isActive: z.boolean().describe("Offered as an upgrade target (and, when default, to new instances)"),
  isDefault: z.boolean().describe("New instances run the default version (one per service; it must be active)"),
  upgradeFrom: z
    .array(VersionTag)
    .max(100)
    .refine((a) => new Set(a).size === a.length, "must not repeat a version")
    .describe("The versions an instance may upgrade from to this one (the allowed upgrade paths)"),
  notes: z.string().max(2000).describe("Shown to users choosing a version"),
};

export const ServiceVersionCreateSchema = z.strictObject({
  version: VersionTag,
  image: versionFields.image.optional(),
  isActive: versionFields.isActive.default(true),
  isDefault: versionFields.isDefault.default(false),
  upgradeFrom: versionFields.upgradeFrom.default([]),
  notes: versionFields.notes.default(""),
});
export type ServiceVersionCreateReq = z.infer<typeof ServiceVersionCreateSchema>;

export const ServiceVersionUpdateSchema = z
  .strictObject(versionFields)
  .partial()
  .refine((v) => Object.keys(v).length > 0, "at least one field is required");
export type ServiceVersionUpdateReq = z.infer<typeof ServiceVersionUpdateSchema>;

export const ServiceVersionViewSchema = z.object({
  id: z.string(),
  serviceId: z.string(),
  version: z.string().describe("The image tag"),
  image: z.string().describe("The image repository"),
  isActive: z.boolean(),
  isDefault: z.boolean(),
  upgradeFrom: z.array(z.string()).describe("Versions that may upgrade to this one"),
  notes: z.string(),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type ServiceVersionView = z.infer<typeof ServiceVersionViewSchema>;

export const ServiceVersionResponseSchema = z.object({ serviceVersion: ServiceVersionViewSchema });
export const ServiceVersionListResponseSchema = pageOf(ServiceVersionViewSchema);
