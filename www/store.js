// @ts-check
// Taught and imported models, kept in this browser's IndexedDB.
// A record: { id, name, labels, structure (JSON text), weights (Uint8Array), preprocessing,
// created, note, fingerprint (see fingerprint(): the same model imported twice is kept once) }.

const DB = 'glimpse';
const STORE = 'models';

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB is not available'));
  });
}

async function tx(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const result = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(result.result ?? result);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error ?? new Error('the browser refused to store the model'));
    });
  } finally {
    db.close();
  }
}

/** Every saved model, newest first. */
export async function list() {
  const all = await tx('readonly', (s) => s.getAll());
  return all.sort((a, b) => b.created - a.created);
}

/** Saves (or replaces) a model record. */
export function put(record) {
  return tx('readwrite', (s) => s.put(record));
}

/** One record by id. */
export function get(id) {
  return tx('readonly', (s) => s.get(id));
}

/** Deletes a record. */
export function remove(id) {
  return tx('readwrite', (s) => s.delete(id));
}

/** A digest of a model's structure, weights and labels (null where the browser has no
 * SubtleCrypto, outside secure contexts): two records with the same one are the same model. */
export async function fingerprint(saved, labels) {
  if (!globalThis.crypto?.subtle) return null;
  const text = new TextEncoder().encode(`${saved.structure}\n${JSON.stringify(labels ?? null)}\n`);
  const all = new Uint8Array(text.length + saved.weights.length);
  all.set(text);
  all.set(saved.weights, text.length);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
