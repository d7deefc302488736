// @ts-check
// The Look inside tab: the model in use's Keras summary.

import { state } from './state.js';
import { onTabShown } from './tabs.js';
import { $ } from './ui.js';

function showSummary() {
  $('summary').textContent = state.current
    ? `${state.current.name}\n\n${state.current.model.summary()}`
    : 'The engine is still loading.';
}

onTabShown('tab-inside', showSummary);
