// The operator UI's islands, built into static/dist/ (not committed: `make run` and
// `make test` build them). Django loads them through django-vite ({% vite_asset %}), reading
// the manifest this build writes.
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export const ENTRIES = {
  base: "customers/frontend/base.js",
  charts: "customers/frontend/charts/main.jsx",
  builder: "segments/frontend/builder/main.jsx",
  canvas: "campaigns/frontend/canvas/main.jsx",
};

export default defineConfig({
  root,
  base: "/static/dist/",
  plugins: [react()],
  build: {
    outDir: resolve(root, "static/dist"),
    emptyOutDir: true,
    manifest: "manifest.json",
    sourcemap: true,
    rollupOptions: {
      input: Object.fromEntries(
        Object.entries(ENTRIES).map(([name, path]) => [name, resolve(root, path)]),
      ),
    },
  },
  test: {
    include: ["**/frontend/**/*.test.{js,jsx}"],
    exclude: ["node_modules/**", ".venv/**"],
    environment: "node",
  },
});
