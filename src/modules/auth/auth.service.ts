/**
 * Accounts and sessions: argon2id password hashes, short-lived access JWTs, and opaque refresh
 * tokens stored as sha256 hashes and rotated on every use. Presenting a token that was already
 * rotated (a replay: someone holds a stolen copy) revokes every token of its family.
 */
import type { RequestContext } from "../../platform/request-context.js";
import { createHash, randomBytes } from "node:crypto";
import { type Algorithm, hash, verify } from "@node-rs/argon2";
import type { Clock } from "../../platform/clock.js";
import type { PrismaClient } from "../../platform/db/index.js";
import { ConflictError, UnauthorizedError, ValidationError } from "../../platform/domain-errors.js";
import { type AccessTokenOptions, signAccessToken } from "../../platform/http/auth.js";
import type { AuthSessionResponse, PublicUser, TokenPair } from "./auth.schema.js";
import type { Logger } from "../../platform/logger.js";
import type { User } from "../../generated/prisma/client.js";
import type { AuditService } from "../audit/audit.service.js";
import type { SessionRevocations } from "./session-revocations.js";
import { inTransaction, isUniqueViolation } from "../../platform/transaction.js";

export type { PublicUser, TokenPair };

export function toPublicUser(u: User): PublicUser {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    createdAt: u.createdAt.toISOString(),
    updatedAt: u.updatedAt.toISOString(),
  };
}

