// The officer dashboard: warnings received, acknowledgements of our own reports, escalations,
// live over a WebSocket that resumes from the last feed line seen; a map of origin and affected.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("warnings-config").textContent);
  const T = config.text;
  const status = document.getElementById("live-status");
  const lists = {
    incoming: document.getElementById("incoming"),
    outgoing: document.getElementById("outgoing"),
    notices: document.getElementById("notices"),
  };
  const warnings = new Map(); // id -> warning
  const seen = new Set(); // feed line ids already applied
  let audiences = new Set();
  let after = 0;
  let retry = 1000;
  let selected = null;

  const fmt = (iso) => new Date(iso).toLocaleString(config.zh ? "zh-CN" : "en-GB", {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value; else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  };
  const levelLabel = (w) => w.kind === "event"
    ? `${T.grade} ${config.labels.grades[String(w.level)] || w.level}`
    : `${config.labels.levels[String(w.level)] || w.level}${config.zh ? "预警" : " warning"}`;
  const originKey = (w) => `${w.origin_level}:${w.origin_adcode}`;

  function setStatus(state) {
    status.dataset.state = state;
    status.textContent = state === "open" ? T.open : T.closed;
  }

  function toggleEmpty() {
    for (const [name, list] of Object.entries(lists)) {
      const empty = document.querySelector(`[data-empty-for="${name}"]`);
      if (empty) empty.hidden = list.children.length > 0;
    }
  }

  function stateText(w) {
    if (w.status === "cancelled") return T.cancelled;
    if (w.status === "closed") return T.closedStatus;
    if (w.acknowledged_at) return `${T.acked} · ${w.acknowledged_by_name} · ${fmt(w.acknowledged_at)}`;
    return w.escalation_step > 0 ? `${T.pending} · ${T.escalated}` : T.pending;
  }

  function render(w) {
    const incoming = audiences.has(w.recipient_key);
    const outgoing = audiences.has(originKey(w));
    for (const [name, wanted] of [["incoming", incoming], ["outgoing", outgoing && !incoming]]) {
      const list = lists[name];
      let item = list.querySelector(`li[data-warning-id="${w.id}"]`);
      if (!wanted) { if (item) item.remove(); continue; }
      const fresh = el("li", { "data-warning-id": String(w.id), class: `warning level-${w.level}` });
      fresh.dataset.ackState = w.acknowledged_at ? "acknowledged" : (w.status === "active" ? "pending" : w.status);
      const head = el("div", { class: "row" },
        el("span", { class: `badge level-${w.level}` }, levelLabel(w)),
        el("strong", { class: "headline" }, w.headline));
      const where = name === "incoming"
        ? `${T.from}：${w.origin_name}` + (w.eta_hours != null ? ` · ${T.eta} ${w.eta_hours.toFixed(1)} ${T.hours}` : "")
        : `${T.to}：${w.recipient_name}`;
      const state = el("p", { class: "ack-state" }, stateText(w));
      fresh.append(head, el("p", { class: "muted" }, where), state);
      if (name === "incoming" && w.status === "active" && !w.acknowledged_at) {
        fresh.append(el("p", { class: "muted" }, `${T.due} ${fmt(w.due_at)}`));
        const button = el("button", { type: "button", class: "button primary ack-button" }, T.ack);
        button.addEventListener("click", () => acknowledge(w.id, button));
        fresh.append(button);
      }
      const link = el("a", { href: `/risk/events/${w.event_id}/responsibility` }, T.responsibility);
      fresh.append(el("p", {}, link));
      fresh.addEventListener("click", (e) => { if (e.target.tagName !== "BUTTON" && e.target.tagName !== "A") showMap(w); });
      if (item) item.replaceWith(fresh); else list.prepend(fresh);
    }
    if (!selected || selected.root_id === w.root_id) showMap(w);
    toggleEmpty();
  }

  function notice(text, line) {
    const item = el("li", { class: `notice ${line.kind}`, "data-feed-id": String(line.id) },
      el("span", { class: "muted" }, fmt(line.created_at) + " "), text);
    lists.notices.prepend(item);
    toggleEmpty();
  }

  function apply(line) {
    if (seen.has(line.id)) return;
    seen.add(line.id);
    after = Math.max(after, line.id);
    const p = line.payload || {};
    if (["warning", "updated", "acknowledged", "cancelled", "escalated"].includes(line.kind) && p.id) {
      const known = warnings.get(p.id);
      if (!known || new Date(p.updated_at || 0) >= new Date(known.updated_at || 0) || line.kind !== "warning") {
        warnings.set(p.id, p);
        render(p);
      }
      if (line.kind === "escalated" && !audiences.has(p.recipient_key)) {
        notice(`${T.escalatedTo} ${p.recipient_name}：${p.headline}`, line);
      }
    } else if (line.kind === "take_over") {
      notice(`${T.takeOver}（${p.party_name}）：${p.headline}`, line);
    } else if (line.kind === "reminder" || line.kind === "task") {
      const task = p.task || {};
      notice(`${line.kind === "reminder" ? T.reminder : T.task}：${task.title}`, line);
    }
  }

  async function acknowledge(id, button) {
    button.disabled = true;
    const response = await fetch(`/api/risk/warnings/${id}/acknowledge`, {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": config.csrf },
    });
    const answer = await response.json();
    if (response.ok) { warnings.set(answer.id, answer); render(answer); return; }
    const error = answer.error || {};
    if (error.code === "already_acknowledged" || error.code === "warning_not_active") {
      const refreshed = await fetch("/api/risk/dashboard", { credentials: "same-origin" });
      if (refreshed.ok) (await refreshed.json()).warnings.forEach((w) => { warnings.set(w.id, w); render(w); });
    }
    button.disabled = false;
    button.title = error.message || "";
  }

  async function load() {
    const response = await fetch("/api/risk/dashboard", { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    audiences = new Set(data.audiences);
    after = Math.max(after, data.head);
    data.warnings.slice().reverse().forEach((w) => { warnings.set(w.id, w); render(w); });
    toggleEmpty();
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/risk/dashboard?after=${after}`, ["regio"]);
    socket.addEventListener("open", () => { retry = 1000; });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "hello") { audiences = new Set(message.audiences); setStatus("open"); return; }
      if (message.type === "feed") apply(message);
    });
    socket.addEventListener("close", () => {
      setStatus("closed");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    });
  }

  // --- the map: prefecture outlines around the event, origin and affected highlighted ----------
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.getElementById("warnings-map");
  const K = Math.cos(30 * Math.PI / 180);
  const bboxCache = new Map();

  async function bboxOf(adcode) {
    if (bboxCache.has(adcode)) return bboxCache.get(adcode);
    const response = await fetch(`/api/risk/jurisdictions/${adcode}`, { credentials: "same-origin" });
    const box = response.ok ? (await response.json()).jurisdictions[0].bbox : null;
    bboxCache.set(adcode, box);
    return box;
  }

  function ring(coords) {
    return coords.map(([lon, lat], i) => `${i ? "L" : "M"}${(lon * K).toFixed(4)} ${(-lat).toFixed(4)}`).join("") + "Z";
  }

  async function showMap(w) {
    selected = w;
    const related = [...warnings.values()].filter((x) => x.root_id === w.root_id && x.recipient_kind === "jurisdiction");
    const affected = new Set(related.map((x) => `${x.recipient_level}:${x.recipient_code}`));
    const origin = originKey(w);
    const codes = [w.origin_adcode, ...related.map((x) => x.recipient_code)];
    const boxes = (await Promise.all(codes.map(bboxOf))).filter(Boolean);
    if (!boxes.length || selected !== w) return;
    const west = Math.min(...boxes.map((b) => b[0])) - 0.3, south = Math.min(...boxes.map((b) => b[1])) - 0.3;
    const east = Math.max(...boxes.map((b) => b[2])) + 0.3, north = Math.max(...boxes.map((b) => b[3])) + 0.3;
    const query = new URLSearchParams({ level: w.origin_level === "county" ? "county" : "prefecture", detail: "coarse", bbox: [west, south, east, north].map((v) => v.toFixed(3)).join(",") });
    const response = await fetch(`/api/risk/map/layer?${query}`, { credentials: "same-origin" });
    if (!response.ok || selected !== w) return;
    const layer = await response.json();
    svg.replaceChildren();
    svg.setAttribute("viewBox", `${(west * K).toFixed(3)} ${(-north).toFixed(3)} ${((east - west) * K).toFixed(3)} ${(north - south).toFixed(3)}`);
    for (const feature of layer.features) {
      const key = `${feature.properties.level}:${feature.properties.adcode}`;
      const g = feature.geometry;
      const polygons = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
      const path = document.createElementNS(svgNS, "path");
      path.setAttribute("d", polygons.map((p) => p.map(ring).join("")).join(""));
      path.setAttribute("class", "j" + (key === origin ? " origin" : affected.has(key) ? " affected" : ""));
      path.dataset.name = feature.properties.name;
      const title = document.createElementNS(svgNS, "title");
      title.textContent = feature.properties.name;
      path.append(title);
      svg.append(path);
    }
    document.getElementById("map-caption").textContent = `${w.origin_name} → ${related.map((x) => x.recipient_name).join("、")}`;
  }

  load().then(connect);
})();
