// What is drawn on top of the nodes (problems, dry-run and live counts), kept outside the
// nodes themselves so that undo/redo and saving never see it, and so that a node re-renders
// only when its own overlay changed (a 200-node canvas polls live counts every few seconds).
import { useSyncExternalStore } from "react";

function same(a, b) {
  return a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b));
}

export function createOverlayStore() {
  let byNode = {};
  const listeners = new Set();
  return {
    // Replace one layer ("problems", "counts") for every node: {node id: value}.
    setLayer(layer, values) {
      const next = {};
      const ids = new Set([...Object.keys(byNode), ...Object.keys(values)]);
      for (const id of ids) {
        const old = byNode[id] || {};
        const merged = { ...old, [layer]: values[id] };
        if (merged[layer] === undefined) delete merged[layer];
        next[id] = Object.keys(merged).every((key) => same(old[key], merged[key]))
          && Object.keys(old).length === Object.keys(merged).length ? old : merged;
      }
      byNode = next;
      for (const listener of listeners) listener();
    },
    get: (id) => byNode[id],
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

const EMPTY = {};

export function useOverlay(store, id) {
  return useSyncExternalStore(store.subscribe, () => store.get(id) || EMPTY);
}