// Algorithm.Argon2id is an ambient const enum (2); isolatedModules forbids reading it.
const ARGON2_ID = 2 as Algorithm;
const ARGON2_OPTIONS = { algorithm: ARGON2_ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

export interface AuthServiceOptions {
  prisma: PrismaClient;
  clock: Clock;
  logger: Logger;
  accessToken: AccessTokenOptions;
  refreshTokenTtlMs: number;
  revocations: SessionRevocations;
  audit?: AuditService;
}

export class AuthService {
  // A real hash to verify against when the email is unknown, so timing does not reveal accounts.
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly opts: AuthServiceOptions) {}

  async register(
    input: { email: string; password: string; name: string },
    request: RequestContext | undefined,
  ): Promise<AuthSessionResponse> {
    const passwordHash = await hashPassword(input.password);
    let user: User;
    try {
      user = await this.opts.prisma.user.create({ data: { email: input.email, passwordHash, name: input.name } });
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new ConflictError("An account with this email already exists", { cause: err });
      }
      throw err;
    }
    this.opts.logger.info({ userId: user.id }, "user registered");
    await this.opts.audit?.record(this.opts.prisma, {
      request,
      action: "auth.register",
      objectType: "user",
      objectId: user.id,
      actorId: user.id,
      actorRole: user.role,
    });
    return { user: toPublicUser(user), ...(await this.issueTokens(user, undefined)) };
  }

  async login(input: { email: string; password: string }, request: RequestContext | undefined): Promise<AuthSessionResponse> {
    const user = await this.opts.prisma.user.findUnique({ where: { email: input.email } });
    if (!user) {
      this.dummyHash ??= hashPassword(randomBytes(16).toString("hex"));
      await verify(await this.dummyHash, input.password).catch(() => false);
      await this.opts.audit?.record(this.opts.prisma, {
        request,
        action: "auth.login.failed",
        objectType: "user",
        actorId: null,
        actorRole: null,
        details: { email: input.email, reason: "unknown email" },
      });
      throw new UnauthorizedError("Invalid email or password");
    }
    const ok = await verify(user.passwordHash, input.password).catch(() => false);
    if (!ok) {
      await this.opts.audit?.record(this.opts.prisma, {
        request,
        action: "auth.login.failed",
        objectType: "user",
        objectId: user.id,
        actorId: null,
        actorRole: null,
        details: { email: input.email, reason: "wrong password" },
      });
      throw new UnauthorizedError("Invalid email or password");
    }
    if (user.disabledAt) {
      await this.opts.audit?.record(this.opts.prisma, {
        request,
        action: "auth.login.failed",
        objectType: "user",
        objectId: user.id,
        actorId: null,
        actorRole: null,
        details: { email: input.email, reason: "account disabled" },
      });
      throw new UnauthorizedError("This account is disabled");
    }
    const tokens = await this.issueTokens(user, undefined);
    await this.opts.audit?.record(this.opts.prisma, {
      request,
      action: "auth.login",
      objectType: "user",
      objectId: user.id,
      actorId: user.id,
      actorRole: user.role,
    });
    return { user: toPublicUser(user), ...tokens };
  }

  async refresh(refreshToken: string, request: RequestContext | undefined): Promise<TokenPair> {
    const prisma = this.opts.prisma;
    const now = this.opts.clock.now();
    const row = await prisma.refreshToken.findUnique({ where: { tokenHash: sha256(refreshToken) }, include: { user: true } });
    if (!row) throw new UnauthorizedError("Invalid refresh token");
    if (row.revokedAt) {
      // Reuse of a rotated or revoked token: the family (session) is compromised.
      await this.revokeReused(row.userId, row.familyId, request);
      throw new UnauthorizedError("Refresh token reuse detected; please log in again");
    }
    if (row.expiresAt <= now) throw new UnauthorizedError("Refresh token expired");
    if (row.user.disabledAt) throw new UnauthorizedError("This account is disabled");
    // Claim the token: of two concurrent refreshes with the same token only one wins.
    const claimed = await prisma.refreshToken.updateMany({ where: { id: row.id, revokedAt: null }, data: { revokedAt: now } });
    if (claimed.count !== 1) {
      await this.revokeReused(row.userId, row.familyId, request);
      throw new UnauthorizedError("Refresh token reuse detected; please log in again");
    }
    const pair = await this.issueTokens(row.user, row.familyId, row.id);
    return pair;
  }

  private async revokeReused(userId: string, familyId: string, request: RequestContext | undefined): Promise<void> {
    await this.opts.revocations.revokeSession(this.opts.prisma, userId, familyId, "refresh-reuse");
    this.opts.logger.warn({ userId, familyId }, "refresh token reuse detected; session revoked");
    await this.opts.audit?.record(this.opts.prisma, {
      request,
      action: "auth.refresh.reuse",
      objectType: "session",
      objectId: familyId,
      actorId: null,
      actorRole: null,
      details: { userId },
    });
  }

  /** Ends the refresh token's session: its refresh tokens and its access tokens stop working. */
  async logout(refreshToken: string, request: RequestContext | undefined): Promise<void> {
    const row = await this.opts.prisma.refreshToken.findUnique({ where: { tokenHash: sha256(refreshToken) } });
    if (!row) return; // Logging out twice (or with an unknown token) is not an error: the session is gone either way.
    await inTransaction(this.opts.prisma, async (tx) => {
      await this.opts.revocations.revokeSession(tx, row.userId, row.familyId, "logout");
      await this.opts.audit?.record(tx, {
        request,
        action: "auth.logout",
        objectType: "session",
        objectId: row.familyId,
        actorId: row.userId,
        actorRole: null,
      });
    });
  }

  /**
   * Changes the caller's password: every session of the account (this one included) is revoked, and
   * a fresh session is returned so the caller stays signed in.
   */
  async changePassword(
    userId: string,
    input: { currentPassword: string; newPassword: string },
    request: RequestContext | undefined,
  ): Promise<{ user: PublicUser } & TokenPair> {
    const user = await this.opts.prisma.user.findUnique({ where: { id: userId } });
    if (!user || user.disabledAt) throw new UnauthorizedError("Account no longer active");
    const ok = await verify(user.passwordHash, input.currentPassword).catch(() => false);
    if (!ok) {
      await this.opts.audit?.record(this.opts.prisma, {
        request,
        action: "auth.password.change.failed",
        objectType: "user",
        objectId: user.id,
      });
      throw new ValidationError("Request validation failed", {
        details: [{ path: "body.currentPassword", message: "is not the current password", code: "invalid_value" }],
      });
    }
    const passwordHash = await hashPassword(input.newPassword);
    const updated = await inTransaction(this.opts.prisma, async (tx) => {
      const u = await tx.user.update({ where: { id: userId }, data: { passwordHash } });
      const sessions = await this.opts.revocations.revokeUser(tx, userId, "password-change");
      await this.opts.audit?.record(tx, {
        request,
        action: "auth.password.change",
        objectType: "user",
        objectId: userId,
        details: { sessionsRevoked: sessions },
      });
      return u;
    });
    return { user: toPublicUser(updated), ...(await this.issueTokens(updated, undefined)) };
  }

  async me(userId: string): Promise<PublicUser> {
    const user = await this.opts.prisma.user.findUnique({ where: { id: userId } });
    if (!user) throw new UnauthorizedError("Account no longer exists");
    return toPublicUser(user);
  }

  /** Creates the first admin when no account has the admin email yet. Returns whether it was created. */
  async ensureAdmin(email: string, password: string): Promise<boolean> {
    const existing = await this.opts.prisma.user.findUnique({ where: { email } });
    if (existing) {
      if (existing.role !== "ADMIN") {
        await this.opts.prisma.user.update({ where: { id: existing.id }, data: { role: "ADMIN" } });
      }
      return false;
    }
    const passwordHash = await hashPassword(password);
    await this.opts.prisma.user.create({ data: { email, passwordHash, name: "Administrator", role: "ADMIN" } }).catch((err: unknown) => {
      // Another replica created it at the same moment.
      if (!isUniqueViolation(err)) throw err;
    });
    return true;
  }

  /**
   * A refresh token in the session (a new session without familyId) and an access token carrying it.
   * The account is read again after the refresh token exists: a password change, role change or
   * disable that committed meanwhile (and so may have missed this session when revoking) fails it.
   */
  private async issueTokens(user: User, familyId: string | undefined, replacesId?: string): Promise<TokenPair> {
    const refreshToken = randomBytes(32).toString("base64url");
    const now = this.opts.clock.now();
    const sessionId = familyId ?? randomBytes(12).toString("hex");
    const created = await this.opts.prisma.refreshToken.create({
      data: {
        userId: user.id,
        familyId: sessionId,
        tokenHash: sha256(refreshToken),
        expiresAt: new Date(now.getTime() + this.opts.refreshTokenTtlMs),
      },
    });
    const fresh = await this.opts.prisma.user.findUnique({ where: { id: user.id } });
    if (!fresh || fresh.disabledAt || fresh.passwordHash !== user.passwordHash || fresh.role !== user.role) {
      await this.opts.prisma.refreshToken.update({ where: { id: created.id }, data: { revokedAt: now } });
      throw new UnauthorizedError("The account changed while signing in; please log in again");
    }
    if (replacesId) {
      await this.opts.prisma.refreshToken.update({ where: { id: replacesId }, data: { replacedById: created.id } });
    }
    const accessToken = signAccessToken({ userId: user.id, role: fresh.role, sessionId }, this.opts.accessToken);
    return { accessToken, refreshToken };
  }
}
