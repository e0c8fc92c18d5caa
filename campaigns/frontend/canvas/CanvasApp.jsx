// The campaign canvas: palette, React Flow editor, side panel, toolbar (save, check, dry run,
// publish, pause). Everything goes through the operator API, which checks roles again.
import {
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  applyEdgeChanges,
  applyNodeChanges,
  useReactFlow,
} from "@xyflow/react";
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";

import { api } from "../../../customers/frontend/lib/api.js";
import { gettext, interpolate } from "../../../customers/frontend/lib/i18n.js";
import { loadCanvas } from "./api.js";
import { copySelection, pasteClipboard } from "./clipboard.js";
import { CanvasContext } from "./context.js";
import { edgeId, flowToGraph, freshId, graphToFlow, newNode, typesByKey } from "./convert.js";
import FlowNode from "./FlowNode.jsx";
import { canRedo, canUndo } from "./history.js";
import {
  LIVE_STATUSES,
  countsFromSimulation,
  dropBackup,
  readBackup,
  useBackup,
  useHistory,
  useLiveCounts,
} from "./hooks.js";
import { setServerLabels, statusLabel } from "./labels.js";
import { autoLayout } from "./layout.js";
import { createOverlayStore } from "./overlay.js";
import { locateProblems, problemsByNode } from "./problems.js";
import { DRAG_MIME, Palette } from "./Palette.jsx";
import { SidePanel } from "./SidePanel.jsx";

// Props React Flow compares by identity: made once, or a drag frame would push them into its
// store again and redraw the minimap and controls with every move.
const NODE_TYPES = { flow: FlowNode };
const DELETE_KEYS = ["Backspace", "Delete"];
const FIT_VIEW_OPTIONS = { maxZoom: 1 };
const EDGE_OPTIONS = { type: "smoothstep" };
const PRO_OPTIONS = { hideAttribution: true };

function ariaLabels() {
  return {
    "controls.ariaLabel": gettext("Zoom controls"),
    "controls.zoomIn.ariaLabel": gettext("Zoom in"),
    "controls.zoomOut.ariaLabel": gettext("Zoom out"),
    "controls.fitView.ariaLabel": gettext("Fit the campaign in view"),
    "controls.interactive.ariaLabel": gettext("Lock or unlock the canvas"),
    "minimap.ariaLabel": gettext("Mini map"),
    "handle.ariaLabel": gettext("Port"),
    "node.a11yDescription.default": gettext(
      "Press enter or space to select a node. Press delete to remove it and escape to cancel."),
    "node.a11yDescription.keyboardDisabled": gettext(
      "Press enter or space to select a node. You can then use the arrow keys to move it. "
      + "Press delete to remove it and escape to cancel."),
    "edge.a11yDescription.default": gettext(
      "Press enter or space to select a connection, then delete to remove it."),
  };
}


// The items with none of them selected (what is added next is).
function deselected(items) {
  return items.map((item) => (item.selected ? { ...item, selected: false } : item));
}


function isTyping(target) {
  return target instanceof HTMLElement
    && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}


