// An hls.js loader (its `loader` setting) that loads playlists and segments over the widget's
// comm (comm.js) instead of HTTP. The URLs it is given are names, not addresses: COMM_BASE
// followed by "stream/" or "proxy/" (the player's video or the seek proxy's rendition), then
// "index.m3u8?at=seconds" or a segment's "seg-NNNNN.ts" as the playlist lists them.

export const COMM_BASE = "https://rangevideo-comm.invalid/";
const SEGMENT = /^seg-(\d+)\.ts$/;

/** What the comm is asked for by the hls.js URL `url`: [what, fields]; throws for others. */
export function commRequestOf(url) {
  const parsed = new URL(url);
  const [rendition, name] = parsed.pathname.slice(1).split("/");
  if (`${parsed.origin}/` !== COMM_BASE || !["stream", "proxy"].includes(rendition)) {
    throw new Error(`not a comm transport URL: ${url}`);
  }
  const fields = rendition === "proxy" ? { delivery: "proxy" } : {};
  if (name === "index.m3u8") {
    const at = Number.parseFloat(parsed.searchParams.get("at"));
    return ["playlist", Number.isFinite(at) ? { ...fields, at } : fields];
  }
  const segment = SEGMENT.exec(name ?? "");
  if (!segment) throw new Error(`not a playlist or segment: ${url}`);
  return ["segment", { ...fields, index: Number.parseInt(segment[1], 10) }];
}

const newStats = () => ({
  aborted: false,
  loaded: 0,
  retry: 0,
  total: 0,
  chunkCount: 0,
  bwEstimate: 0,
  loading: { start: 0, first: 0, end: 0 },
  parsing: { start: 0, end: 0 },
  buffering: { start: 0, first: 0, end: 0 },
});

/** The hls.js loader class whose instances ask `client` (a comm client) for their bytes. */
export function commLoader(client) {
  return class CommLoader {
    constructor() {
      this.context = null;
      this.stats = newStats();
      this.pending = null;
      this.timer = null;
    }

    load(context, config, callbacks) {
      this.context = context;
      const stats = this.stats;
      stats.loading.start = performance.now();
      let request;
      try {
        const [what, fields] = commRequestOf(context.url);
        request = client.request(what, fields, (loaded, total) => {
          stats.loading.first ||= performance.now();
          stats.chunkCount += 1;
          stats.loaded = loaded;
          stats.total = total;
        });
      } catch (error) {
        callbacks.onError({ code: 400, text: String(error.message ?? error) }, context, null, stats);
        return;
      }
      this.pending = request;
      // No answer in time (a kernel busy with a long cell answers when it is done): hls.js
      // decides whether to ask again, as for HTTP.
      this.timer = setTimeout(
        () => {
          if (this.pending !== request) return;
          this.abortRequest();
          callbacks.onTimeout(stats, context, null);
        },
        config.timeout || config.loadPolicy?.maxLoadTimeMs || 60_000,
      );
      request.done.then(
        ({ bytes }) => {
          if (this.pending !== request) return;
          this.finish();
          stats.loading.first ||= performance.now();
          stats.loading.end = performance.now();
          stats.loaded = stats.total = bytes.byteLength;
          const seconds = Math.max(1e-3, (stats.loading.end - stats.loading.first) / 1000);
          stats.bwEstimate = (stats.total * 8) / seconds;
          const data = context.responseType === "arraybuffer" ? bytes.buffer : new TextDecoder().decode(bytes);
          callbacks.onProgress?.(stats, context, data, null);
          callbacks.onSuccess({ url: context.url, data, code: 200 }, stats, context, null);
        },
        (error) => {
          if (this.pending !== request) return;
          this.finish();
          callbacks.onError({ code: error.status ?? 0, text: String(error.message ?? error) }, context, null, stats);
        },
      );
    }

    finish() {
      clearTimeout(this.timer);
      this.pending = null;
    }

    abortRequest() {
      const request = this.pending;
      this.finish();
      request?.cancel();
    }

    abort() {
      if (!this.pending) return;
      this.stats.aborted = true;
      this.abortRequest();
    }

    destroy() {
      this.abortRequest();
      this.context = null;
    }

    getCacheAge() {
      return null;
    }

    getResponseHeader() {
      return null;
    }
  };
}
