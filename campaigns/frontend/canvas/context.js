import { createContext } from "react";

// What every node reads and what rarely changes: the palette by type, the picker rows by id
// (for the names on the nodes), the overlay store. One object, made once the palette loaded.
export const CanvasContext = createContext(null);
