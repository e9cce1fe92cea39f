// The insights map: the areas inside the one shown, shaded by the chosen figure.
//
// Progressive enhancement: without JavaScript the map stays hidden and the table beside
// it gives the same numbers. With it, the areas' boundaries come from areas.geojson,
// each shaded by its class (0 lowest to 4 highest); clicking one opens its insights.
// Tiles are drawn under them only when the deployment set MAP_TILE_URL; otherwise the
// boundaries stand alone. Leaflet (window.L) is loaded before this module.

const COLOURS = ["#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];
const UNKNOWN = "#f3f2f1";

/** The HTML-escaped form of ``text`` (Leaflet shows attributions as HTML). */
function escapeHtml(text) {
  const div = document.createElement("div");
  div.textContent = text;
  return div.innerHTML;
}

function style(feature) {
  const shade = feature.properties.class;
  return {
    color: "#0b0c0c", weight: 1,
    fillColor: shade === null || shade === undefined ? UNKNOWN : COLOURS[shade],
    fillOpacity: 0.8,
  };
}

async function start(element) {
  const L = window.L;
  if (!L) return;
  element.hidden = false;
  const map = L.map(element, { scrollWheelZoom: false });
  if (element.dataset.tiles) {
    L.tileLayer(element.dataset.tiles, { attribution: escapeHtml(element.dataset.attribution || "") })
      .addTo(map);
  }
  const response = await fetch(element.dataset.geojson, { credentials: "same-origin" });
  if (!response.ok) return;
  const data = await response.json();
  const layer = L.geoJSON(data, {
    style,
    onEachFeature: (feature, shape) => {
      const { name, value, href } = feature.properties;
      const tip = document.createElement("span");
      tip.textContent = `${name}: ${value === null ? "–" : value}`;
      shape.bindTooltip(tip, { sticky: true });
      shape.on("click", () => { window.location.href = href; });
    },
  }).addTo(map);
  if (layer.getLayers().length) map.fitBounds(layer.getBounds());
  else map.setView([54.0, -2.5], 5);
  element.classList.add("insights-map--ready");
}

const element = document.getElementById("insights-map");
if (element) start(element);
