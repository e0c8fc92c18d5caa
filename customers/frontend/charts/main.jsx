// The charts island (being built): mounted on <div data-island="charts">.
import "vite/modulepreload-polyfill";

import { mountIslands } from "../lib/islands.js";

mountIslands("charts", () => null);
