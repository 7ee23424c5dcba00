import { z } from "zod";

export const EmailSchema = z
  .string()
  .trim()
  .max(254)
  .email("must be a valid email address")
  .transform((e) => e.toLowerCase());

export const PasswordSchema = z.string().min(10, "must be at least 10 characters").max(256, "must be at most 256 characters");

export const AuthRegisterSchema = z.strictObject({
  email: EmailSchema,
  password: PasswordSchema,
  name: z.string().trim().min(1).max(100),
});
export type AuthRegisterReq = z.infer<typeof AuthRegisterSchema>;

export const AuthLoginSchema = z.strictObject({
  email: EmailSchema,
  password: z.string().min(1).max(256),
});
export type AuthLoginReq = z.infer<typeof AuthLoginSchema>;

export const AuthRefreshSchema = z.strictObject({ refreshToken: z.string().min(1).max(512) });
export type AuthRefreshReq = z.infer<typeof AuthRefreshSchema>;

export const AuthLogoutSchema = AuthRefreshSchema;

export const AuthPasswordChangeSchema = z.strictObject({
  currentPassword: z.string().min(1).max(256),
  newPassword: PasswordSchema,
});
export type AuthPasswordChangeReq = z.infer<typeof AuthPasswordChangeSchema>;

export const PublicUserSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(["USER", "ADMIN"]),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const AuthSessionResponseSchema = z.object({
  user: PublicUserSchema,
  accessToken: z.string().describe("JWT carrying the new session; the old sessions' tokens are refused"),
  refreshToken: z.string(),
});
