// How the pages' htmx requests treat answers other than a success. htmx swaps only 2xx
// answers and otherwise leaves the page as it was, so a failed request looked like a button
// that did nothing.

import { failureMessage } from "./api.js";

// Our views answer a form's problems with a 400 fragment made to be shown in place (the
// template editor's test send); an element asks for it to be swapped with this attribute.
export const SWAP_PROBLEMS = "data-swap-problems";
// An element with its own handler keeps its own message.
const OWN_HANDLER = "hx-on::response-error";

export function swapsProblems(elt, status) {
  return status === 400 && Boolean(elt?.closest?.(`[${SWAP_PROBLEMS}]`));
}

// The failure said where the answer was to go; text only, never the answer's HTML.
export function showFailure(target, elt, status) {
  if (!target || elt?.hasAttribute?.(OWN_HANDLER)) return;
  const notice = target.ownerDocument.createElement("p");
  notice.className = "message error";
  notice.setAttribute("role", "alert");
  notice.textContent = failureMessage(status);
  target.replaceChildren(notice);
}

export function handleAnswers(body) {
  body.addEventListener("htmx:beforeSwap", (event) => {
    // This event's `elt` is the target; the element that made the request is in the config.
    const source = event.detail.requestConfig?.elt;
    if (swapsProblems(source, event.detail.xhr.status)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  body.addEventListener("htmx:responseError", (event) => {
    showFailure(event.detail.target, event.detail.elt, event.detail.xhr.status);
  });
  body.addEventListener("htmx:sendError", (event) => {
    showFailure(event.detail.target, event.detail.elt, 0);
  });
}
