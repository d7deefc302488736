// @ts-check
// The tabs (arrow keys move between them). The tabs' modules say what happens when one is
// shown (onTabShown) or any is left (onTabLeft); this module imports none of them.

import { $ } from './ui.js';

/** @type {(() => void)[]} */
const leaving = [];
/** @type {Map<string, () => void>} */
const shown = new Map();
/** `listener` runs when the tab being shown is another than before (before it shows). */
export function onTabLeft(listener) {
  leaving.push(listener);
}
/** `listener` runs each time the tab with id `id` is selected. */
export function onTabShown(id, listener) {
  shown.set(id, listener);
}

const tabs = [.../** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('[role=tab]'))];
/** Shows `tab` (a [role=tab] element) and its panel. */
export function selectTab(tab) {
  const before = tabs.find((t) => t.getAttribute('aria-selected') === 'true');
  if (before !== tab) {
    // Errors belong to what was done on the tab being left; the camera stops with it.
    $('errors').replaceChildren();
    for (const f of leaving) f();
  }
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(/** @type {string} */ (t.getAttribute('aria-controls'))).hidden = !on;
  }
  shown.get(tab.id)?.();
}
tabs.forEach((t, i) => {
  t.addEventListener('click', () => selectTab(t));
  t.addEventListener('keydown', (e) => {
    const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!d) return;
    const next = tabs[(i + d + tabs.length) % tabs.length];
    next.focus();
    selectTab(next);
  });
});
