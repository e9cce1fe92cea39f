// Draw a message's target shape on a map (templates/messages/_target_map.html).
//
// Progressive enhancement: without JavaScript the map stays hidden and the shape is typed
// into the Shape box as GeoJSON. With it, "Draw area" and "Draw circle" write the shape
// into that box in the form core/shapes.py accepts:
//   {"type": "Polygon", "coordinates": [[[lon, lat], ..., [lon, lat]]]}
//   {"type": "Circle", "center": [lon, lat], "radius_m": metres}
// and a shape already in the box (a form shown again after an error) is drawn on the map.
// Leaflet (window.L) comes from the xstatic-leaflet package, loaded before this module.

const MAX_RADIUS_M = 50000;
// A click this close (in pixels) to an area's first corner closes the area.
const CLOSE_PX = 12;
const SHAPE_STYLE = { color: "#1d70b8", weight: 3, fillOpacity: 0.15, interactive: false };
const SKETCH_STYLE = { color: "#d4351c", weight: 2, dashArray: "6 4", fill: false, interactive: false };
const POINT_STYLE = {
  radius: 3, color: "#0b0c0c", weight: 1, fillColor: "#505a5f", fillOpacity: 0.9,
  interactive: false,
};
// Where the map starts before it knows anything better: Great Britain.
const START = { center: [54.0, -2.5], zoom: 5 };

const round6 = (n) => Math.round(n * 1e6) / 1e6;

/** The HTML-escaped form of ``text`` (Leaflet shows attributions as HTML). */
function escapeHtml(text) {
  const div = document.createElement("div");
  div.textContent = text;
  return div.innerHTML;
}

/** A Leaflet layer for a shape in the GeoJSON our forms use, or null if it is not one. */
export function shapeLayer(L, data) {
  if (!data || typeof data !== "object") return null;
  if (data.type === "Circle") {
    const c = data.center;
    const r = data.radius_m;
    if (!Array.isArray(c) || c.length !== 2 || !c.every(Number.isFinite)) return null;
    if (!Number.isFinite(r) || r <= 0 || r > MAX_RADIUS_M) return null;
    return L.circle([c[1], c[0]], { ...SHAPE_STYLE, radius: r, className: "cw-target-shape" });
  }
  if (data.type === "Polygon" || data.type === "MultiPolygon") {
    try {
      const layer = L.geoJSON(data, { style: () => ({ ...SHAPE_STYLE, className: "cw-target-shape" }) });
      return layer.getLayers().length ? layer : null;
    } catch {
      return null;
    }
  }
  return null;
}

