// Polls an instance until it reaches `status` (used by end-to-end-test.rest between requests).
async function waitForStatus(baseUrl, token, id, status, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    const res = await fetch(`${baseUrl}/api/instances/${id}`, { headers: { Authorization: `Bearer ${token}` } });
    last = (await res.json()).instance;
    if (last && last.status === status) return last;
    if (last && last.status === "FAILED" && status !== "FAILED") throw new Error(`instance FAILED: ${last.statusMessage}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`instance ${id} not ${status} within ${timeoutMs} ms (last: ${last && last.status})`);
}
module.exports = { waitForStatus };
