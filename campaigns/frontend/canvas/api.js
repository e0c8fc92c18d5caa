// What the canvas loads from the operator API before it can draw: the palette, the campaign
// and the rows its pickers offer.
import { api, apiAll } from "../../../customers/frontend/lib/api.js";

function byId(rows) {
  return Object.fromEntries(rows.map((row) => [row.id, row]));
}

// Webhook endpoints are listed for every role; a failure of one picker leaves it empty
// rather than the whole canvas unusable.
async function rowsOr(path, fallback = []) {
  try {
    return await apiAll(path);
  } catch {
    return fallback;
  }
}

export async function loadCanvas(campaignId) {
  const [palette, campaign, segments, definitions, templates, webhooks] = await Promise.all([
    api("flow-node-types/"),
    api(`campaigns/${campaignId}/`),
    rowsOr("segments/"),
    rowsOr("coupon-definitions/"),
    rowsOr("message-templates/"),
    rowsOr("webhook-endpoints/"),
  ]);
  const pickers = { segments, definitions, templates, webhooks };
  const lookups = Object.fromEntries(Object.entries(pickers).map(([k, rows]) => [k, byId(rows)]));
  return { palette, campaign, pickers, lookups };
}
