// DOM helpers: one way to add listeners and undo them, one style injection, element creation.

/** Listeners, observers and timers to undo together, in the order they were added. */
export class Disposables {
  #undo = [];

  /** addEventListener now, removeEventListener on dispose. */
  listen(target, type, handler, options) {
    target.addEventListener(type, handler, options);
    this.#undo.push(() => target.removeEventListener(type, handler, options));
  }

  /** Run `undo` on dispose (accepts the result of another module's setup, or nothing). */
  add(undo) {
    if (typeof undo === "function") this.#undo.push(undo);
    else if (typeof undo?.dispose === "function") this.#undo.push(() => undo.dispose());
  }

  dispose() {
    for (const undo of this.#undo.splice(0)) undo();
  }
}

/** Add a <style id=`id`> with `css` to the document once. */
export function injectStyle(id, css) {
  if (document.getElementById(id)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = css;
  document.head.appendChild(style);
}

/** A new `tag` element with `className` and `properties` assigned. */
export function createElement(tag, className, properties = {}) {
  const element = document.createElement(tag);
  element.className = className;
  return Object.assign(element, properties);
}

/** A CSS length from a number (pixels) or a CSS string. */
export function cssSize(value) {
  return typeof value === "number" ? `${value}px` : value || "";
}