class TargetMap {
  constructor(root, L) {
    this.L = L;
    this.root = root;
    this.texts = root.dataset;
    this.field = document.getElementById(root.dataset.shapeField);
    this.status = root.querySelector("[data-status]");
    this.radiusGroup = root.querySelector("[data-radius]");
    this.radiusInput = this.radiusGroup.querySelector("input");
    this.buttons = {};
    for (const button of root.querySelectorAll("button[data-action]")) {
      this.buttons[button.dataset.action] = button;
    }
    this.mode = null; // null, "polygon", "circle-centre" or "circle-edge"
    this.corners = [];
    this.centre = null;

    root.hidden = false;
    const element = root.querySelector("[data-map]");
    this.map = L.map(element, { doubleClickZoom: false, zoomSnap: 0.5 });
    element.targetMap = this.map; // for tests and the browser console
    this.map.setView(START.center, START.zoom);
    this.map.attributionControl.setPrefix(false);
    if (root.dataset.tileUrl) {
      L.tileLayer(root.dataset.tileUrl, {
        maxZoom: 19,
        attribution: escapeHtml(root.dataset.tileAttribution || ""),
      }).addTo(this.map);
    }
    this.points = L.featureGroup().addTo(this.map);
    this.shape = L.featureGroup().addTo(this.map);
    this.sketch = L.featureGroup().addTo(this.map);

    this.buttons.polygon.addEventListener("click", () => this.startPolygon());
    this.buttons.circle.addEventListener("click", () => this.startCircle());
    this.buttons.finish.addEventListener("click", () => this.finishPolygon());
    this.buttons.centre.addEventListener("click", () => this.useMiddle());
    this.buttons.radius.addEventListener("click", () => this.useTypedRadius());
    this.buttons.clear.addEventListener("click", () => this.clear());
    this.radiusInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { // not the form's first submit button
        event.preventDefault();
        this.useTypedRadius();
      }
    });
    this.map.on("click", (event) => this.clicked(event));
    this.map.on("mousemove", (event) => this.moved(event));
    this.field.addEventListener("input", () => this.showField(false));

    this.showField(true);
    this.loadPoints(root.dataset.pointsUrl);
  }

  say(text) {
    this.status.textContent = text;
  }

  setMode(mode) {
    this.mode = mode;
    const polygon = mode === "polygon";
    const circle = mode === "circle-centre" || mode === "circle-edge";
    this.buttons.polygon.setAttribute("aria-pressed", String(polygon));
    this.buttons.circle.setAttribute("aria-pressed", String(circle));
    this.buttons.finish.hidden = !polygon;
    this.buttons.centre.hidden = !(polygon || mode === "circle-centre");
    this.radiusGroup.hidden = mode !== "circle-edge";
    const container = this.map.getContainer();
    container.classList.toggle("leaflet-crosshair", mode !== null);
  }

  // -- drawing an area ------------------------------------------------------------------

  startPolygon() {
    this.sketch.clearLayers();
    this.corners = [];
    this.setMode("polygon");
    this.say(this.texts.textPolygon);
  }

  addCorner(latlng) {
    const first = this.corners[0];
    if (first && this.corners.length >= 3) {
      const a = this.map.latLngToContainerPoint(first);
      const b = this.map.latLngToContainerPoint(latlng);
      if (a.distanceTo(b) <= CLOSE_PX) {
        this.finishPolygon();
        return;
      }
    }
    this.corners.push(latlng);
    this.drawSketch();
  }

  drawSketch(pointer) {
    const L = this.L;
    this.sketch.clearLayers();
    const line = pointer ? [...this.corners, pointer] : this.corners;
    if (line.length > 1) L.polyline(line, SKETCH_STYLE).addTo(this.sketch);
    this.corners.forEach((corner, n) => {
      L.circleMarker(corner, {
        ...SKETCH_STYLE, radius: n === 0 ? 7 : 4, fill: true, fillOpacity: 1, dashArray: null,
        fillColor: "#ffffff",
      }).addTo(this.sketch);
    });
  }

  finishPolygon() {
    if (this.corners.length < 3) {
      this.say(this.texts.textPolygonShort);
      return;
    }
    const focusMoves = document.activeElement === this.buttons.finish;
    const ring = this.corners.map((c) => [round6(c.lng), round6(c.lat)]);
    ring.push([...ring[0]]);
    const count = this.corners.length;
    this.write({ type: "Polygon", coordinates: [ring] });
    this.say(this.texts.textPolygonDone.replace("{corners}", count));
    if (focusMoves) this.buttons.polygon.focus(); // Finish is hidden now
  }

  // -- drawing a circle -----------------------------------------------------------------

  startCircle() {
    this.sketch.clearLayers();
    this.centre = null;
    this.radiusInput.value = "";
    this.setMode("circle-centre");
    this.say(this.texts.textCircleCentre);
  }

  setCentre(latlng) {
    this.centre = latlng;
    this.sketch.clearLayers();
    this.L.circleMarker(latlng, { ...SKETCH_STYLE, radius: 4, fill: true, fillOpacity: 1 })
      .addTo(this.sketch);
    this.setMode("circle-edge");
    this.say(this.texts.textCircleEdge);
  }

  useTypedRadius() {
    const text = this.radiusInput.value.trim().replace(/[,\s]/g, "");
    const radius = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!this.centre || !(radius >= 1 && radius <= MAX_RADIUS_M)) {
      this.say(this.texts.textRadiusInvalid);
      this.radiusInput.focus();
      return;
    }
    this.finishCircle(radius);
  }

  finishCircle(metres) {
    const radius = Math.max(1, Math.round(metres));
    if (radius > MAX_RADIUS_M) {
      this.say(this.texts.textRadiusInvalid);
      return;
    }
    const c = this.centre;
    this.write({ type: "Circle", center: [round6(c.lng), round6(c.lat)], radius_m: radius });
    this.say(this.texts.textCircleDone.replace("{radius}", radius));
  }

  /** The keyboard's way to click: the middle of the map (marked by a cross while
   * drawing; arrow keys move the map) becomes a corner, or the circle's centre. */
  useMiddle() {
    const middle = this.map.getCenter();
    if (this.mode === "polygon") {
      this.addCorner(middle);
    } else if (this.mode === "circle-centre") {
      this.setCentre(middle);
      this.radiusInput.focus(); // the button is hidden now
    }
  }

  // -- the map's events -----------------------------------------------------------------

  clicked(event) {
    if (this.mode === "polygon") this.addCorner(event.latlng);
    else if (this.mode === "circle-centre") this.setCentre(event.latlng);
    else if (this.mode === "circle-edge") this.finishCircle(this.map.distance(this.centre, event.latlng));
  }

  moved(event) {
    if (this.mode === "polygon" && this.corners.length) {
      this.drawSketch(event.latlng);
    } else if (this.mode === "circle-edge") {
      const radius = Math.min(this.map.distance(this.centre, event.latlng), MAX_RADIUS_M);
      this.sketch.clearLayers();
      this.L.circle(this.centre, { ...SKETCH_STYLE, radius }).addTo(this.sketch);
    }
  }

  // -- the Shape box --------------------------------------------------------------------

  /** Put ``data`` in the Shape box and on the map, and stop drawing. */
  write(data) {
    this.field.value = JSON.stringify(data);
    this.sketch.clearLayers();
    this.setMode(null);
    this.draw(shapeLayer(this.L, data));
  }

  draw(layer) {
    this.shape.clearLayers();
    if (layer) layer.addTo(this.shape);
  }

  /** Draw the shape typed in the Shape box (when it is one); ``fit`` zooms to it. */
  showField(fit) {
    let data = null;
    try {
      data = this.field.value.trim() ? JSON.parse(this.field.value) : null;
    } catch {
      data = null;
    }
    const layer = shapeLayer(this.L, data);
    this.draw(layer);
    if (layer && fit) {
      this.map.fitBounds(layer.getBounds(), { padding: [30, 30] });
      this.say(this.texts.textShown);
    }
    return Boolean(layer);
  }

  clear() {
    this.field.value = "";
    this.shape.clearLayers();
    this.sketch.clearLayers();
    this.corners = [];
    this.centre = null;
    this.setMode(null);
    this.say(this.texts.textCleared);
  }

  // -- postcode dots --------------------------------------------------------------------

  /** Draw the postcode dots; zoom to them unless there is a shape (or one is being
   * drawn) to look at. */
  async loadPoints(url) {
    const L = this.L;
    let data;
    try {
      const response = await fetch(url, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      data = await response.json();
    } catch {
      this.say(this.texts.textPointsFailed);
      return;
    }
    L.geoJSON(data, {
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, {
        ...POINT_STYLE,
        radius: feature.properties && feature.properties.postcodes ? 4 : 3,
        className: "cw-postcode-point",
      }),
    }).addTo(this.points);
    this.root.dataset.pointsLoaded = String(data.features.length);
    const busy = this.mode !== null || this.shape.getLayers().length > 0;
    if (!busy && data.features.length) {
      this.map.fitBounds(this.points.getBounds(), { padding: [20, 20], maxZoom: 16 });
    }
  }
}

const root = document.getElementById("target-map");
if (root && window.L) {
  root.targetMap = new TargetMap(root, window.L);
}
