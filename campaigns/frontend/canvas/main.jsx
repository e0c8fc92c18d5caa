// The campaign canvas island (templates/campaigns/campaign_canvas.html mounts it).
import "vite/modulepreload-polyfill";
import "@xyflow/react/dist/style.css";

import { mountIslands } from "../../../customers/frontend/lib/islands.js";
import { CanvasApp } from "./CanvasApp.jsx";

mountIslands("canvas", (props) => <CanvasApp {...props} />);
