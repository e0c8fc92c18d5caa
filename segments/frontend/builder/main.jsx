// The builder island (being built): mounted on <div data-island="builder">.
import "vite/modulepreload-polyfill";

import { mountIslands } from "../../../customers/frontend/lib/islands.js";

mountIslands("builder", () => null);
