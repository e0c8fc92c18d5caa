// The canvas's state beyond React Flow's: undo history with the unsaved flag, the copy of
// unfinished work kept in the browser, and the live counts of a published campaign.
import { useCallback, useEffect, useReducer, useState } from "react";

import { api } from "../../../customers/frontend/lib/api.js";
import { flowToGraph } from "./convert.js";
import { historyInit, historyReducer } from "./history.js";

const LIVE_POLL_MS = 5000;
export const LIVE_STATUSES = new Set(["active", "paused"]);

export function countsFromSimulation(simulation) {
  return Object.fromEntries(simulation.nodes.map((node) => [node.id, {
    entered: node.entered, ports: node.ports, coupons: node.coupons,
    budget: node.discount_budget, messages: node.messages }]));
}

function countsFromResults(results) {
  return Object.fromEntries(results.nodes.map((node) => [node.id, {
    live: true, entered: node.entered, here: node.at_node, ports: node.ports,
    coupons: node.coupons?.issued, messages: node.messages?.sent }]));
}

// Undoable edits of the canvas, and the "unsaved" flag they raise.
export function useHistory(initial) {
  const [history, dispatch] = useReducer(historyReducer, initial, historyInit);
  const [dirty, setDirty] = useState(false);
  const commit = useCallback((present) => {
    dispatch({ type: "commit", present });
    setDirty(true);
  }, []);
  const checkpoint = useCallback(() => {
    dispatch({ type: "checkpoint" });
    setDirty(true);
  }, []);
  const replace = useCallback((present) => dispatch({ type: "replace", present }), []);
  const undo = useCallback(() => { dispatch({ type: "undo" }); setDirty(true); }, []);
  const redo = useCallback(() => { dispatch({ type: "redo" }); setDirty(true); }, []);
  return { history, commit, checkpoint, replace, undo, redo, dirty, setDirty };
}

// The server refuses a draft that does not validate, so unfinished work is kept in the
// browser until it is saved: offered back when the canvas is opened again.
function backupKey(campaignId) {
  return `retentio:canvas:${campaignId}`;
}

export function readBackup(campaignId, serverGraph) {
  try {
    const backup = JSON.parse(window.localStorage.getItem(backupKey(campaignId)) || "null");
    const server = JSON.stringify({ nodes: serverGraph?.nodes || [], edges: serverGraph?.edges || [] });
    return backup && JSON.stringify(backup.graph) !== server ? backup : null;
  } catch {
    return null;
  }
}

export function useBackup(campaignId, nodes, edges, dirty) {
  useEffect(() => {
    if (!dirty) return undefined;
    const timer = setTimeout(() => {
      try {
        const graph = flowToGraph(nodes, edges);
        window.localStorage.setItem(backupKey(campaignId), JSON.stringify({
          at: new Date().toISOString(), graph: { nodes: graph.nodes, edges: graph.edges } }));
      } catch {
        // storage full or disabled: the unsaved warning still stands
      }
    }, 800);
    return () => clearTimeout(timer);
  }, [campaignId, nodes, edges, dirty]);
}

export function dropBackup(campaignId) {
  try { window.localStorage.removeItem(backupKey(campaignId)); } catch { /* disabled */ }
}

// One request at a time, the next one LIVE_POLL_MS later, or ten times as long as the last
// took: the results of a million journeys take 7-15 s to aggregate (bench/simulate.py), and an
// open canvas should not keep a database core busy for more than a tenth of the time.
export function useLiveCounts(campaign, mode, overlay) {
  useEffect(() => {
    if (mode !== "live" || !LIVE_STATUSES.has(campaign.status)) return undefined;
    let stopped = false;
    let timer = null;
    const poll = async () => {
      const started = performance.now();
      if (document.visibilityState !== "hidden") {
        try {
          const results = await api(`campaigns/${campaign.id}/results/`);
          if (!stopped) overlay.setLayer("counts", countsFromResults(results));
        } catch {
          // the next poll tries again
        }
      }
      if (!stopped) {
        timer = setTimeout(poll, Math.max(LIVE_POLL_MS, 10 * (performance.now() - started)));
      }
    };
    poll();
    return () => { stopped = true; clearTimeout(timer); };
  }, [campaign.id, campaign.status, mode, overlay]);
}
