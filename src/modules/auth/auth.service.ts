/**
 * Accounts and sessions: argon2id password hashes, short-lived access JWTs, and opaque refresh
 * tokens stored as sha256 hashes and rotated on every use. Presenting a token that was already
 * rotated (a replay: someone holds a stolen copy) revokes every token of its family.
 */
import { createHash, randomBytes } from "node:crypto";
import { type Algorithm, hash, verify } from "@node-rs/argon2";
import type { Clock } from "../../platform/clock.js";
import type { PrismaClient } from "../../platform/db/index.js";
import { ConflictError, UnauthorizedError } from "../../platform/domain-errors.js";
import { type AccessTokenOptions, type Role, signAccessToken } from "../../platform/http/auth.js";
import type { Logger } from "../../platform/logger.js";
import type { User } from "../../generated/prisma/client.js";
import { Prisma } from "../../platform/db/index.js";

export interface PublicUser {
  id: string;
  email: string;
  name: string;
  role: Role;
  createdAt: string;
  updatedAt: string;
}

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

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
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
}

export class AuthService {
  // A real hash to verify against when the email is unknown, so timing does not reveal accounts.
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly opts: AuthServiceOptions) {}

  async register(input: { email: string; password: string; name: string }): Promise<{ user: PublicUser } & TokenPair> {
    const passwordHash = await hashPassword(input.password);
    let user: User;
    try {
      user = await this.opts.prisma.user.create({ data: { email: input.email, passwordHash, name: input.name } });
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002") {
        throw new ConflictError("An account with this email already exists", { cause: err });
      }
      throw err;
    }
    this.opts.logger.info({ userId: user.id }, "user registered");
    return { user: toPublicUser(user), ...(await this.issueTokens(user, undefined)) };
  }

  async login(input: { email: string; password: string }): Promise<{ user: PublicUser } & TokenPair> {
    const user = await this.opts.prisma.user.findUnique({ where: { email: input.email } });
    if (!user) {
      this.dummyHash ??= hashPassword(randomBytes(16).toString("hex"));
      await verify(await this.dummyHash, input.password).catch(() => false);
      throw new UnauthorizedError("Invalid email or password");
    }
    const ok = await verify(user.passwordHash, input.password).catch(() => false);
    if (!ok) throw new UnauthorizedError("Invalid email or password");
    return { user: toPublicUser(user), ...(await this.issueTokens(user, undefined)) };
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const prisma = this.opts.prisma;
    const now = this.opts.clock.now();
    const row = await prisma.refreshToken.findUnique({ where: { tokenHash: sha256(refreshToken) }, include: { user: true } });
    if (!row) throw new UnauthorizedError("Invalid refresh token");
    if (row.revokedAt) {
      // Reuse of a rotated or revoked token: the family is compromised.
      await prisma.refreshToken.updateMany({ where: { familyId: row.familyId, revokedAt: null }, data: { revokedAt: now } });
      this.opts.logger.warn({ userId: row.userId, familyId: row.familyId }, "refresh token reuse detected; family revoked");
      throw new UnauthorizedError("Refresh token reuse detected; please log in again");
    }
    if (row.expiresAt <= now) throw new UnauthorizedError("Refresh token expired");
    // Claim the token: of two concurrent refreshes with the same token only one wins.
    const claimed = await prisma.refreshToken.updateMany({ where: { id: row.id, revokedAt: null }, data: { revokedAt: now } });
    if (claimed.count !== 1) {
      await prisma.refreshToken.updateMany({ where: { familyId: row.familyId, revokedAt: null }, data: { revokedAt: now } });
      throw new UnauthorizedError("Refresh token reuse detected; please log in again");
    }
    const pair = await this.issueTokens(row.user, row.familyId, row.id);
    return pair;
  }

  async logout(refreshToken: string): Promise<void> {
    const row = await this.opts.prisma.refreshToken.findUnique({ where: { tokenHash: sha256(refreshToken) } });
    if (!row) return; // Logging out twice (or with an unknown token) is not an error: the session is gone either way.
    await this.opts.prisma.refreshToken.updateMany({
      where: { familyId: row.familyId, revokedAt: null },
      data: { revokedAt: this.opts.clock.now() },
    });
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
      if (!(err instanceof Prisma.PrismaClientKnownRequestError && err.code === "P2002")) throw err;
    });
    return true;
  }

  private async issueTokens(user: User, familyId: string | undefined, replacesId?: string): Promise<TokenPair> {
    const accessToken = signAccessToken({ userId: user.id, role: user.role }, this.opts.accessToken);
    const refreshToken = randomBytes(32).toString("base64url");
    const now = this.opts.clock.now();
    const created = await this.opts.prisma.refreshToken.create({
      data: {
        userId: user.id,
        familyId: familyId ?? randomBytes(12).toString("hex"),
        tokenHash: sha256(refreshToken),
        expiresAt: new Date(now.getTime() + this.opts.refreshTokenTtlMs),
      },
    });
    if (replacesId) {
      await this.opts.prisma.refreshToken.update({ where: { id: replacesId }, data: { replacedById: created.id } });
    }
    return { accessToken, refreshToken };
  }
}
