// On every page: htmx (lists, forms and partial updates), sending Django's CSRF token with
// every request it makes and showing what went wrong when a request fails.
import "vite/modulepreload-polyfill";

import htmx from "htmx.org";

import { csrfToken } from "./lib/api.js";
import { handleAnswers } from "./lib/htmx-answers.js";

window.htmx = htmx;
document.body.addEventListener("htmx:configRequest", (event) => {
  event.detail.headers["X-CSRFToken"] = csrfToken();
});
handleAnswers(document.body);
