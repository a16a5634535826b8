// The one reader of a player's state, from its live widget model or, without a kernel, from
// the saved output (spec). A saved spec keeps a trait in `options` under the trait's name, or
// at its top level under the name without the leading underscore (`_markers` -> `markers`).

/** A reader of `spec` and `model` (the live model, or null). */
export function playerState(spec, model) {
  const value = (name) => {
    if (model) return model.get(name);
    return spec.options?.[name] ?? spec[name.replace(/^_/, "")];
  };
  const facts = () => value("_facts") ?? {};
  return {
    live: model !== null && model !== undefined,
    value,
    facts,
    /** The probe's frame clock (a saved output keeps it at its top level), or null. */
    clock: () => facts().clock ?? spec.clock ?? null,
    /** An audio-only file: drawn with the browser's compact audio controls. A live model whose
     * facts have not arrived yet (its first message comes before them) leaves it to the spec. */
    audioOnly: () => {
      const video = model ? model.get("_facts")?.video : undefined;
      return video === undefined ? !!spec.options?.audio_only : video === null;
    },
    /** Set traits of the live model (nothing without one). */
    save(values) {
      if (!model) return;
      for (const [name, trait] of Object.entries(values)) model.set(name, trait);
      model.save_changes();
    },
    /** Send a custom message to the kernel's widget (nothing without a live model). */
    send(content) {
      model?.send(content);
    },
    /** Call `handler(content, buffers)` on each custom message from the kernel; returns the unsubscribe. */
    onMessage(handler) {
      if (!model) return () => {};
      const listener = (content, buffers) => handler(content, buffers);
      model.on("msg:custom", listener);
      return () => model.off("msg:custom", listener);
    },
    /** Call `handler` when one of the traits `names` changes; returns the unsubscribe. */
    onChange(names, handler) {
      if (!model) return () => {};
      for (const name of names) model.on(`change:${name}`, handler);
      return () => {
        for (const name of names) model.off(`change:${name}`, handler);
      };
    },
  };
}
