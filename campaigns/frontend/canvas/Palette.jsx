// The palette: the node types the server serves, grouped by category; drag one onto the canvas
// or press it to add it.
import { memo } from "react";

import { gettext } from "../../../customers/frontend/lib/i18n.js";
import { categoryLabel } from "./labels.js";

export const DRAG_MIME = "application/x-retentio-node";

function PaletteList({ palette, onAdd }) {
  const groups = [];
  for (const type of palette) {
    const last = groups[groups.length - 1];
    if (last && last.category === type.category) last.types.push(type);
    else groups.push({ category: type.category, types: [type] });
  }
  return (
    <aside className="canvas-palette" aria-label={gettext("Node types")}>
      <p className="help">{gettext("Drag onto the canvas, or press to add.")}</p>
      {groups.map((group) => (
        <section key={group.category}>
          <h2>{categoryLabel(group.category)}</h2>
          <ul>
            {group.types.map((type) => (
              <li key={type.type}>
                <button type="button" draggable className={`palette-item cat-${type.category}`}
                        data-type={type.type} title={type.description}
                        onDragStart={(e) => {
                          e.dataTransfer.setData(DRAG_MIME, type.type);
                          e.dataTransfer.effectAllowed = "move";
                        }}
                        onClick={() => onAdd(type.type)}>
                  {type.label}
                </button>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </aside>
  );
}

// Memoised: the editor re-renders with every drag frame; the palette never changes.
export const Palette = memo(PaletteList);
