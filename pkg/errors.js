// @ts-check
// Glimpse's errors: every failure is a real `Error` with Glimpse's message and a `code` saying
// its kind (index.d.ts's ErrorCode; the engine's own come from the Rust error's code()), and the
// way a message shows a value it was given.

/**
 * An Error with `message`, `code` and `cause` (when given).
 * @param {string} message
 * @param {unknown} [cause]
 * @param {import('glimpse-ml').ErrorCode} [code] 'input' (an argument that cannot be used) unless given
 * @returns {import('glimpse-ml').GlimpseError}
 */
export function error(message, cause, code = 'input') {
  const e = /** @type {import('glimpse-ml').GlimpseError} */ (new Error(message));
  e.code = code;
  if (cause !== undefined) e.cause = cause;
  return e;
}

// A value as an error message shows it: itself for a short string or number, else its kind.
export function shown(value) {
  return (typeof value === 'string' && value.length <= 40) || typeof value === 'number' ? JSON.stringify(value) : describe(value);
}

export function describe(value) {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return typeof value;
}

