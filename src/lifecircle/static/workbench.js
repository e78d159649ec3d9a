/* The planning workbench page of `lifecircle serve` (served as a file: the page has no inline
   script). Its settings come from the JSON block #lc-config, its data from the server's API:
   the layers once (GET /api/layers), then one POST /api/evaluate per edit with the whole edit
   list. Layers are built once and restyled by id. Every name from the data is shown with
   textContent (or a DOM node handed to Leaflet), never parsed as HTML. */
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("lc-config").textContent);
  var L_ = cfg.labels;
  var CLASSES = {};
  cfg.classes.forEach(function (c) { CLASSES[c.key] = c; });
  var CATS = {};
  cfg.categories.forEach(function (c) { CATS[c.category] = c; });

  var state = {
    cat: null,
    edits: { add: [], remove: [] },
    history: [],
    current: null, // the last answer of /api/evaluate
    index: {}, // category -> community_id -> row at the category's threshold
    seq: 0,
    evaluated: 0,
    clickedAt: null,
  };
  var map, commLayer, legendBody, legendTitle;
  var comms = new Map(); // community_id -> {layer, props}
  var baseFac = new Map(); // facility_id -> {marker, props, lon, lat}
  var baseGroups = {}; // category -> L.layerGroup of baseline markers
  var addedGroup, sitesGroup;
  var baseline = { data: null, sa: null, gaps: null, saOn: false, gapsOn: false, tiers: null };
  var ui = {};

  // ---- small helpers --------------------------------------------------------------------------

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(values, k) ? String(values[k]) : m;
    });
  }
  function pct(x) {
    return x === null || x === undefined || !isFinite(x) ? "–" : (100 * x).toFixed(1) + "%";
  }
  function num(x) {
    return Math.round(x).toLocaleString(cfg.lang === "zh" ? "zh-CN" : "en-US");
  }
  function classOf(share) {
    var t = cfg.target;
    if (share === null || share === undefined || !isFinite(share)) return "none";
    if (share < t - 0.15) return "well_below";
    if (share < t) return "below";
    if (share >= t + (1 - t) / 2) return "well_above";
    return "meets";
  }
  function catName(c) {
    if (c === cfg.all.category) return cfg.all.name;
    return CATS[c] ? CATS[c].name : c;
  }
  function apiEdits() {
    return {
      add: state.edits.add.map(function (a) {
        return { category: a.category, lon: a.lon, lat: a.lat, name: a.name };
      }),
      remove: state.edits.remove.slice(),
    };
  }
  function errorText(data, status) {
    if (data && data.error && data.error.message) return data.error.message;
    return "HTTP " + status;
  }
  function post(path, body, kind) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": kind || "application/json" },
      body: kind ? body : JSON.stringify(body),
    }).then(function (r) {
      if (r.ok) return r;
      return r.json().then(
        function (d) { throw new Error(errorText(d, r.status)); },
        function () { throw new Error("HTTP " + r.status); }
      );
    });
  }
  function status(text, bad) {
    ui.status.textContent = text || "";
    ui.status.classList.toggle("lc-bad", !!bad);
  }

  // ---- the map ----------------------------------------------------------------------------------

  function buildMap(layers) {
    map = L.map("lc-map", { preferCanvas: true, zoomSnap: 0.25 });
    if (cfg.tiles) {
      L.tileLayer(cfg.tiles.url, {
        attribution: cfg.tiles.attribution, maxZoom: cfg.tiles.max_zoom,
      }).addTo(map);
    } else {
      map.attributionControl.addAttribution("Data © OpenStreetMap contributors");
    }
    L.control.scale({ imperial: false, maxWidth: 160 }).addTo(map);
    commLayer = L.geoJSON(layers.communities, {
      style: function () {
        return { color: "#333", weight: 1, fillOpacity: 0.55, fillColor: CLASSES.none.colour };
      },
      onEachFeature: function (f, layer) {
        comms.set(String(f.properties.community_id), { layer: layer, props: f.properties });
        layer.bindTooltip(function () { return commTooltip(f.properties); }, { sticky: true });
      },
    }).addTo(map);
    addedGroup = L.layerGroup().addTo(map);
    sitesGroup = L.layerGroup().addTo(map);
    layers.facilities.features.forEach(function (f) {
      var p = f.properties;
      var c = f.geometry.coordinates;
      var entry = { props: p, lon: c[0], lat: c[1] };
      entry.marker = facilityMarker(c[1], c[0], "lc-fac", function () { return entry; });
      baseFac.set(p.facility_id, entry);
      (baseGroups[p.category] = baseGroups[p.category] || L.layerGroup()).addLayer(entry.marker);
    });
    var legend = buildLegend();
    buildBaselineLayers(layers);
    var b = commLayer.getBounds();
    // fitted right of the legend (bottom left) and left of the panel button (top right)
    var left = legend.getContainer().offsetWidth + 20;
    if (b.isValid()) map.fitBounds(b, { paddingTopLeft: [left, 10], paddingBottomRight: [54, 10] });
    else map.setView([0, 0], 2);
    map.on("click", onMapClick);
  }

  function commTooltip(p) {
    var box = el("div", "lc-tip");
    box.appendChild(el("b", null, p.community_name));
    box.appendChild(el("div", "lc-muted", p.community_id));
    var row = state.index[state.cat] && state.index[state.cat][String(p.community_id)];
    box.appendChild(el("div", null, L_.residents + ": " + num(p.residents)));
    if (row) box.appendChild(el("div", null, catName(state.cat) + ": " + pct(row.coverage)));
    return box;
  }

  function facilityMarker(lat, lon, cls, entryOf) {
    var m = L.marker([lat, lon], {
      draggable: true, autoPan: true,
      icon: L.divIcon({ className: cls, iconSize: [16, 16] }),
    });
    m.bindPopup(function () { return facilityPopup(entryOf()); });
    m.on("dragend", function () { onDragEnd(entryOf(), m.getLatLng()); });
    return m;
  }

  function facilityPopup(entry) {
    var box = el("div", "lc-pop");
    var added = entry.added !== undefined;
    var name = added ? entry.added.name : entry.props.name;
    var cat = added ? entry.added.category : entry.props.category;
    box.appendChild(el("b", null, name || "–"));
    box.appendChild(el("div", "lc-muted", catName(cat)));
    box.appendChild(el("div", "lc-muted", added ? L_.wb_added : entry.props.facility_id));
    var btn = el("button", "lc-btn lc-danger", added ? L_.wb_remove_added : L_.wb_close);
    btn.type = "button";
    btn.addEventListener("click", function () {
      map.closePopup();
      if (added) removeAdded(entry.added);
      else closeBaseline(entry.props.facility_id);
    });
    box.appendChild(btn);
    return box;
  }

  function buildLegend() {
    var Legend = L.Control.extend({
      options: { position: "bottomleft" },
      onAdd: function () {
        var box = el("div", "lc-legend leaflet-control");
        legendTitle = el("div", "lc-legend-title");
        box.appendChild(legendTitle);
        legendBody = el("div");
        cfg.classes.forEach(function (c) {
          var row = el("div", "lc-legend-row");
          var sw = el("span", "lc-swatch");
          sw.style.background = c.colour;
          row.appendChild(sw);
          row.appendChild(el("span", null, c.label));
          legendBody.appendChild(row);
        });
        box.appendChild(legendBody);
        L.DomEvent.disableClickPropagation(box);
        return box;
      },
    });
    return new Legend().addTo(map);
  }

  // ---- the baseline's service areas and gaps (drawn as map.html draws them; never redrawn) ----

  function buildBaselineLayers(layers) {
    baseline.data = { sa: layers.service_areas || {}, gaps: layers.gaps || { features: [] } };
    var pane = map.createPane("lc-baseline"); // above the communities, below the markers
    pane.style.zIndex = 450;
    pane.style.pointerEvents = "none"; // a click still reaches the map: it adds a facility
    baseline.renderer = L.svg({ pane: "lc-baseline" });
    var Control = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        var box = el("div", "lc-layers leaflet-control");
        box.id = "lc-layers";
        box.appendChild(el("div", "lc-legend-title", L_.wb_layers));
        toggleRow(box, "lc-layer-sa", L_.wb_layer_sa, function (on) {
          baseline.saOn = on;
          drawServiceAreas();
        });
        baseline.tiers = el("div", "lc-muted lc-layer-tiers");
        box.appendChild(baseline.tiers);
        toggleRow(box, "lc-layer-gaps", L_.wb_layer_gaps, function (on) {
          baseline.gapsOn = on;
          drawGaps();
        });
        box.appendChild(el("div", "lc-muted lc-layer-note", L_.wb_layer_note));
        L.DomEvent.disableClickPropagation(box);
        return box;
      },
    });
    new Control().addTo(map);
  }

  function toggleRow(box, id, text, onChange) {
    var label = el("label", "lc-layer-row");
    var input = el("input");
    input.type = "checkbox";
    input.id = id;
    input.addEventListener("change", function () { onChange(input.checked); });
    label.appendChild(input);
    label.appendChild(document.createTextNode(" " + text));
    box.appendChild(label);
    return input;
  }

  function drawServiceAreas() {
    if (baseline.sa) map.removeLayer(baseline.sa);
    baseline.sa = null;
    baseline.tiers.textContent = "";
    var entry = baseline.data && baseline.data.sa[state.cat];
    if (!baseline.saOn || !entry) return;
    var colour = entry.colour;
    baseline.sa = L.geoJSON(entry.tiers, {
      renderer: baseline.renderer, pane: "lc-baseline", interactive: false,
      style: function () {
        return {
          color: colour, fillColor: colour, weight: 1.5, dashArray: "5 4", fillOpacity: 0.08,
        };
      },
    }).addTo(map);
    var minutes = entry.tiers.features.map(function (f) { return f.properties.minutes; });
    var sw = el("span", "lc-swatch lc-swatch-sa");
    sw.style.borderColor = colour;
    baseline.tiers.appendChild(sw);
    baseline.tiers.appendChild(document.createTextNode(fmt(L_.wb_layer_sa_tiers, {
      category: catName(state.cat), minutes: minutes.slice().reverse().join(" / ") || "–",
    })));
  }

  function drawGaps() {
    if (baseline.gaps) map.removeLayer(baseline.gaps);
    baseline.gaps = null;
    if (!baseline.gapsOn) return;
    var fc = { type: "FeatureCollection", features: baseline.data.gaps.features };
    var red = "#b2182b";
    baseline.gaps = L.geoJSON(fc, {
      renderer: baseline.renderer, pane: "lc-baseline", interactive: false,
      pointToLayer: function (f, ll) {
        return L.circleMarker(ll, {
          renderer: baseline.renderer, pane: "lc-baseline", interactive: false,
          radius: 2 + 5 * f.properties.size, weight: 0, fillColor: red, fillOpacity: 0.45,
        });
      },
      style: function (f) {
        return { color: red, fillColor: red, weight: 0.4, fillOpacity: 0.15 + 0.6 * f.properties.size };
      },
    }).addTo(map);
  }

  // ---- edits ------------------------------------------------------------------------------------

  function remember() {
    state.history.push(JSON.stringify(state.edits));
  }
  function addedName() {
    return catName(state.cat) + " · " + L_.wb_added + " " + (state.edits.add.length + 1);
  }
  function onMapClick(e) {
    if (!state.cat || !state.current) return;
    state.clickedAt = performance.now();
    remember();
    state.edits.add.push({
      category: state.cat, lon: round6(e.latlng.lng), lat: round6(e.latlng.lat), name: addedName(),
    });
    edited();
  }
  function round6(x) { return Math.round(x * 1e6) / 1e6; }
  function onDragEnd(entry, ll) {
    remember();
    if (entry.added !== undefined) {
      entry.added.lon = round6(ll.lng);
      entry.added.lat = round6(ll.lat);
    } else {
      var p = entry.props;
      state.edits.remove.push(p.facility_id);
      state.edits.add.push({
        category: p.category, lon: round6(ll.lng), lat: round6(ll.lat), name: p.name,
        from: p.facility_id,
      });
    }
    edited();
  }
  function closeBaseline(id) {
    remember();
    if (state.edits.remove.indexOf(id) < 0) state.edits.remove.push(id);
    edited();
  }
  function removeAdded(item) {
    remember();
    state.edits.add = state.edits.add.filter(function (a) { return a !== item; });
    edited();
  }
  function undo() {
    if (!state.history.length) return;
    state.edits = JSON.parse(state.history.pop());
    edited();
  }
  function reset() {
    if (!state.edits.add.length && !state.edits.remove.length) return;
    remember();
    state.edits = { add: [], remove: [] };
    edited();
  }
  function edited() {
    syncFacilities();
    evaluate();
  }

  // facility markers: the chosen category's baseline ones not closed, and every added one
  function syncFacilities() {
    var removed = new Set(state.edits.remove);
    Object.keys(baseGroups).forEach(function (c) {
      var g = baseGroups[c];
      if (c === state.cat) {
        if (!map.hasLayer(g)) g.addTo(map);
      } else if (map.hasLayer(g)) {
        map.removeLayer(g);
      }
    });
    baseFac.forEach(function (entry, id) {
      var g = baseGroups[entry.props.category];
      var want = !removed.has(id);
      if (want && !g.hasLayer(entry.marker)) g.addLayer(entry.marker);
      if (!want && g.hasLayer(entry.marker)) g.removeLayer(entry.marker);
      var ll = entry.marker.getLatLng(); // a drag that became "moved" leaves it in place
      if (ll.lat !== entry.lat || ll.lng !== entry.lon) entry.marker.setLatLng([entry.lat, entry.lon]);
    });
    addedGroup.clearLayers();
    state.edits.add.forEach(function (item) {
      var entry = { added: item };
      var cls = "lc-fac lc-fac-added" + (item.category === state.cat ? "" : " lc-fac-other");
      addedGroup.addLayer(facilityMarker(item.lat, item.lon, cls, function () { return entry; }));
    });
    ui.undo.disabled = !state.history.length;
    ui.reset.disabled = !state.edits.add.length && !state.edits.remove.length;
  }

  function evaluate() {
    var seq = ++state.seq;
    var sent = JSON.stringify(state.edits);
    var t0 = performance.now();
    status(L_.wb_busy);
    return post("/api/evaluate", apiEdits())
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (seq !== state.seq) return;
        window.__lcLastEvaluateMs = performance.now() - t0; // the request, answer parsed
        state.current = data;
        indexCoverage(data);
        render();
        status("");
        markEvaluated();
      })
      .catch(function (err) {
        if (seq !== state.seq) return;
        status(L_.wb_failed + ": " + err.message, true);
        if (state.history.length && JSON.stringify(state.edits) === sent && state.current) {
          state.edits = JSON.parse(state.history.pop()); // the edit the server refused
          syncFacilities();
        }
      });
  }

  function markEvaluated() {
    requestAnimationFrame(function () {
      state.evaluated += 1;
      var t = performance.now();
      if (state.clickedAt !== null) {
        window.__lcLastEditMs = t - state.clickedAt;
        state.clickedAt = null;
      }
      document.body.dataset.evaluated = String(state.evaluated);
    });
  }

  function indexCoverage(data) {
    var want = {};
    cfg.categories.concat([cfg.all]).forEach(function (c) {
      want[c.category] = c;
      state.index[c.category] = {};
    });
    data.coverage.forEach(function (row) {
      var c = want[row.category];
      if (c && row.profile === c.profile && row.minutes === c.minutes) {
        state.index[row.category][String(row.community_id)] = row; // ids compared as text
      }
    });
  }

  // ---- drawing the answer -----------------------------------------------------------------------

  function render() {
    restyle();
    renderShares();
    renderChange();
    renderShort();
  }

  function restyle() {
    var idx = state.index[state.cat] || {};
    comms.forEach(function (c, id) {
      var row = idx[id];
      var cls = row && row.residents > 0 ? classOf(row.coverage) : "none";
      c.layer.setStyle({ fillColor: CLASSES[cls].colour });
    });
    legendTitle.textContent = fmt(L_.wb_legend, {
      category: catName(state.cat), target: pct(cfg.target).replace(".0%", "%"),
    });
  }

  function shareCell(x) {
    var td = el("td", "lc-num");
    var sw = el("span", "lc-swatch");
    sw.style.background = CLASSES[classOf(x)].colour;
    td.appendChild(sw);
    td.appendChild(document.createTextNode(pct(x)));
    return td;
  }

  function renderShares() {
    var ch = state.current.change;
    var tbody = ui.sharesBody;
    tbody.textContent = "";
    var rows = [[cfg.all.category, ch.complete_life_circle]];
    cfg.categories.forEach(function (c) { rows.push([c.category, ch.per_category[c.category]]); });
    rows.forEach(function (r) {
      var tr = el("tr", r[0] === state.cat ? "lc-chosen" : r[0] === cfg.all.category ? "lc-all" : "");
      tr.dataset.category = r[0];
      var name = el("td", "lc-catname", catName(r[0]));
      if (r[0] !== cfg.all.category) {
        name.title = CATS[r[0]].threshold || "";
        tr.addEventListener("click", function () { choose(r[0]); });
      }
      tr.appendChild(name);
      tr.appendChild(el("td", "lc-num lc-muted", pct(r[1].coverage_before)));
      var now = shareCell(r[1].coverage_after);
      if (r[1].coverage_after !== r[1].coverage_before) now.classList.add("lc-changed");
      tr.appendChild(now);
      tbody.appendChild(tr);
    });
  }

  function renderChange() {
    var ch = state.current.change;
    var box = ui.change;
    box.textContent = "";
    var e = state.edits;
    if (!e.add.length && !e.remove.length) {
      box.appendChild(el("p", "lc-muted", L_.wb_no_edits));
      return;
    }
    box.appendChild(el("p", "lc-edits", fmt(L_.wb_edits, { add: e.add.length, remove: e.remove.length })));
    var list = el("ul", "lc-deltas");
    cfg.categories.forEach(function (c) {
      var d = ch.per_category[c.category];
      var same = d.coverage_after === d.coverage_before && !d.residents_newly_covered;
      if (same && c.category !== state.cat) return; // the chosen category is always said
      var li = el("li", c.category === state.cat ? "lc-chosen" : "");
      li.dataset.category = c.category;
      li.appendChild(el("span", "lc-catname", c.name + ": "));
      li.appendChild(el("span", "lc-num", pct(d.coverage_before) + " → " + pct(d.coverage_after)));
      if (d.residents_newly_covered !== null) {
        var n = d.residents_newly_covered;
        li.appendChild(el("span", "lc-newly " + (n < 0 ? "lc-bad" : ""),
          " (" + fmt(L_.wb_newly, { n: (n > 0 ? "+" : "") + num(n) }) + ")"));
      }
      list.appendChild(li);
    });
    var clc = ch.complete_life_circle;
    var li = el("li", "lc-all");
    li.appendChild(el("span", "lc-catname", cfg.all.name + ": "));
    li.appendChild(el("span", "lc-num", pct(clc.coverage_before) + " → " + pct(clc.coverage_after)));
    list.appendChild(li);
    box.appendChild(list);
    [["now_meets", L_.wb_now_meets, "lc-good"], ["now_misses", L_.wb_now_misses, "lc-bad"]].forEach(
      function (k) {
        var flips = ch.flips[k[0]];
        if (!flips.length) return;
        box.appendChild(el("h4", k[2], k[1] + " (" + flips.length + ")"));
        var ul = el("ul", "lc-flips lc-" + k[0]);
        flips.forEach(function (f) {
          var item = el("li");
          item.appendChild(el("span", "lc-cname", f.community_name));
          item.appendChild(el("span", "lc-muted", " · " + catName(f.category)));
          item.addEventListener("click", function () { zoomTo(String(f.community_id)); });
          ul.appendChild(item);
        });
        box.appendChild(ul);
      }
    );
  }

  function renderShort() {
    var idx = state.index[state.cat] || {};
    var short = [];
    Object.keys(idx).forEach(function (id) {
      var r = idx[id];
      if (r.residents > 0 && r.coverage < cfg.target) {
        short.push({ id: id, row: r, gap: cfg.target * r.residents - r.covered_residents });
      }
    });
    short.sort(function (a, b) { return b.gap - a.gap || a.row.coverage - b.row.coverage; });
    ui.shortTitle.textContent = L_.wb_short + " · " + catName(state.cat) + " (" + short.length + ")";
    var ol = ui.short;
    ol.textContent = "";
    if (!short.length) {
      ol.appendChild(el("li", "lc-muted", L_.wb_short_none));
      return;
    }
    short.slice(0, 200).forEach(function (s) {
      var li = el("li");
      li.dataset.community = s.id;
      li.appendChild(el("span", "lc-cname", s.row.community_name));
      var right = el("span", "lc-right");
      right.appendChild(shareCell(s.row.coverage).firstChild);
      right.appendChild(el("span", "lc-num", pct(s.row.coverage)));
      right.appendChild(el("span", "lc-muted", " · " + fmt(L_.wb_short_by, { n: num(Math.ceil(s.gap)) })));
      li.appendChild(right);
      li.addEventListener("click", function () { zoomTo(s.id); });
      ol.appendChild(li);
    });
  }

  function zoomTo(id) {
    var c = comms.get(id);
    if (!c) return;
    map.fitBounds(c.layer.getBounds(), { maxZoom: 17, padding: [20, 20] });
    c.layer.setStyle({ weight: 4, color: "#000" });
    c.layer.openTooltip(c.layer.getBounds().getCenter());
    setTimeout(function () { c.layer.setStyle({ weight: 1, color: "#333" }); }, 2500);
  }

  function choose(cat) {
    state.cat = cat;
    ui.cat.value = cat;
    clearSites();
    syncFacilities();
    if (baseline.data) drawServiceAreas();
    if (state.current) render();
  }

  // ---- suggest sites ----------------------------------------------------------------------------

  function clearSites() {
    sitesGroup.clearLayers();
    ui.sites.textContent = "";
  }

  function suggest() {
    var body = { category: state.cat };
    if (ui.untilTarget.checked) body.target = cfg.target;
    else body.count = Math.max(1, Math.min(50, parseInt(ui.count.value, 10) || 1));
    clearSites();
    status(L_.wb_busy);
    ui.suggest.disabled = true;
    post("/api/sites", body)
      .then(function (r) { return r.json(); })
      .then(function (data) { status(""); showSites(data); })
      .catch(function (err) { status(L_.wb_suggest + " " + L_.wb_failed + ": " + err.message, true); })
      .then(function () { ui.suggest.disabled = false; });
  }

  function showSites(data) {
    data.sites.forEach(function (s) {
      var item = {
        category: data.category, lon: s.lon, lat: s.lat,
        name: catName(data.category) + " · " + L_.wb_site + " " + s.rank,
      };
      var icon = el("span", null, s.rank);
      var m = L.marker([s.lat, s.lon], {
        icon: L.divIcon({ className: "lc-site", html: icon, iconSize: [24, 24] }),
      });
      var li = el("li", "lc-site-row");
      li.dataset.rank = String(s.rank);
      var add = el("button", "lc-btn", L_.wb_add);
      add.type = "button";
      var take = function () {
        if (add.disabled) return;
        add.disabled = true;
        sitesGroup.removeLayer(m);
        remember();
        state.edits.add.push(item);
        edited();
      };
      add.addEventListener("click", take);
      m.bindPopup(function () {
        var box = el("div", "lc-pop");
        box.appendChild(el("b", null, "#" + s.rank));
        box.appendChild(el("div", null, fmt(L_.wb_newly, { n: num(s.residents_newly_covered) })));
        var b = el("button", "lc-btn", L_.wb_add);
        b.type = "button";
        b.addEventListener("click", function () { map.closePopup(); take(); });
        box.appendChild(b);
        return box;
      });
      sitesGroup.addLayer(m);
      li.appendChild(el("span", "lc-rank", "#" + s.rank));
      li.appendChild(el("span", null,
        fmt(L_.wb_newly, { n: num(s.residents_newly_covered) }) + " → " + pct(s.coverage_after)));
      li.appendChild(add);
      ui.sites.appendChild(li);
    });
    if (!data.sites.length) ui.sites.appendChild(el("li", "lc-muted", "–"));
  }

  // ---- files: scenario, export, print -----------------------------------------------------------

  function fileName(resp, fallback) {
    var cd = resp.headers.get("Content-Disposition") || "";
    var m = /filename="?([\w.-]+)"?/.exec(cd);
    return m ? m[1] : fallback;
  }
  function download(path, body, fallback) {
    status(L_.wb_busy);
    return post(path, body)
      .then(function (r) {
        return r.blob().then(function (b) { return [b, fileName(r, fallback)]; });
      })
      .then(function (got) {
        var a = el("a");
        a.href = URL.createObjectURL(got[0]);
        a.download = got[1];
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(a.href); }, 60000);
        status("");
      })
      .catch(function (err) { status(L_.wb_failed + ": " + err.message, true); });
  }
  function saveScenario() {
    download("/api/scenario", apiEdits(), "lifecircle-scenario.zip");
  }
  function exportTables(format) {
    var body = apiEdits();
    body.format = format;
    download("/api/export", body, format === "xlsx" ? "coverage.xlsx" : "coverage.csv");
  }
  function loadScenario(file) {
    status(L_.wb_busy);
    file.arrayBuffer()
      .then(function (buf) { return post("/api/scenario/load", buf, "application/zip"); })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        remember();
        state.edits = { add: data.add || [], remove: data.remove || [] };
        edited();
      })
      .catch(function (err) { status(L_.wb_load + " " + L_.wb_failed + ": " + err.message, true); });
  }
  function printView() {
    var w = window.open("", "_blank"); // opened on the click, so no popup blocker stops it
    var body = apiEdits();
    body.lang = cfg.lang;
    status(L_.wb_busy);
    post("/api/print", body)
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var url = URL.createObjectURL(new Blob([html], { type: "text/html" }));
        if (w) w.location.href = url;
        else window.open(url, "_blank");
        status("");
      })
      .catch(function (err) {
        if (w) w.close();
        status(L_.wb_print + " " + L_.wb_failed + ": " + err.message, true);
      });
  }

  // ---- the panel --------------------------------------------------------------------------------

  function button(text, cls, onClick) {
    var b = el("button", "lc-btn " + (cls || ""), text);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
  function section(title, cls) {
    var s = el("section", cls);
    if (title) s.appendChild(el("h3", null, title));
    ui.panel.appendChild(s);
    return s;
  }

  function buildPanel(communities) {
    ui.panel = document.getElementById("lc-panel");
    var head = el("header", "lc-head");
    head.appendChild(el("h2", null, L_.wb_title));
    ui.panel.appendChild(head);
    var toggle = button("⟩", "lc-toggle", function () {
      var collapsed = document.body.classList.toggle("lc-collapsed");
      toggle.textContent = collapsed ? "⟨ " + L_.wb_panel : "⟩";
      map.invalidateSize();
    });
    toggle.id = "lc-toggle";
    toggle.title = L_.wb_panel;
    document.getElementById("lc-app").appendChild(toggle);

    var pick = section(null, "lc-pick");
    var label = el("label", null, L_.wb_category);
    ui.cat = el("select");
    ui.cat.id = "lc-category";
    label.htmlFor = "lc-category";
    cfg.categories.forEach(function (c) {
      var o = el("option", null, c.name + (c.threshold ? " (" + c.threshold + ")" : ""));
      o.value = c.category;
      ui.cat.appendChild(o);
    });
    ui.cat.addEventListener("change", function () { choose(ui.cat.value); });
    pick.appendChild(label);
    pick.appendChild(ui.cat);
    var find = el("input");
    find.type = "search";
    find.id = "lc-search";
    find.placeholder = L_.wb_search;
    find.setAttribute("list", "lc-names");
    var names = el("datalist");
    names.id = "lc-names";
    var byText = new Map();
    communities.features.forEach(function (f) {
      var text = f.properties.community_name + " (" + f.properties.community_id + ")";
      byText.set(text, String(f.properties.community_id));
      var o = el("option");
      o.value = text;
      names.appendChild(o);
    });
    var go = function () {
      var id = byText.get(find.value);
      if (id === undefined) {
        var q = find.value.trim().toLowerCase();
        byText.forEach(function (v, k) { if (id === undefined && q && k.toLowerCase().indexOf(q) >= 0) id = v; });
      }
      if (id !== undefined) zoomTo(id);
    };
    find.addEventListener("change", go);
    find.addEventListener("keydown", function (e) { if (e.key === "Enter") go(); });
    pick.appendChild(find);
    pick.appendChild(names);
    pick.appendChild(el("p", "lc-hint", L_.wb_hint));
    var bar = el("div", "lc-bar");
    ui.undo = button(L_.wb_undo, "", undo);
    ui.undo.id = "lc-undo";
    ui.reset = button(L_.wb_reset, "", reset);
    ui.reset.id = "lc-reset";
    bar.appendChild(ui.undo);
    bar.appendChild(ui.reset);
    pick.appendChild(bar);
    ui.status = el("p", "lc-status");
    ui.status.id = "lc-status";
    pick.appendChild(ui.status);

    ui.change = section(L_.wb_change, "lc-change");
    ui.change.id = "lc-change";
    var changeBody = el("div");
    ui.change.appendChild(changeBody);
    ui.change = changeBody;

    var shares = section(L_.wb_shares, "lc-shares");
    var table = el("table");
    var hr = el("tr");
    [L_.wb_category, L_.wb_baseline, L_.wb_now].forEach(function (h, i) {
      hr.appendChild(el("th", i ? "lc-num" : null, h));
    });
    var thead = el("thead");
    thead.appendChild(hr);
    table.appendChild(thead);
    ui.sharesBody = el("tbody");
    ui.sharesBody.id = "lc-shares";
    table.appendChild(ui.sharesBody);
    shares.appendChild(table);
    shares.appendChild(el("p", "lc-muted", L_.target + " " + pct(cfg.target)));

    var sites = section(L_.wb_suggest, "lc-suggest");
    var row = el("div", "lc-bar");
    ui.count = el("input");
    ui.count.type = "number";
    ui.count.min = "1";
    ui.count.max = "50";
    ui.count.value = "3";
    ui.count.id = "lc-count";
    var cl = el("label", null, L_.wb_sites_count + " ");
    cl.appendChild(ui.count);
    row.appendChild(cl);
    ui.untilTarget = el("input");
    ui.untilTarget.type = "checkbox";
    ui.untilTarget.id = "lc-until-target";
    var tl = el("label");
    tl.appendChild(ui.untilTarget);
    tl.appendChild(document.createTextNode(" " + L_.wb_sites_target));
    row.appendChild(tl);
    ui.suggest = button(L_.wb_suggest, "lc-primary", suggest);
    ui.suggest.id = "lc-suggest";
    row.appendChild(ui.suggest);
    sites.appendChild(row);
    ui.sites = el("ol", "lc-sites");
    ui.sites.id = "lc-sites";
    sites.appendChild(ui.sites);

    var s = section(null, "lc-short");
    ui.shortTitle = el("h3");
    s.appendChild(ui.shortTitle);
    ui.short = el("ol", "lc-shortlist");
    ui.short.id = "lc-short";
    s.appendChild(ui.short);

    var files = section(null, "lc-files");
    var fb = el("div", "lc-bar");
    var input = el("input");
    input.type = "file";
    input.accept = ".zip,application/zip";
    input.id = "lc-load-file";
    input.hidden = true;
    input.addEventListener("change", function () {
      if (input.files.length) loadScenario(input.files[0]);
      input.value = "";
    });
    [
      ["lc-save", L_.wb_save, saveScenario],
      ["lc-load", L_.wb_load, function () { input.click(); }],
      ["lc-export-csv", L_.wb_export_csv, function () { exportTables("csv"); }],
      ["lc-export-xlsx", L_.wb_export_xlsx, function () { exportTables("xlsx"); }],
      ["lc-print", L_.wb_print, printView],
    ].forEach(function (b) {
      var btn = button(b[1], "", b[2]);
      btn.id = b[0];
      fb.appendChild(btn);
    });
    files.appendChild(fb);
    files.appendChild(input);
  }

  function firstCategory() {
    var pick = null;
    cfg.categories.forEach(function (c) {
      var d = state.current.change.per_category[c.category];
      if (!pick && c.in_basket && d.coverage_after !== null && d.coverage_after < cfg.target) pick = c.category;
    });
    return pick || cfg.categories[0].category;
  }

  function start() {
    fetch("/api/layers")
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (layers) {
        buildMap(layers);
        buildPanel(layers.communities);
        window.lcWorkbench = { // for tests and scripts driving the page: read-only views
          map: map,
          edits: function () { return apiEdits(); },
          fill: function (id) { var c = comms.get(String(id)); return c ? c.layer.options.fillColor : null; },
        };
        return post("/api/evaluate", { add: [], remove: [] }).then(function (r) { return r.json(); });
      })
      .then(function (data) {
        state.current = data;
        indexCoverage(data);
        choose(firstCategory());
        document.body.dataset.ready = "1";
        markEvaluated();
      })
      .catch(function (err) {
        var p = document.getElementById("lc-panel");
        p.appendChild(el("p", "lc-status lc-bad", L_.wb_failed + ": " + err.message));
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
