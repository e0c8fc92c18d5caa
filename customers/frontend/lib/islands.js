// Mounting an island: a server-rendered <div data-island="name"> whose props are in the
// <script type="application/json" id="...-props"> Django's json_script wrote next to it.
import { createRoot } from "react-dom/client";

export function mountIslands(name, render) {
  for (const element of document.querySelectorAll(`[data-island="${name}"]`)) {
    const propsId = element.dataset.props;
    const props = propsId ? JSON.parse(document.getElementById(propsId).textContent) : {};
    createRoot(element).render(render(props, element));
  }
}
