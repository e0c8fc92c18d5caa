// @vitest-environment jsdom
import { beforeEach, describe, expect, it } from "vitest";

import { handleAnswers, showFailure, swapsProblems } from "./htmx-answers.js";

function answer(body, name, detail) {
  const event = new CustomEvent(name, { detail, bubbles: true });
  (detail.elt || body).dispatchEvent(event);
  return event.detail;
}

describe("htmx answers", () => {
  let form;
  let result;

  beforeEach(() => {
    document.body.innerHTML = `
      <form id="send" data-swap-problems><button>Send</button></form>
      <form id="plain"></form>
      <div id="own" hx-on::response-error="x()"><p role="status">Computing…</p></div>
      <div id="result"><p>before</p></div>`;
    form = document.getElementById("send");
    result = document.getElementById("result");
  });

  it("swap a form's 400 problems only where the element asks for it", () => {
    expect(swapsProblems(form, 400)).toBe(true);
    expect(swapsProblems(form.querySelector("button"), 400)).toBe(true);
    expect(swapsProblems(form, 500)).toBe(false);
    expect(swapsProblems(document.getElementById("plain"), 400)).toBe(false);
  });

  it("show the failure as text where the answer was to go", () => {
    showFailure(result, form, 502);

    const notice = result.querySelector("p.message.error[role=alert]");
    expect(notice.textContent).toContain("HTTP 502");
    expect(result.textContent).not.toContain("before");
  });

  it("leave an element with its own error handler alone", () => {
    const own = document.getElementById("own");
    showFailure(own, own, 404);
    expect(own.textContent.trim()).toBe("Computing…");
  });

  it("turn a problems answer into a swap and a server error into a notice", () => {
    handleAnswers(document.body);

    const problems = answer(document.body, "htmx:beforeSwap",
      { elt: result, requestConfig: { elt: form }, xhr: { status: 400 }, shouldSwap: false,
        isError: true });
    expect(problems).toMatchObject({ shouldSwap: true, isError: false });

    const failure = answer(document.body, "htmx:beforeSwap",
      { elt: result, requestConfig: { elt: document.getElementById("plain") },
        xhr: { status: 400 }, shouldSwap: false, isError: true });
    expect(failure).toMatchObject({ shouldSwap: false, isError: true });

    answer(document.body, "htmx:responseError", { elt: form, target: result, xhr: { status: 500 } });
    expect(result.textContent).toContain("HTTP 500");

    answer(document.body, "htmx:sendError", { elt: form, target: result, xhr: { status: 0 } });
    expect(result.textContent).toContain("could not be reached");
  });
});
