// @ts-check
// Bytes in and out: a value given as a file's bytes, downloads with a typed error and their
// progress, and the event loop's next task (long work lets the page run between steps).

import { describe, error } from './errors.js';

// `value` (a Uint8Array, ArrayBuffer, typed array view, Blob or Response) as bytes; `what` names it
// in the error for anything else.
export async function toBytes(value, what) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (typeof Blob !== 'undefined' && value instanceof Blob) {
    return new Uint8Array(await value.arrayBuffer());
  }
  if (typeof Response !== 'undefined' && value instanceof Response) {
    return new Uint8Array(await value.arrayBuffer());
  }
  throw error(
    `${what}: expected the file's bytes (Uint8Array, ArrayBuffer or Blob), found ${describe(value)}`,
  );
}

// A download that succeeded (HTTP 2xx), else an Error naming `what` and `url`.
export async function fetchOk(url, what) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw error(`cannot download ${what} from ${url}: ${e.message ?? e}`, e, 'io');
  }
  if (!response.ok) {
    throw error(`cannot download ${what} from ${url}: HTTP ${response.status}`, undefined, 'io');
  }
  return response;
}

/**
 * The bytes a response's body will give, as far as its headers say: 0 when they do not, or when
 * the body comes compressed (Content-Length then counts the compressed bytes, and the body
 * gives more).
 * @param {Response} response
 */
export function bodyLength(response) {
  if (response.headers.get('content-encoding')) return 0;
  return Number(response.headers.get('content-length')) || 0;
}

// Each piece of a response's body in turn to onPiece(bytes), then onProgress({ loaded, total })
// (total from bodyLength: 0 when unknown). Resolves to the bytes read.
/**
 * @param {Response} response
 * @param {((p: { loaded: number, total: number }) => void) | undefined} onProgress
 * @param {(piece: Uint8Array) => void} onPiece
 */
export async function readPieces(response, onProgress, onPiece) {
  const total = bodyLength(response);
  const reader = /** @type {ReadableStream<Uint8Array>} */ (response.body).getReader();
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return loaded;
    onPiece(value);
    loaded += value.length;
    onProgress?.({ loaded, total });
  }
}

// A response's body as bytes, onProgress({ loaded, total }) as they arrive (total from
// bodyLength: 0 when unknown).
export async function readWithProgress(response, onProgress) {
  if (!onProgress || !response.body) return new Uint8Array(await response.arrayBuffer());
  /** @type {Uint8Array[]} */
  const chunks = [];
  const out = new Uint8Array(await readPieces(response, onProgress, (c) => chunks.push(c)));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

// Resolves in a later task of the event loop, not a microtask: a message to ourselves, queued
// behind the tasks already waiting (scheduler.yield() would jump ahead of them; setTimeout
// clamps to 4 ms).
/** @returns {Promise<void>} */
export function nextTask() {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}
