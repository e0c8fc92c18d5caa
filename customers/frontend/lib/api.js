// The operator API as the islands call it: same-origin session, Django's CSRF token, the
// page's language, JSON in and out. Errors carry the API's {code, message, errors} body.

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

export async function api(path, { method = "GET", body, signal, headers = {} } = {}) {
  const response = await fetch(`/api/v1/${path}`, {
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
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
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
