// UI state kept in the server's registry (`/v1/rtregistry`, as RT's own panel
// does): last selected instance, layout choices, feed filter. One JSON object
// under the key `rt-panel/ui`; read once at start, written (debounced) on change.

import { api, paths } from './api.js';

const KEY = 'rt-panel/ui';
let state = {};
let timer = null;

export async function loadUiState() {
  try {
    // List first: a GET of a key never saved would be a 404 in the console.
    const { keys } = await api.get(paths.registryList(KEY));
    if (!keys.includes(KEY)) return (state = {});
    const v = await api.get(paths.registry(KEY));
    state = v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    state = {}; // 404 (never saved) or unreachable: defaults
  }
  return state;
}

export function uiState() {
  return state;
}

export function saveUiState(patch) {
  state = { ...state, ...patch };
  clearTimeout(timer);
  timer = setTimeout(() => {
    api.put(paths.registry(KEY), state).catch((e) => console.warn('registry write failed:', e.message));
  }, 400);
}
