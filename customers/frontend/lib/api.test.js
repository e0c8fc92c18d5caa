// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";

import { api, ApiError, failureMessage } from "./api.js";

function answering(status, text, contentType = "application/json") {
  return vi.fn(async () => new Response(text, { status, headers: { "Content-Type": contentType } }));
}

async function refusal(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

describe("api", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("return the JSON of a success, null for an empty one", async () => {
    vi.stubGlobal("fetch", answering(200, '{"id": 7}'));
    expect(await api("segments/7/")).toEqual({ id: 7 });
    vi.stubGlobal("fetch", answering(204, null));
    expect(await api("segments/7/", { method: "DELETE" })).toBeNull();
  });

  it("carry the API's own error body", async () => {
    const body = { code: "invalid", message: "Invalid input: name.",
      errors: [{ field: "name", message: "Required" }] };
    vi.stubGlobal("fetch", answering(400, JSON.stringify(body)));

    const error = await refusal(api("segments/", { method: "POST", body: {} }));

    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(400);
    expect(error.message).toBe("Invalid input: name.");
    expect(error.fields).toEqual({ name: "Required" });
  });

  it("say what happened when a proxy or a failing server answers a page", async () => {
    vi.stubGlobal("fetch", answering(502, "<html><body>Bad Gateway</body></html>", "text/html"));

    const error = await refusal(api("campaigns/1/", { method: "PATCH", body: {} }));

    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(502);
    expect(error.message).toContain("HTTP 502");
    expect(error.message).not.toContain("JSON");
  });

  it("say the server could not be reached when no answer came", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => { throw new TypeError("Failed to fetch"); }));

    const error = await refusal(api("segments/preview/", { method: "POST", body: {} }));

    expect(error.status).toBe(0);
    expect(error.message).toBe(failureMessage(0));
  });

  it("let an aborted request stay an abort", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => {
      throw new DOMException("The operation was aborted.", "AbortError");
    }));

    const error = await refusal(api("segments/preview/", { method: "POST", body: {} }));

    expect(error).not.toBeInstanceOf(ApiError);
    expect(error.name).toBe("AbortError");
  });

  it("name the status, and read a 403 as an expired page or a missing right", () => {
    expect(failureMessage(500)).toContain("HTTP 500");
    expect(failureMessage(403)).toContain("expired");
    expect(failureMessage(0)).toContain("could not be reached");
  });
});
