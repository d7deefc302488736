// @ts-check
// Glimpse's errors: every failure is a real `Error` with Glimpse's message, and the way a
// message shows a value it was given.

/**
 * An Error with `message` (and `cause`, when given).
 * @param {string} message
 * @param {unknown} [cause]
 */
export function error(message, cause) {
  const e = new Error(message);
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

