import { z } from "zod";
import { IsoDateTime, pageOf } from "../../platform/http/schemas.js";

export const SERVICE_TEMPLATES = ["n8n", "ghost", "postgresql"] as const;
export type ServiceTemplate = (typeof SERVICE_TEMPLATES)[number];

const slug = z
  .string()
  .min(2)
  .max(40)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, "must be lowercase letters, digits and dashes");

export const ServiceSlugParamsSchema = z.strictObject({ slug: z.string().min(1).max(100) });
export const IdParamsSchema = z.strictObject({ id: z.string().min(1).max(64) });

// Field rules without defaults: updates must not reset omitted fields to their defaults.
const serviceFields = {
  name: z.string().trim().min(1).max(100),
  description: z.string().max(2000),
  image: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[a-z0-9./_:@-]+$/i, "must be a container image reference"),
  version: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._-]+$/, "must be an image tag"),
  port: z.number().int().min(1).max(65535),
  isActive: z.boolean(),
};

export const ServiceCreateSchema = z.strictObject({
  ...serviceFields,
  slug,
  template: z.enum(SERVICE_TEMPLATES),
  description: serviceFields.description.default(""),
  isActive: serviceFields.isActive.default(true),
});
export type ServiceCreateReq = z.infer<typeof ServiceCreateSchema>;

export const ServiceUpdateSchema = z
  .strictObject(serviceFields)
  .partial()
  .refine((v) => Object.keys(v).length > 0, "at least one field is required");
export type ServiceUpdateReq = z.infer<typeof ServiceUpdateSchema>;

const planFields = {
  name: z.string().trim().min(1).max(100),
  cpuMilli: z.number().int().min(50).max(64_000),
  memoryMb: z.number().int().min(64).max(262_144),
  storageGb: z.number().int().min(0).max(10_000),
  monthlyPriceCredits: z.number().int().min(0).max(100_000_000),
  isActive: z.boolean(),
  backupRetention: z
    .number()
    .int()
    .min(0)
    .max(365)
    .describe(
      "Daily scheduled backups kept per instance (the oldest READY ones beyond it are deleted); 0 = no scheduled backups. Manual backups are not counted or deleted by it",
    ),
  backupHourUtc: z
    .number()
    .int()
    .min(0)
    .max(23)
    .describe(
      "Start of the daily backup window (hour, UTC). Each instance's slot is this hour plus a fixed offset derived from its id, within BACKUP_SCHEDULE_SPREAD, so a fleet does not snapshot all at once",
    ),
};

export const PlanCreateSchema = z.strictObject({
  ...planFields,
  slug,
  isActive: planFields.isActive.default(true),
  backupRetention: planFields.backupRetention.default(0),
  backupHourUtc: planFields.backupHourUtc.default(2),
});
export type PlanCreateReq = z.infer<typeof PlanCreateSchema>;

export const PlanUpdateSchema = z
  .strictObject(planFields)
  .partial()
  .refine((v) => Object.keys(v).length > 0, "at least one field is required");
export type PlanUpdateReq = z.infer<typeof PlanUpdateSchema>;

// Responses.

export const PlanViewSchema = z.object({
  id: z.string(),
  serviceId: z.string(),
  slug: z.string(),
  name: z.string(),
  cpuMilli: z.number().int(),
  memoryMb: z.number().int(),
  storageGb: z.number().int(),
  monthlyPriceCredits: z.number().int(),
  isActive: z.boolean(),
  backupRetention: z
    .number()
    .int()
    .describe(planFields.backupRetention.description ?? ""),
  backupHourUtc: z
    .number()
    .int()
    .describe(planFields.backupHourUtc.description ?? ""),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type PlanView = z.infer<typeof PlanViewSchema>;

export const ServiceViewSchema = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  description: z.string(),
  template: z.enum(SERVICE_TEMPLATES),
  image: z.string(),
  version: z.string(),
  port: z.number().int(),
  isActive: z.boolean(),
  plans: z.array(PlanViewSchema),
  createdAt: IsoDateTime,
  updatedAt: IsoDateTime,
});
export type ServiceView = z.infer<typeof ServiceViewSchema>;

export const ServiceListResponseSchema = pageOf(ServiceViewSchema);
export const ServiceResponseSchema = z.object({ service: ServiceViewSchema });
export const PlanResponseSchema = z.object({ plan: PlanViewSchema });
