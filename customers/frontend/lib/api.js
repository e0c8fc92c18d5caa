// The operator API as the islands call it: same-origin session, Django's CSRF token, the
// page's language, JSON in and out. Errors carry the API's {code, message, errors} body, or
// a message of our own when the answer is not the API's.

import { gettext, interpolate } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }

  // {field: message} from the API's errors list, e.g. {"graph.nodes[w].config": "..."}.
  get fields() {
    return Object.fromEntries((this.body.errors || []).map((e) => [e.field, e.message]));
  }
}

export function csrfToken() {
  const cookie = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  return document.querySelector("meta[name=csrf-token]")?.content || "";
}

// What to show when the server gave no answer of the API's shape: none at all (status 0), or a
// page of a proxy or of the server in trouble instead of JSON.
export function failureMessage(status) {
  if (status === 0) {
    return gettext("The server could not be reached. Check the connection and try again.");
  }
  if (status === 403) {
    return gettext(
      "Refused: this page has expired (reload it and try again), or your account may not do this.",
    );
  }
  return interpolate(
    gettext("The server could not answer this (HTTP %(status)s). Reload the page and try again."),
    { status },
  );
}

function parsed(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// The answer's status and text; a request that got none is an ApiError of status 0 (unless it
// was aborted: a newer request took over).
async function send(url, init) {
  try {
    const response = await fetch(url, init);
    return { status: response.status, ok: response.ok, text: await response.text() };
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError(0, { message: failureMessage(0) });
  }
}

export async function api(path, { method = "GET", body, signal, headers = {} } = {}) {
  const response = await send(`/api/v1/${path}`, {
    method,
    signal,
    credentials: "same-origin",
    headers: {
      Accept: "application/json",
      "Accept-Language": document.documentElement.lang || "en",
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...(method === "GET" ? {} : { "X-CSRFToken": csrfToken() }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.text ? parsed(response.text) : null;
  if (data === undefined || (!response.ok && !data?.message)) {
    throw new ApiError(response.status, { ...data, message: failureMessage(response.status) });
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// All pages of a paginated list ({count, next, results}), for pickers of modest size.
export async function apiAll(path) {
  const results = [];
  let page = 1;
  for (;;) {
    const separator = path.includes("?") ? "&" : "?";
    const data = await api(`${path}${separator}page=${page}&page_size=1000`);
    results.push(...data.results);
    if (!data.next) return results;
    page += 1;
  }
}
