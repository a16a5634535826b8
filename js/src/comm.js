// The comm transport's page side: where neither the server extension nor the kernel's server
// reaches the page, the player asks its own widget for bytes with custom messages and the
// kernel answers in chunks of binary buffers (jupyter_rangevideo/comm_transport.py has the
// protocol). A request resolves with all its bytes; `cancel()` tells the kernel to stop.

// Each view of a player names its requests with a key of its own: every view of the widget
// receives the kernel's answers, and keeps only those to its requests.
const VIEW_KEY_LENGTH = 8;

/** The "get" message of request `id` for `what` ("playlist", "segment", "static") and its fields. */
export function requestMessage(id, what, fields = {}) {
  return { rangevideo: "get", id, what, ...fields };
}

/** Bytes of a message buffer (DataView, typed array or ArrayBuffer) as a Uint8Array. */
export function bufferBytes(buffer) {
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  return new Uint8Array(0);
}

/**
 * The chunks of one answer put back together: `add(header, bytes)` places a chunk at its
 * offset and returns whether every byte has come; `bytes` is then the whole answer. A chunk
 * that does not fit the announced size throws.
 */
export class Reassembly {
  constructor() {
    this.bytes = null;
    this.received = 0;
  }

  add({ offset, size }, chunk) {
    if (this.bytes === null) this.bytes = new Uint8Array(size);
    if (size !== this.bytes.length || offset < 0 || offset + chunk.length > size) {
      throw new Error(`a chunk of ${chunk.length} bytes at ${offset} does not fit ${size} bytes`);
    }
    this.bytes.set(chunk, offset);
    this.received += chunk.length;
    return this.received >= size;
  }
}

/** An error answered by the kernel: an HTTP-like `status` and its words. */
export class CommError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * The page side of a player's comm: `request(what, fields, onChunk)` returns {done, cancel},
 * `done` resolving with {bytes, type}; `dispose()` cancels every request still open.
 */
export function createCommClient(state) {
  const key = Math.random()
    .toString(36)
    .slice(2, 2 + VIEW_KEY_LENGTH);
  let counter = 0;
  const open = new Map(); // id -> {parts, resolve, reject, onChunk}

  const stopListening = state.onMessage((message, buffers) => {
    const pending = message && open.get(message.id);
    if (!pending) return; // another view's, or another part's message
    if (message.rangevideo === "error") {
      open.delete(message.id);
      pending.reject(new CommError(message.status, message.message));
    } else if (message.rangevideo === "chunk") {
      const chunk = bufferBytes(buffers?.[0]);
      try {
        const complete = pending.parts.add(message, chunk);
        pending.onChunk?.(pending.parts.received, message.size);
        if (complete || message.last) {
          open.delete(message.id);
          pending.resolve({ bytes: pending.parts.bytes ?? new Uint8Array(0), type: message.type ?? "" });
        }
      } catch (error) {
        open.delete(message.id);
        pending.reject(error);
      }
    }
  });

  function cancel(id) {
    if (!open.delete(id)) return;
    state.send({ rangevideo: "cancel", id });
  }

  return {
    request(what, fields = {}, onChunk = null) {
      counter += 1;
      const id = `${key}:${counter}`;
      const done = new Promise((resolve, reject) => {
        open.set(id, { parts: new Reassembly(), resolve, reject, onChunk });
      });
      state.send(requestMessage(id, what, fields));
      return { id, done, cancel: () => cancel(id) };
    },
    /** Requests sent and not answered yet. */
    get open() {
      return open.size;
    },
    dispose() {
      for (const id of [...open.keys()]) cancel(id);
      stopListening();
    },
  };
}

/** A module's bytes as a URL that `import()` takes (a Blob URL, as anywidget loads its own). */
export function moduleUrl(bytes) {
  return URL.createObjectURL(new Blob([bytes], { type: "text/javascript" }));
}
