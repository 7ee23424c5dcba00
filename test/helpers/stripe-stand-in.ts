/**
 * A stand-in for Stripe's API on loopback: a real HTTP server that the `stripe` library is pointed at
 * through its host/port/protocol options (STRIPE_API_URL), so the library's own request code runs and
 * tests can assert the exact request it sends. It knows only the calls the product makes; anything
 * else is a loud 404.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body (form-encoded for Stripe's v1 API). */
  body: string;
  /** The body parsed as a form: key -> value, in order. */
  form: Record<string, string>;
}

export class StripeStandIn {
  readonly requests: RecordedRequest[] = [];
  /** When set, the next session creations answer this status with a Stripe error body. */
  failWith: number | undefined;
  private seq = 0;
  private constructor(private readonly server: Server) {}

  static async start(): Promise<StripeStandIn> {
    let standIn: StripeStandIn | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => standIn?.handle(req.method ?? "", req.url ?? "", req.headers, Buffer.concat(chunks).toString("utf8"), res));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    standIn = new StripeStandIn(server);
    return standIn;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(method: string, url: string, headers: IncomingHttpHeaders, body: string, res: import("node:http").ServerResponse): void {
    const form = Object.fromEntries(new URLSearchParams(body));
    this.requests.push({ method, path: url, headers, body, form });
    const json = (status: number, value: unknown, extra: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", "request-id": `req_standin_${this.requests.length}`, ...extra });
      res.end(JSON.stringify(value));
    };
    if (method === "POST" && url === "/v1/checkout/sessions") {
      if (this.failWith) {
        json(this.failWith, { error: { type: "api_error", message: "stand-in failure" } }, { "stripe-should-retry": "false" });
        return;
      }
      this.seq += 1;
      const id = `cs_test_standin${String(this.seq).padStart(4, "0")}`;
      json(200, {
        id,
        object: "checkout.session",
        mode: form.mode,
        client_reference_id: form.client_reference_id,
        metadata: { credits: form["metadata[credits]"], packageId: form["metadata[packageId]"], purchaseId: form["metadata[purchaseId]"] },
        payment_status: "unpaid",
        status: "open",
        url: `https://checkout.stripe.test/c/pay/${id}`,
      });
      return;
    }
    const pi = /^\/v1\/payment_intents\/(pi_[A-Za-z0-9_]+)(\?.*)?$/.exec(url);
    if (method === "GET" && pi?.[1]) {
      json(200, {
        id: pi[1],
        object: "payment_intent",
        status: "succeeded",
        latest_charge: { id: `ch_for_${pi[1]}`, object: "charge", receipt_url: `https://pay.stripe.test/receipts/${pi[1]}` },
      });
      return;
    }
    json(404, { error: { type: "invalid_request_error", message: `stand-in does not know ${method} ${url}` } });
  }
}
