/**
 * A JSON body written in pieces: the same bytes as `res.json(body)` (JSON.stringify, no replacer or
 * spaces, as Express is configured here), but one of its arrays is serialised and sent a slice at a
 * time, waiting for the socket to drain between slices. For answers that carry one entry per instance
 * of the fleet (POST /api/admin/health/check: ~5 MB at 10,000 instances): `res.json` builds the whole
 * text as one string, copies it into one Buffer and hashes it for an ETag — three copies of the body
 * at once in the large-object space and malloc, which the process keeps as resident memory long after
 * the answer is sent (bench/RESULTS.md, issue 14).
 *
 * What differs from `res.json`: an answer of more than one slice is chunked (no Content-Length; a
 * smaller one goes out in one write, which Node gives a Content-Length), and none carries an ETag. A
 * client that goes away mid-answer ends the writing (nothing more is serialised); an error once part
 * of the answer is out cuts the connection.
 */
import type { Response } from "express";

/** About this many characters per write. */
const SLICE_CHARS = 64 * 1024;

/** Resolves true once `res` can take more, false when it closed first. */
function drained(res: Response): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}

/** Writes `text`; false when the client went away (stop writing). */
async function write(res: Response, text: string): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(text)) return true;
  return drained(res);
}

/** JSON.stringify of one array element: what it writes for undefined, functions and symbols. */
const element = (v: unknown): string => JSON.stringify(v) ?? "null";

/**
 * Sends `body` (a plain object) as `res.json` would, with `body[arrayKey]` (an array) written in slices.
 * Keys keep their order; keys whose values JSON.stringify leaves out are left out.
 */
export async function sendJsonStreamingArray(res: Response, body: object, arrayKey: string): Promise<void> {
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  try {
    await writeBody(res, body, arrayKey);
  } catch (err) {
    // Part of the answer is out: cut the connection, so the client cannot take a truncated body for a
    // whole one (ending the response would close the chunked body cleanly). The error handler logs it.
    if (res.headersSent) res.destroy();
    throw err;
  }
}

async function writeBody(res: Response, body: object, arrayKey: string): Promise<void> {
  let pending = "{";
  let firstKey = true;
  for (const [key, value] of Object.entries(body)) {
    const isArray = key === arrayKey && Array.isArray(value);
    const text = isArray ? "" : JSON.stringify(value);
    if (text === undefined) continue;
    pending += `${firstKey ? "" : ","}${JSON.stringify(key)}:`;
    firstKey = false;
    if (!isArray) {
      pending += text;
      continue;
    }
    pending += "[";
    const items = value as unknown[];
    const slice: string[] = [];
    let chars = 0;
    for (let i = 0; i < items.length; i++) {
      const item = element(items[i]);
      slice.push(item);
      chars += item.length + 1;
      if (chars >= SLICE_CHARS || i === items.length - 1) {
        if (!(await write(res, pending + slice.join(",")))) return;
        pending = i === items.length - 1 ? "" : ",";
        slice.length = 0;
        chars = 0;
      }
    }
    pending += "]";
  }
  res.end(`${pending}}`);
}
