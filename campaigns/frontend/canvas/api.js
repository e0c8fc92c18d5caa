// What the canvas loads from the operator API before it can draw: the palette, the campaign
// and the rows its pickers offer.
import { useEffect, useState } from "react";

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

// The segment rule registry, for conditions built with the segment builder's parts: asked
// for once per page, when the first condition node is opened.
let ruleFields = null;

/** The registry; null while it loads, false when it could not. */
export function useRuleFields() {
  const [registry, setRegistry] = useState(null);
  useEffect(() => {
    let live = true;
    ruleFields ??= api("segment-fields/");
    ruleFields.then((found) => live && setRegistry(found)).catch(() => {
      ruleFields = null; // asked again next time
      if (live) setRegistry(false);
    });
    return () => { live = false; };
  }, []);
  return registry;
}
