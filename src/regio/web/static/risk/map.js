// The risk map: China's jurisdictions drawn as SVG from Regio's own API (no outside tiles),
// a hazard drawn by clicking or pasted as GeoJSON / CAP polygon, and the matched jurisdictions highlighted.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("riskmap-config").textContent);
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.getElementById("riskmap");
  const status = document.getElementById("map-status");
  const K = Math.cos(32 * Math.PI / 180); // one east-west squash for all of China keeps shapes honest

  const world = document.createElementNS(svgNS, "g");
  const layers = {};
  for (const name of ["province", "prefecture", "county", "hazard"]) {
    layers[name] = document.createElementNS(svgNS, "g");
    world.appendChild(layers[name]);
  }
  const labels = document.createElementNS(svgNS, "g");
  svg.appendChild(world);
  svg.appendChild(labels);

  const drawn = {}; // "level:adcode:detail" -> path
  const features = {}; // "level:adcode" -> feature properties
  const view = { x: 0, y: 0, scale: 10 }; // screen = (map - view) * scale
  let hits = new Set();
  let drawing = false;
  let vertices = [];
  let hazardShape = null;

  const project = (lon, lat) => [lon * K, -lat];
  const unproject = (x, y) => [x / K, -y];

  function size() {
    const box = svg.getBoundingClientRect();
    return [box.width || 600, box.height || 400];
  }

  function ringPath(ring) {
    let d = "";
    ring.forEach(([lon, lat], i) => {
      const [x, y] = project(lon, lat);
      d += (i ? "L" : "M") + x.toFixed(4) + " " + y.toFixed(4);
    });
    return d + "Z";
  }

  function geometryPath(geometry) {
    if (geometry.type === "Polygon") return geometry.coordinates.map(ringPath).join("");
    if (geometry.type === "MultiPolygon") return geometry.coordinates.map((p) => p.map(ringPath).join("")).join("");
    return "";
  }

  function apply() {
    world.setAttribute("transform", `scale(${view.scale}) translate(${-view.x} ${-view.y})`);
    placeLabels();
  }

  function visibleBbox() {
    const [w, h] = size();
    const [west, north] = unproject(view.x, view.y);
    const [east, south] = unproject(view.x + w / view.scale, view.y + h / view.scale);
    return [west, south, east, north].map((v) => v.toFixed(3)).join(",");
  }

  function fit(west, south, east, north) {
    const [w, h] = size();
    const [x0, y0] = project(west, north);
    const [x1, y1] = project(east, south);
    view.scale = Math.min(w / (x1 - x0), h / (y1 - y0)) * 0.92;
    view.x = (x0 + x1) / 2 - w / 2 / view.scale;
    view.y = (y0 + y1) / 2 - h / 2 / view.scale;
    apply();
  }

  async function loadLayer(level, detail, bbox) {
    const query = new URLSearchParams({ level, detail });
    if (bbox) query.set("bbox", bbox);
    const response = await fetch("/api/risk/map/layer?" + query, { credentials: "same-origin" });
    if (!response.ok) return [];
    const collection = await response.json();
    for (const feature of collection.features) {
      const p = feature.properties;
      const key = `${p.level}:${p.adcode}`;
      features[key] = p;
      const old = drawn[key];
      if (old && (old.dataset.detail === "fine" || detail === "coarse")) continue;
      const path = old || document.createElementNS(svgNS, "path");
      path.setAttribute("d", geometryPath(feature.geometry));
      path.setAttribute("class", `j ${p.level}` + (hits.has(key) ? " hit" : ""));
      path.dataset.adcode = p.adcode;
      path.dataset.name = p.name;
      path.dataset.level = p.level;
      path.dataset.detail = detail;
      if (!old) {
        const title = document.createElementNS(svgNS, "title");
        title.textContent = p.name;
        path.appendChild(title);
        layers[p.level].appendChild(path);
        drawn[key] = path;
      }
    }
    return collection.features;
  }

  // Finer detail once zoomed in: prefectures below about 12 degrees across, counties below about 3.
  let detailTimer = null;
  function refreshDetail() {
    clearTimeout(detailTimer);
    detailTimer = setTimeout(async () => {
      const [w] = size();
      const span = w / view.scale / K;
      const bbox = visibleBbox();
      if (span < 12) await loadLayer("prefecture", span < 4 ? "fine" : "coarse", bbox);
      if (span < 3) await loadLayer("county", "fine", bbox);
      placeLabels();
    }, 250);
  }

  function placeLabels() {
    labels.replaceChildren();
    for (const key of hits) {
      const p = features[key];
      if (!p) continue;
      const [x, y] = project(p.label[0], p.label[1]);
      const text = document.createElementNS(svgNS, "text");
      text.setAttribute("class", "label");
      text.setAttribute("x", ((x - view.x) * view.scale).toFixed(1));
      text.setAttribute("y", ((y - view.y) * view.scale).toFixed(1));
      text.setAttribute("text-anchor", "middle");
      text.textContent = p.name;
      labels.appendChild(text);
    }
  }

  // --- pan and zoom ---------------------------------------------------------------------------
  function zoomAt(factor, sx, sy) {
    const mx = view.x + sx / view.scale;
    const my = view.y + sy / view.scale;
    view.scale *= factor;
    view.x = mx - sx / view.scale;
    view.y = my - sy / view.scale;
    apply();
    refreshDetail();
  }
  svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = svg.getBoundingClientRect();
    zoomAt(event.deltaY < 0 ? 1.25 : 0.8, event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });
  document.getElementById("zoom-in").addEventListener("click", () => { const [w, h] = size(); zoomAt(1.5, w / 2, h / 2); });
  document.getElementById("zoom-out").addEventListener("click", () => { const [w, h] = size(); zoomAt(1 / 1.5, w / 2, h / 2); });

  let drag = null;
  svg.addEventListener("pointerdown", (event) => {
    drag = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y, moved: false };
  });
  svg.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const dx = event.clientX - drag.x;
    const dy = event.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
    if (drag.moved) {
      view.x = drag.vx - dx / view.scale;
      view.y = drag.vy - dy / view.scale;
      apply();
    }
  });
  svg.addEventListener("pointerup", (event) => {
    const wasClick = drag && !drag.moved;
    if (drag && drag.moved) refreshDetail();
    drag = null;
    if (wasClick && drawing) {
      const box = svg.getBoundingClientRect();
      const [lon, lat] = unproject(view.x + (event.clientX - box.left) / view.scale, view.y + (event.clientY - box.top) / view.scale);
      vertices.push([+lon.toFixed(5), +lat.toFixed(5)]);
      showHazard(vertices.length > 2 ? { type: "Polygon", coordinates: [[...vertices, vertices[0]]] } : null, vertices);
    }
  });

  // --- the hazard -------------------------------------------------------------------------------
  function showHazard(geometry, points) {
    layers.hazard.replaceChildren();
    if (geometry && geometry.type !== "Point") {
      const path = document.createElementNS(svgNS, "path");
      path.setAttribute("class", "hazard");
      path.setAttribute("d", geometryPath(geometry));
      layers.hazard.appendChild(path);
    }
    const dots = points || (geometry && geometry.type === "Point" ? [geometry.coordinates] : []);
    for (const [lon, lat] of dots) {
      const [x, y] = project(lon, lat);
      const dot = document.createElementNS(svgNS, "circle");
      dot.setAttribute("class", "vertex");
      dot.setAttribute("cx", x);
      dot.setAttribute("cy", y);
      dot.setAttribute("r", 4 / view.scale);
      layers.hazard.appendChild(dot);
    }
  }

  const toggle = document.getElementById("draw-toggle");
  toggle.addEventListener("click", () => {
    drawing = !drawing;
    svg.classList.toggle("drawing", drawing);
    toggle.textContent = drawing ? config.done : config.draw;
    status.textContent = drawing ? config.drawing : "";
    if (drawing) { vertices = []; return; }
    if (vertices.length === 1) hazardShape = { type: "Point", coordinates: vertices[0] };
    else if (vertices.length > 2) hazardShape = { type: "Polygon", coordinates: [[...vertices, vertices[0]]] };
    if (hazardShape) document.getElementById("hazard-text").value = JSON.stringify(hazardShape);
  });
  document.getElementById("draw-clear").addEventListener("click", () => {
    vertices = [];
    hazardShape = null;
    layers.hazard.replaceChildren();
    document.getElementById("hazard-text").value = "";
    setHits([]);
    document.getElementById("matches").replaceChildren();
  });

  function hazardFromText(text) {
    const trimmed = text.trim();
    if (trimmed.startsWith("{")) {
      const geometry = JSON.parse(trimmed);
      return { body: { geometry }, shape: geometry.type === "Feature" ? geometry.geometry : geometry };
    }
    const ring = trimmed.split(/\s+/).map((pair) => pair.split(",").map(Number)).map(([lat, lon]) => [lon, lat]);
    return { body: { cap_polygon: trimmed }, shape: { type: "Polygon", coordinates: [ring] } };
  }

  function setHits(keys) {
    for (const key of hits) if (drawn[key]) drawn[key].classList.remove("hit");
    hits = new Set(keys);
    for (const key of hits) if (drawn[key]) drawn[key].classList.add("hit");
    placeLabels();
  }

  document.getElementById("hazard-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("match-error");
    const list = document.getElementById("matches");
    error.hidden = true;
    list.replaceChildren();
    let hazard;
    try {
      hazard = hazardFromText(document.getElementById("hazard-text").value);
    } catch (problem) {
      error.textContent = String(problem);
      error.hidden = false;
      return;
    }
    showHazard(hazard.shape);
    const level = document.getElementById("hazard-level").value;
    const buffer = parseFloat(document.getElementById("hazard-buffer").value) || 0;
    status.textContent = config.loading;
    const response = await fetch("/api/risk/match", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": config.csrf },
      body: JSON.stringify({ ...hazard.body, level, buffer_km: buffer }),
    });
    const answer = await response.json();
    status.textContent = "";
    if (!response.ok) {
      const e = answer.error || {};
      error.textContent = e.message || response.statusText;
      error.hidden = false;
      setHits([]);
      return;
    }
    const found = answer.jurisdictions;
    // make sure the matched jurisdictions are drawn at their level before highlighting them
    if (found.length && level !== "province") {
      await loadLayer(level, "fine", boundsOf(hazard.shape, buffer));
    }
    setHits(found.map((j) => `${j.level}:${j.adcode}`));
    if (!found.length) {
      const li = document.createElement("li");
      li.textContent = config.none;
      list.appendChild(li);
    }
    for (const j of found) {
      const li = document.createElement("li");
      li.dataset.adcode = j.adcode;
      li.textContent = j.name + (j.distance_km > 0 ? ` · ${j.distance_km} ${config.km}` : "");
      list.appendChild(li);
    }
  });

  function boundsOf(shape, bufferKm) {
    const points = [];
    const walk = (c) => (typeof c[0] === "number" ? points.push(c) : c.forEach(walk));
    walk(shape.coordinates);
    const pad = (bufferKm || 0) / 100 + 0.05;
    const lons = points.map((p) => p[0]);
    const lats = points.map((p) => p[1]);
    return [Math.min(...lons) - pad, Math.min(...lats) - pad, Math.max(...lons) + pad, Math.max(...lats) + pad]
      .map((v) => Math.max(-180, Math.min(180, v)).toFixed(3)).join(",");
  }

  // --- first view: provinces, coarse ----------------------------------------------------------
  (async () => {
    status.textContent = config.loading;
    const provinces = await loadLayer("province", "coarse");
    status.textContent = "";
    let west = 180, south = 90, east = -180, north = -90;
    const walk = (c) => {
      if (typeof c[0] === "number") {
        west = Math.min(west, c[0]); east = Math.max(east, c[0]);
        south = Math.min(south, c[1]); north = Math.max(north, c[1]);
      } else c.forEach(walk);
    };
    provinces.forEach((f) => walk(f.geometry.coordinates));
    if (provinces.length) fit(west, south, east, north); else fit(73, 18, 135, 54);
    refreshDetail();
  })();
})();
