// The canvas island (being built): mounted on <div data-island="canvas">.
import "vite/modulepreload-polyfill";

import { mountIslands } from "../../../customers/frontend/lib/islands.js";

mountIslands("canvas", () => null);
