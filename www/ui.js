// @ts-check
// The page's common parts: elements by id, the errors and notes box, the status line and its
// download bar, and how the backend in use is described.

// An element of index.html by its id. (Its kind is in index.html, which the type checker does
// not read: it is `any` here.)
/** @type {(id: string) => any} */
export const $ = (id) => document.getElementById(id);

export function showError(message) {
  const box = $('errors');
  const item = document.createElement('p');
  item.textContent = message;
  const close = document.createElement('button');
  close.className = 'link';
  close.textContent = 'Dismiss';
  close.addEventListener('click', () => item.remove());
  item.append(' ', close);
  box.append(item);
  while (box.children.length > 4) box.firstChild.remove();
}

/** A message that is not an error (same place, calmer look). */
export function showNote(message) {
  showError(message);
  $('errors').lastElementChild.classList.add('note');
}

export function setStatus(text, kind = '') {
  const s = $('status');
  s.textContent = text;
  s.dataset.kind = kind;
  if (kind !== 'busy') $('load-progress').hidden = true;
}

/** The download bar under the status: a fraction, or null for "under way, size unknown". */
export function setLoadProgress(fraction) {
  const bar = $('load-progress');
  bar.hidden = false;
  if (fraction === null) bar.removeAttribute('value');
  else bar.value = Math.max(0, Math.min(1, fraction));
}

export const MB = (n) => (n / 1e6).toFixed(1);

export function backendText(info) {
  if (info.backend === 'webgpu') return `WebGPU — ${info.adapter}`;
  // Which CPU engine: threads (a cross-origin-isolated page) or one thread, and why.
  const cpu = (info.threads ?? 1) > 1
    ? `CPU (WebAssembly, ${info.threads} threads)`
    : `CPU (WebAssembly, 1 thread${info.threadsReason ? `: ${info.threadsReason}` : ''})`;
  if (info.requested === 'cpu') return `${cpu}, as asked by ?backend=cpu`;
  return info.reason === 'software WebGPU adapter'
    ? `${cpu} — this browser's WebGPU runs in software, slower than Glimpse on the CPU`
    : `${cpu} — this browser has no WebGPU adapter, so Glimpse computes on the CPU`;
}
