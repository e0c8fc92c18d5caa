// The builder bundle: the rule builder (new/edit pages) and the "why is this customer (not)
// in it" form (a segment's page). Each is loaded only on pages that have its island.
import "vite/modulepreload-polyfill";

import { lazy, Suspense } from "react";

import { gettext } from "../../../customers/frontend/lib/i18n.js";
import { mountIslands } from "../../../customers/frontend/lib/islands.js";

const Builder = lazy(() => import("./Builder.jsx"));
const Explain = lazy(() => import("./Explain.jsx"));

const loading = () => <p className="muted">{gettext("Loading…")}</p>;

mountIslands("builder", (props) => (
  <Suspense fallback={loading()}><Builder {...props} /></Suspense>
));
mountIslands("explain", (props) => (
  <Suspense fallback={loading()}><Explain {...props} /></Suspense>
));