function Editor({ props, loaded }) {
  const { palette, pickers } = loaded;
  const readOnly = !props.canEdit;
  const flow = useReactFlow();
  const types = useMemo(() => typesByKey(palette), [palette]);
  const overlay = useMemo(() => createOverlayStore(), []);
  const ariaLabelConfig = useMemo(() => ariaLabels(), []);
  const context = useMemo(() => ({ types, lookups: loaded.lookups, overlay }),
    [types, loaded.lookups, overlay]);
  const initial = useMemo(() => graphToFlow(loaded.campaign.graph, palette), [loaded, palette]);
  const { history, commit, checkpoint, replace, undo, redo, dirty, setDirty } = useHistory(
    { nodes: initial.nodes, edges: initial.edges });
  const { nodes, edges } = history.present;
  const [campaign, setCampaign] = useState(loaded.campaign);
  const [problems, setProblems] = useState([]);
  const [simulation, setSimulation] = useState(null);
  const [mode, setMode] = useState("live");
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState(false);
  // Fit the stored graph into view once, on opening; never when the first node is dropped.
  const [fitOnOpen] = useState(() => !initial.viewport && initial.nodes.length > 0);
  const wrapper = useRef(null);
  const clipboard = useRef(null);
  const pastes = useRef(0);
  const editingField = useRef(null);

  useLiveCounts(campaign, mode, overlay);
  const [backup, setBackup] = useState(() => (readOnly ? null
    : readBackup(loaded.campaign.id, loaded.campaign.graph)));
  useBackup(campaign.id, nodes, edges, dirty && !readOnly);
  const restoreBackup = useCallback(() => {
    const restored = graphToFlow(backup.graph, palette);
    commit({ nodes: restored.nodes, edges: restored.edges });
    setBackup(null);
    window.requestAnimationFrame(() => flow.fitView({ maxZoom: 1 }));
  }, [backup, commit, flow, palette]);
  const discardBackup = useCallback(() => {
    dropBackup(campaign.id);
    setBackup(null);
  }, [campaign.id]);
  useEffect(() => {
    overlay.setLayer("problems", problemsByNode(problems));
  }, [overlay, problems]);
  useEffect(() => {
    const warn = (event) => { if (dirty && !readOnly) event.preventDefault(); };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty, readOnly]);

  const onNodesChange = useCallback((changes) => {
    replace((present) => ({ ...present, nodes: applyNodeChanges(changes, present.nodes) }));
  }, [replace]);
  const onEdgesChange = useCallback((changes) => {
    replace((present) => ({ ...present, edges: applyEdgeChanges(changes, present.edges) }));
  }, [replace]);
  const onBeforeDelete = useCallback(async () => { checkpoint(); return true; }, [checkpoint]);

  const connect = useCallback((source, port, target) => {
    commit((present) => {
      const others = present.edges.filter((e) => !(e.source === source && e.sourceHandle === port));
      if (!target) return { ...present, edges: others };
      const edge = { id: edgeId(source, port, target), source, target, sourceHandle: port, data: {} };
      return { ...present, edges: [...others, edge] };
    });
  }, [commit]);
  const onConnect = useCallback((c) => connect(c.source, c.sourceHandle, c.target), [connect]);
  const isValidConnection = useCallback((c) => c.source !== c.target, []);

  const addNode = useCallback((kind, position) => {
    commit((present) => {
      const id = freshId(kind, new Set(present.nodes.map((n) => n.id)));
      const node = { ...newNode(types[kind], id, position), selected: true };
      return { nodes: [...deselected(present.nodes), node], edges: deselected(present.edges) };
    });
  }, [commit, types]);

  const onDrop = useCallback((event) => {
    event.preventDefault();
    const kind = event.dataTransfer.getData(DRAG_MIME);
    if (!kind || !types[kind] || readOnly) return;
    addNode(kind, flow.screenToFlowPosition({ x: event.clientX, y: event.clientY }));
  }, [addNode, flow, types, readOnly]);
  const onDragOver = useCallback((event) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
  }, []);
  // Added from the keyboard: near the centre, each a step aside so they do not pile up.
  const added = useRef(0);
  const addAtCentre = useCallback((kind) => {
    const box = wrapper.current.getBoundingClientRect();
    const step = (added.current % 6) * 24;
    added.current += 1;
    addNode(kind, flow.screenToFlowPosition({ x: box.left + box.width / 2 - 110 + step,
      y: box.top + box.height / 2 - 40 + step }));
  }, [addNode, flow]);

  const copy = useCallback(() => {
    clipboard.current = copySelection(nodes, edges);
    pastes.current = 0;
    if (clipboard.current.nodes.length) {
      setNotice(interpolate(gettext("Copied %(n)s nodes."), { n: clipboard.current.nodes.length }));
    }
  }, [nodes, edges]);
  const paste = useCallback(() => {
    if (!clipboard.current?.nodes.length) return;
    pastes.current += 1;
    commit((present) => {
      const pasted = pasteClipboard(clipboard.current, new Set(present.nodes.map((n) => n.id)),
        pastes.current);
      return {
        nodes: [...deselected(present.nodes), ...pasted.nodes],
        edges: [...deselected(present.edges), ...pasted.edges],
      };
    });
  }, [commit]);

  const layout = useCallback(() => {
    commit((present) => ({ ...present, nodes: autoLayout(present.nodes, present.edges) }));
    window.requestAnimationFrame(() => flow.fitView({ duration: 200 }));
  }, [commit, flow]);

  // The shortcuts read the latest handlers from a ref: the listener is added once, not again
  // on every drag frame (copy depends on the nodes, which a drag changes each frame).
  const shortcuts = useRef(null);
  useLayoutEffect(() => {
    shortcuts.current = { copy, paste, undo, redo, readOnly };
  });
  useEffect(() => {
    const onKey = (event) => {
      if (isTyping(event.target) || !(event.ctrlKey || event.metaKey)) return;
      const handlers = shortcuts.current;
      const key = event.key.toLowerCase();
      if (key === "c") { handlers.copy(); return; }
      if (handlers.readOnly) return;
      if (key === "z" && event.shiftKey) handlers.redo();
      else if (key === "z") handlers.undo();
      else if (key === "y") handlers.redo();
      else if (key === "v") handlers.paste();
      else return;
      event.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  // Field edits: the first change to a field is an undo step, the next keystrokes join it.
  const editField = useCallback((field, update) => {
    if (editingField.current === field) replace(update);
    else { editingField.current = field; commit(update); }
    setDirty(true); // also for the keystrokes after a save that join the same step
  }, [commit, replace, setDirty]);
  const setConfig = useCallback((id, config, key) => {
    editField(`${id}:${key}`, (present) => ({ ...present,
      nodes: present.nodes.map((n) => (n.id === id ? { ...n, data: { ...n.data, config } } : n)) }));
    // The server's word on this field is stale once it changed; the next save says again.
    setProblems((located) => (located.some((p) => p.node === id && p.key === key)
      ? located.filter((p) => !(p.node === id && p.key === key)) : located));
  }, [editField]);
  const setLabel = useCallback((id, label) => {
    editField(`${id}:label`, (present) => ({ ...present, nodes: present.nodes.map((n) => {
      if (n.id !== id) return n;
      const data = { ...n.data, label };
      if (label === undefined) delete data.label;
      return { ...n, data };
    }) }));
  }, [editField]);
  const deleteNode = useCallback((id) => {
    commit((present) => ({ nodes: present.nodes.filter((n) => n.id !== id),
      edges: present.edges.filter((e) => e.source !== id && e.target !== id) }));
  }, [commit]);
  const focusNode = useCallback((id) => {
    replace((present) => ({ ...present,
      nodes: present.nodes.map((n) => ((n.id === id) === Boolean(n.selected) ? n
        : { ...n, selected: n.id === id })) }));
    const node = flow.getNode(id);
    if (node) flow.setCenter(node.position.x + 110, node.position.y + 40, { zoom: 1, duration: 200 });
  }, [flow, replace]);

  const graph = useCallback(() => flowToGraph(nodes, edges, flow.getViewport()), [nodes, edges, flow]);

  const showProblems = useCallback((errors, sent) => {
    const located = locateProblems(errors, sent);
    setProblems(located);
    return located;
  }, []);

  const save = useCallback(async () => {
    const sent = graph();
    try {
      // Refused (412) if the campaign changed since this canvas read it: another operator's
      // or tab's save is never silently undone.
      const saved = await api(`campaigns/${campaign.id}/`, { method: "PATCH", body: { graph: sent },
        headers: { "If-Match": `"${campaign.updated_at}"` } });
      setCampaign(saved);
      setProblems([]);
      setDirty(false);
      editingField.current = null;
      dropBackup(campaign.id);
      setNotice(gettext("Draft saved."));
      return true;
    } catch (error) {
      if (error.status === 400) {
        const located = showProblems(error.body.errors || [], sent);
        setNotice(interpolate(gettext("Not saved: %(n)s problems to fix (listed on the right)."),
          { n: located.length }));
      } else if (error.status === 412) {
        setNotice(gettext("Not saved: this campaign was changed elsewhere (another operator or "
          + "tab) since you opened it. Reload to see that version; your unsaved work stays in "
          + "this browser and can be restored."));
      } else {
        setNotice(error.message);
      }
      return false;
    }
  }, [campaign.id, campaign.updated_at, graph, setDirty, showProblems]);

  const run = useCallback((action) => async () => {
    setBusy(true);
    try {
      await action();
    } catch (error) {
      setNotice(error.message || gettext("Something went wrong; try again."));
    } finally {
      setBusy(false);
    }
  }, []);

  const check = useCallback(async () => {
    const sent = graph();
    const result = await api("flow-graphs/check/", { method: "POST", body: { graph: sent } });
    const located = showProblems(result.problems, sent);
    setNotice(result.valid ? gettext("No problems found.")
      : interpolate(gettext("%(n)s problems to fix."), { n: located.length }));
  }, [graph, showProblems]);

  const dryRun = useCallback(async () => {
    if (dirty && !(await save())) return;
    try {
      const result = await api(`campaigns/${campaign.id}/simulate/`, { method: "POST" });
      setSimulation(result);
      setMode("dry");
      overlay.setLayer("counts", countsFromSimulation(result));
      setNotice(interpolate(gettext("Dry run: %(n)s customers would enter."), { n: result.entering }));
    } catch (error) {
      if (error.status === 400) showProblems(error.body.errors || [], graph());
      setNotice(error.message);
    }
  }, [campaign.id, dirty, graph, overlay, save, showProblems]);

  const stateChange = useCallback((operation, done) => async () => {
    if (operation === "publish" && dirty && !(await save())) return;
    try {
      await api(`campaigns/${campaign.id}/${operation}/`, { method: "POST" });
      const fresh = await api(`campaigns/${campaign.id}/`);
      setCampaign(fresh);
      setMode("live");
      setNotice(done);
    } catch (error) {
      if (error.status === 400) showProblems(error.body.errors || [], graph());
      setNotice(error.message);
    }
  }, [campaign.id, dirty, graph, save, showProblems]);

  // Edges as React Flow draws them, with a translated name for screen readers (recomputed
  // when an edge changes, not when a node moves).
  const shownEdges = useMemo(() => edges.map((edge) => ({ ...edge,
    ariaLabel: interpolate(gettext("From %(source)s (%(port)s) to %(target)s"),
      { source: edge.source, port: edge.sourceHandle, target: edge.target }) })), [edges]);
  const selected = useMemo(() => {
    const picked = nodes.filter((n) => n.selected);
    return picked.length === 1 ? picked[0] : null;
  }, [nodes]);
  const actions = useMemo(() => ({ onConfig: setConfig, onLabel: setLabel, onConnect: connect,
    onDelete: deleteNode }), [setConfig, setLabel, connect, deleteNode]);
  const onNodeDragStart = useCallback(() => checkpoint(), [checkpoint]);
  const onFieldBlur = useCallback(() => { editingField.current = null; }, []);

  const canPublish = props.canPublish && campaign.status !== "archived";
  return (
    <CanvasContext.Provider value={context}>
      <div className="canvas-app" data-ready="true" data-readonly={readOnly ? "true" : "false"}>
        <div className="canvas-toolbar" role="toolbar" aria-label={gettext("Canvas actions")}>
          <span className={`pill campaign-${campaign.status}`} data-status={campaign.status}>
            {statusLabel(campaign.status)}</span>
          <span className="muted" data-version>
            {campaign.current_version ? interpolate(gettext("version %(n)s"), { n: campaign.current_version })
              : gettext("never published")}</span>
          {!readOnly && (
            <>
              <button type="button" onClick={undo} disabled={!canUndo(history)}
                      aria-keyshortcuts="Control+Z">{gettext("Undo")}</button>
              <button type="button" onClick={redo} disabled={!canRedo(history)}
                      aria-keyshortcuts="Control+Shift+Z">{gettext("Redo")}</button>
              <button type="button" onClick={layout} disabled={!nodes.length}>{gettext("Auto-layout")}</button>
              <button type="button" onClick={run(check)} disabled={busy || !nodes.length}>{gettext("Check")}</button>
              <button type="button" className="primary" onClick={run(save)} disabled={busy}>
                {gettext("Save draft")}</button>
              <button type="button" onClick={run(dryRun)} disabled={busy || !nodes.length}>{gettext("Dry run")}</button>
            </>
          )}
          {canPublish && (
            <>
              <button type="button" className="publish" disabled={busy || !nodes.length}
                      onClick={run(stateChange("publish", gettext("Published: new entries take this version.")))}>
                {gettext("Publish")}</button>
              {campaign.status === "active" && (
                <button type="button" disabled={busy}
                        onClick={run(stateChange("pause", gettext("Paused.")))}>{gettext("Pause")}</button>)}
              {campaign.status === "paused" && (
                <button type="button" disabled={busy}
                        onClick={run(stateChange("resume", gettext("Resumed.")))}>{gettext("Resume")}</button>)}
            </>
          )}
          {mode === "dry" && LIVE_STATUSES.has(campaign.status) && (
            <button type="button" onClick={() => setMode("live")}>{gettext("Show live counts")}</button>)}
          <span className="canvas-dirty">{dirty && !readOnly ? gettext("Unsaved changes") : ""}</span>
          <span className="canvas-notice" role="status" aria-live="polite">{notice}</span>
        </div>
        {backup && (
          <div className="alert canvas-backup" role="alert">
            {interpolate(gettext("Unsaved work from %(when)s is kept in this browser."),
              { when: new Date(backup.at).toLocaleString(document.documentElement.lang || undefined) })}
            {" "}
            <button type="button" onClick={restoreBackup}>{gettext("Restore it")}</button>
            {" "}
            <button type="button" onClick={discardBackup}>{gettext("Discard it")}</button>
          </div>
        )}
        <div className="canvas-body">
          {!readOnly && <Palette palette={palette} onAdd={addAtCentre} />}
          <div className="canvas-flow" ref={wrapper} onDrop={onDrop} onDragOver={onDragOver}>
            <ReactFlow
              nodes={nodes} edges={shownEdges} nodeTypes={NODE_TYPES}
              onNodesChange={onNodesChange} onEdgesChange={onEdgesChange} onConnect={onConnect}
              onBeforeDelete={onBeforeDelete} onNodeDragStart={onNodeDragStart}
              onSelectionDragStart={onNodeDragStart} isValidConnection={isValidConnection}
              nodesDraggable={!readOnly} nodesConnectable={!readOnly} edgesReconnectable={false}
              deleteKeyCode={readOnly ? null : DELETE_KEYS}
              onlyRenderVisibleElements={nodes.length > 60}
              defaultViewport={initial.viewport || undefined}
              fitView={fitOnOpen} fitViewOptions={FIT_VIEW_OPTIONS}
              minZoom={0.1} ariaLabelConfig={ariaLabelConfig}
              defaultEdgeOptions={EDGE_OPTIONS} proOptions={PRO_OPTIONS}
            >
              <Background gap={20} />
              <Controls showInteractive={false} />
              <MiniMap pannable zoomable ariaLabel={gettext("Mini map")} />
            </ReactFlow>
          </div>
          <SidePanel
            selected={selected} types={types} pickers={pickers} problems={problems}
            readOnly={readOnly} nodes={nodes} edges={edges} simulation={mode === "dry" ? simulation : null}
            onFocusNode={focusNode} onBlur={onFieldBlur} actions={actions}
          />
        </div>
      </div>
    </CanvasContext.Provider>
  );
}

export function CanvasApp(props) {
  setServerLabels(props.labels);
  const [loaded, setLoaded] = useState(null);
  const [error, setError] = useState("");
  useEffect(() => {
    loadCanvas(props.campaignId).then(setLoaded, (e) => setError(e.message));
  }, [props.campaignId]);
  if (error) return <div className="alert error" role="alert">{error}</div>;
  if (!loaded) return <p className="muted">{gettext("Loading the canvas…")}</p>;
  return (
    <ReactFlowProvider>
      <Editor props={props} loaded={loaded} />
    </ReactFlowProvider>
  );
}
