// Live widget models by player_id, shared by every copy of this module on the page (each
// anywidget view may load its own from a Blob URL; the JupyterLab renderer has another), so
// a renderer of a saved output can bind to its kernel's player. hls.js, once loaded, is kept
// here too.

globalThis.__jupyterRangevideo ??= { models: new Map(), waiting: new Map() };
const registry = globalThis.__jupyterRangevideo;

/** Make `model` findable by its player_id; returns the function that forgets it. */
export function registerModel(model) {
  const id = model.get("player_id");
  registry.models.set(id, model);
  for (const resolve of registry.waiting.get(id) ?? []) resolve(model);
  registry.waiting.delete(id);
  return () => {
    if (registry.models.get(id) === model) registry.models.delete(id);
  };
}

/** Resolve with the live model of a player, or null after `timeoutMs`. */
export function findModel(playerId, timeoutMs = 0) {
  const model = registry.models.get(playerId);
  if (model || timeoutMs <= 0) return Promise.resolve(model ?? null);
  return new Promise((resolve) => {
    const waiters = registry.waiting.get(playerId) ?? [];
    waiters.push(resolve);
    registry.waiting.set(playerId, waiters);
    setTimeout(() => resolve(null), timeoutMs);
  });
}

/** Whether `model` is still the registered live model of its player. */
export function isRegisteredModel(model) {
  return registry.models.get(model.get("player_id")) === model;
}

/**
 * The default export of the module named `key` (once per page and key; a failed load may be
 * retried), imported from the URL that `locate()` resolves to (by default `key` itself).
 */
export function importOnce(key, locate = () => key) {
  return onceOnPage(key, () =>
    Promise.resolve()
      .then(locate)
      .then((url) => import(/* webpackIgnore: true */ url))
      .then((module) => module.default),
  );
}

/** What `make()` resolves to, made once per page and key (a failure lets a later call try again). */
export function onceOnPage(key, make) {
  registry.hls ??= new Map();
  if (!registry.hls.has(key)) {
    const loading = make();
    loading.catch(() => registry.hls.delete(key)); // let a later player try again
    registry.hls.set(key, loading);
  }
  return registry.hls.get(key);
}
