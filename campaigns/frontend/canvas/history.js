// Undo/redo of the canvas: a reducer over {past, present, future}. Pure.
//
// "checkpoint" remembers the present before a change that should be undoable (a drop, a
// connection, a config edit, the start of a drag); "replace" changes the present without a
// new step (the positions during a drag, a selection). "commit" is both at once.

export const HISTORY_LIMIT = 100;

export function historyInit(present) {
  return { past: [], present, future: [] };
}

function checkpoint(state) {
  const past = [...state.past, state.present];
  return { past: past.slice(-HISTORY_LIMIT), present: state.present, future: [] };
}

function update(present, change) {
  return typeof change === "function" ? change(present) : change;
}

export function historyReducer(state, action) {
  switch (action.type) {
    case "checkpoint":
      return checkpoint(state);
    case "replace":
      return { ...state, present: update(state.present, action.present) };
    case "commit": {
      const next = checkpoint(state);
      return { ...next, present: update(state.present, action.present) };
    }
    case "undo": {
      if (!state.past.length) return state;
      return {
        past: state.past.slice(0, -1),
        present: state.past[state.past.length - 1],
        future: [state.present, ...state.future],
      };
    }
    case "redo": {
      if (!state.future.length) return state;
      return {
        past: [...state.past, state.present],
        present: state.future[0],
        future: state.future.slice(1),
      };
    }
    case "reset":
      return historyInit(action.present);
    default:
      throw new Error(`unknown history action ${action.type}`);
  }
}

export const canUndo = (state) => state.past.length > 0;
export const canRedo = (state) => state.future.length > 0;
