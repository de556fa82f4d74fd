/**
 * The local fault server on its own thread, for the throughput bench: in the bench's thread its CPU (request
 * parsing, token counting) would compete with the client being measured, as it never does in deployment.
 * Messages: { start: ServeOptions } → { url }; "stats" → ServerStats; "close" → "closed".
 */
/// <reference lib="deno.worker" />
import { type LocalServer, startServer } from "../serve/mod.ts";

let srv: LocalServer | undefined;
self.onmessage = async (e: MessageEvent) => {
  if (e.data?.start) {
    srv = await startServer(e.data.start);
    self.postMessage({ url: srv.url });
  } else if (e.data === "stats") {
    self.postMessage({ stats: srv!.stats() });
  } else if (e.data === "close") {
    await srv?.close();
    self.postMessage({ closed: true });
  }
};
