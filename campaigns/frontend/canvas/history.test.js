import { describe, expect, it } from "vitest";

import { canRedo, canUndo, HISTORY_LIMIT, historyInit, historyReducer } from "./history.js";

const apply = (state, ...actions) => actions.reduce(historyReducer, state);

describe("history", () => {
  it("undoes and redoes committed changes in order", () => {
    let state = apply(historyInit("a"), { type: "commit", present: "b" },
      { type: "commit", present: "c" });
    expect(state.present).toBe("c");
    state = historyReducer(state, { type: "undo" });
    expect(state.present).toBe("b");
    state = historyReducer(state, { type: "undo" });
    expect(state.present).toBe("a");
    expect(canUndo(state)).toBe(false);
    state = apply(state, { type: "redo" }, { type: "redo" });
    expect(state.present).toBe("c");
    expect(canRedo(state)).toBe(false);
  });

  it("makes a drag one step: a checkpoint, then positions replaced", () => {
    const state = apply(historyInit({ x: 0 }), { type: "checkpoint" },
      { type: "replace", present: { x: 5 } }, { type: "replace", present: { x: 9 } });
    expect(state.present).toEqual({ x: 9 });
    expect(historyReducer(state, { type: "undo" }).present).toEqual({ x: 0 });
  });

  it("drops the redo steps when a new change is made", () => {
    const state = apply(historyInit(1), { type: "commit", present: 2 }, { type: "undo" },
      { type: "commit", present: 3 });
    expect(canRedo(state)).toBe(false);
    expect(historyReducer(state, { type: "undo" }).present).toBe(1);
  });

  it("accepts a function of the present", () => {
    const state = historyReducer(historyInit([1]), { type: "commit",
      present: (list) => [...list, 2] });
    expect(state.present).toEqual([1, 2]);
  });

  it("does nothing to undo or redo at the ends", () => {
    const state = historyInit("a");
    expect(historyReducer(state, { type: "undo" })).toBe(state);
    expect(historyReducer(state, { type: "redo" })).toBe(state);
  });

  it("keeps at most the limit of steps", () => {
    let state = historyInit(0);
    for (let n = 1; n <= HISTORY_LIMIT + 20; n += 1) {
      state = historyReducer(state, { type: "commit", present: n });
    }
    expect(state.past).toHaveLength(HISTORY_LIMIT);
    expect(state.past[0]).toBe(20);
  });

  it("starts over on reset", () => {
    const state = apply(historyInit(1), { type: "commit", present: 2 },
      { type: "reset", present: 7 });
    expect(state).toEqual({ past: [], present: 7, future: [] });
  });

  it("refuses an unknown action", () => {
    expect(() => historyReducer(historyInit(1), { type: "nope" })).toThrow(/nope/);
  });
});
