/**
 * The monitor's `/` page: nats-server's index of endpoint links, our version, and a live drawing
 * of the cluster mesh — servers, the routes between them (RTT, message rate), the clients of each
 * server and its message rates.
 *
 * The page is one self-contained HTML document (inline CSS, JS and SVG; a Content-Security-Policy
 * lets it talk to its own origin only). It polls `./meshz` (see `Mesh.ts`: this server plus the
 * peers whose monitors it can reach) every second, or every `?interval=<ms>` (at least 250), and
 * derives rates from two successive polls using each server's own clock (`now`). Names and other
 * text from peers are inserted as text nodes, never as markup.
 *
 * @since 0.1.0
 */
import { NATS_COMPAT_VERSION, SERVER_NAME, SERVER_VERSION } from "../server/ServerState.js"

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/** The script of the page (plain ES2017, no modules, no dependencies). */
const SCRIPT = String.raw`
"use strict";
(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var params = new URLSearchParams(location.search);
  var interval = Math.max(250, Number(params.get("interval")) || 1000);
  var W = 960, H = 560, CX = W / 2, CY = H / 2 + 6, NODE_R = 44;
  var svg = document.getElementById("mesh");
  var statusEl = document.getElementById("status");
  var tableBody = document.getElementById("servers");
  var polls = 0;
  // Previous samples for rates: per server and per route (seen from one fixed reporter).
  var prevServer = new Map();
  var prevEdge = new Map();

  function el(name, attrs, text) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
  }
  function fmtRate(x) {
    if (!(x > 0)) return "0";
    if (x >= 1e6) return (x / 1e6).toFixed(1) + "M";
    if (x >= 1e4) return (x / 1e3).toFixed(0) + "k";
    if (x >= 1e3) return (x / 1e3).toFixed(1) + "k";
    return x >= 10 ? x.toFixed(0) : x.toFixed(1);
  }
  function fmtBytes(n) {
    if (n >= 1 << 30) return (n / (1 << 30)).toFixed(1) + " GiB";
    if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MiB";
    if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + " KiB";
    return n + " B";
  }
  // Go durations ("2.114508ms", "911µs", "1.5s") to three significant digits.
  function fmtRtt(text) {
    if (!text || text === "0s") return "n/a";
    var m = /^([0-9.]+)(ns|µs|us|ms|s)$/.exec(text);
    if (!m) return text;
    var v = Number(m[1]);
    return (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + m[2];
  }
  function shortId(id) { return id.length > 10 ? id.slice(0, 4) + "…" + id.slice(-4) : id; }
  function clockOf(s, fallback) {
    var t = s.now ? Date.parse(s.now) : NaN;
    return isNaN(t) ? fallback : t;
  }
  function rate(map, key, t, value) {
    var p = map.get(key);
    map.set(key, { t: t, v: value });
    if (!p || t <= p.t || value < p.v) return undefined;
    return (value - p.v) / ((t - p.t) / 1000);
  }

  function model(doc) {
    var local = Date.now();
    var nodes = new Map();
    (doc.servers || []).forEach(function (s) {
      var t = clockOf(s, local);
      var known = s.source !== "route";
      nodes.set(s.server_id, {
        id: s.server_id,
        name: s.server_name || shortId(s.server_id),
        s: s,
        known: known,
        inRate: known ? rate(prevServer, s.server_id + " in", t, s.in_msgs) : undefined,
        outRate: known ? rate(prevServer, s.server_id + " out", t, s.out_msgs) : undefined
      });
    });
    var edges = new Map();
    (doc.servers || []).forEach(function (s) {
      if (s.source === "route") return;
      (s.routes || []).forEach(function (r) {
        if (!r.remote_id) return;
        if (!nodes.has(r.remote_id)) {
          nodes.set(r.remote_id, { id: r.remote_id, name: r.remote_name || shortId(r.remote_id), s: { source: "unknown", server_id: r.remote_id, routes: [] }, known: false });
        }
        var a = s.server_id < r.remote_id ? s.server_id : r.remote_id;
        var b = a === s.server_id ? r.remote_id : s.server_id;
        var key = a + " " + b;
        var e = edges.get(key);
        if (!e) { e = { a: a, b: b, sides: 0, reporter: s.server_id, route: r, t: clockOf(s, local) }; edges.set(key, e); }
        e.sides++;
        if (s.server_id < e.reporter) { e.reporter = s.server_id; e.route = r; e.t = clockOf(s, local); }
      });
    });
    edges.forEach(function (e, key) {
      e.rate = rate(prevEdge, key + " " + e.reporter, e.t, e.route.in_msgs + e.route.out_msgs);
    });
    return { self: doc.server_id, nodes: Array.from(nodes.values()), edges: Array.from(edges.values()) };
  }

  function layout(m) {
    var list = m.nodes.slice().sort(function (x, y) {
      if (x.id === m.self) return -1;
      if (y.id === m.self) return 1;
      return x.name < y.name ? -1 : x.name > y.name ? 1 : (x.id < y.id ? -1 : 1);
    });
    var n = list.length, pos = new Map();
    var radius = n <= 1 ? 0 : n === 2 ? 230 : Math.min(215, 110 + 30 * n);
    var minY = Infinity, maxY = -Infinity;
    list.forEach(function (node, i) {
      // Two servers side by side; more on a circle, this one at the top.
      var a = n === 2 ? Math.PI * (1 - i) : -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, n);
      var y = CY + radius * Math.sin(a);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
      pos.set(node.id, { x: CX + radius * Math.cos(a), y: y, angle: a });
    });
    // Centre the drawing vertically (a triangle's circle is not centred on the triangle).
    var shift = CY - (minY + maxY) / 2;
    pos.forEach(function (p) { p.y += shift; });
    return { list: list, pos: pos };
  }

  function draw(m) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var L = layout(m);
    var edgeLayer = el("g", { "class": "edges" });
    var nodeLayer = el("g", { "class": "nodes" });
    svg.appendChild(edgeLayer);
    svg.appendChild(nodeLayer);
    m.edges.forEach(function (e) {
      var p = L.pos.get(e.a), q = L.pos.get(e.b);
      var g = el("g", { "class": "edge", "data-a": e.a, "data-b": e.b, "data-sides": e.sides });
      g.appendChild(el("line", { x1: p.x, y1: p.y, x2: q.x, y2: q.y, "class": e.sides >= 2 ? "route both" : "route one" }));
      var mx = (p.x + q.x) / 2, my = (p.y + q.y) / 2;
      var line1 = "rtt " + fmtRtt(e.route.rtt), line2 = (e.rate !== undefined ? fmtRate(e.rate) : "…") + " msg/s";
      var w = Math.max(line1.length, line2.length) * 6.4 + 16;
      g.setAttribute("data-label", line1 + " · " + line2);
      g.appendChild(el("rect", { x: mx - w / 2, y: my - 17, width: w, height: 34, rx: 9, "class": "edge-label-bg" }));
      g.appendChild(el("text", { x: mx, y: my - 3, "class": "edge-label" }, line1));
      g.appendChild(el("text", { x: mx, y: my + 11, "class": "edge-label" }, line2));
      var title = el("title", {}, (m.nodes.find(function (x) { return x.id === e.a; }) || {}).name + " ⇄ " +
        (m.nodes.find(function (x) { return x.id === e.b; }) || {}).name + (e.sides >= 2 ? " (both ends report it)" : " (reported by one end)"));
      g.appendChild(title);
      edgeLayer.appendChild(g);
    });
    L.list.forEach(function (node) {
      var p = L.pos.get(node.id), s = node.s;
      var clients = node.known ? s.connections : undefined;
      var cls = "node " + (node.id === m.self ? "self" : node.known ? "peer" : "unknown");
      var g = el("g", { "class": cls, "data-id": node.id, "data-name": node.name, "data-source": s.source, "data-clients": clients === undefined ? "" : clients });
      // Clients: one dot each around the server (up to 36), on the outer side.
      if (clients !== undefined) {
        var shown = Math.min(clients, 36);
        for (var i = 0; i < shown; i++) {
          var spread = Math.min(Math.PI * 1.1, 0.24 * shown);
          var a = p.angle + (shown === 1 ? 0 : -spread / 2 + (spread * i) / (shown - 1));
          if (m.nodes.length === 1) a = -Math.PI / 2 + (2 * Math.PI * i) / shown;
          var rr = NODE_R + 12 + (i % 2) * 8;
          g.appendChild(el("circle", { cx: p.x + rr * Math.cos(a), cy: p.y + rr * Math.sin(a), r: 4, "class": "client" }));
        }
      }
      g.appendChild(el("circle", { cx: p.x, cy: p.y, r: NODE_R, "class": "server" }));
      g.appendChild(el("text", { x: p.x, y: p.y - 4, "class": "name" }, node.name.length > 11 ? node.name.slice(0, 10) + "…" : node.name));
      g.appendChild(el("text", { x: p.x, y: p.y + 14, "class": "sub" }, clients === undefined ? "no monitor" : clients + (clients === 1 ? " client" : " clients")));
      // The figures beside the server, on the side away from the centre (routes run inwards).
      var left = Math.cos(p.angle) < -0.01;
      var tx = p.x + (left ? -1 : 1) * (NODE_R + 40), anchor = left ? "end" : "start";
      if (node.known) {
        g.appendChild(el("text", { x: tx, y: p.y - 3, "class": "rates", "text-anchor": anchor },
          "in " + fmtRate(node.inRate) + " · out " + fmtRate(node.outRate) + " msg/s"));
        g.appendChild(el("text", { x: tx, y: p.y + 13, "class": "meta", "text-anchor": anchor }, "v" + s.version + " · " + s.subscriptions + " subs"));
      } else {
        g.appendChild(el("text", { x: tx, y: p.y + 4, "class": "meta", "text-anchor": anchor }, s.monitor_url ? "monitor not readable" : "no monitor advertised"));
      }
      g.appendChild(el("title", {}, node.name + " (" + node.id + ")" + (s.error ? "\n" + s.error : "")));
      nodeLayer.appendChild(g);
    });
    svg.setAttribute("data-nodes", String(m.nodes.length));
    svg.setAttribute("data-edges", String(m.edges.length));
  }

  function table(m) {
    while (tableBody.firstChild) tableBody.removeChild(tableBody.firstChild);
    m.nodes.forEach(function (node) {
      var s = node.s, tr = document.createElement("tr");
      cell(tr, node.name + (node.id === m.self ? " (this server)" : ""));
      cell(tr, s.version || "");
      if (node.known) {
        cell(tr, String(s.connections), "n");
        cell(tr, String(s.subscriptions), "n");
        cell(tr, fmtRate(node.inRate), "n");
        cell(tr, fmtRate(node.outRate), "n");
        cell(tr, fmtBytes(s.in_bytes) + " / " + fmtBytes(s.out_bytes), "n");
        cell(tr, String((s.routes || []).length), "n");
        cell(tr, s.uptime || "");
      } else {
        for (var i = 0; i < 7; i++) cell(tr, "–", "n");
      }
      cell(tr, s.error ? s.error : s.source === "self" ? "this page" : (s.monitor_url || ""), s.error ? "err" : "");
      tableBody.appendChild(tr);
    });
  }

  function poll() {
    fetch("./meshz", { cache: "no-store" }).then(function (res) {
      if (!res.ok) throw new Error("HTTP " + res.status);
      return res.json();
    }).then(function (doc) {
      var m = model(doc);
      draw(m);
      table(m);
      polls++;
      statusEl.textContent = "cluster " + (doc.cluster || "(none)") + " · " + m.nodes.length + (m.nodes.length === 1 ? " server, " : " servers, ") +
        m.edges.length + (m.edges.length === 1 ? " route" : " routes") + " · updated " + new Date().toLocaleTimeString() + " · every " + interval + " ms";
      statusEl.className = "ok";
      statusEl.setAttribute("data-polls", String(polls));
    }).catch(function (e) {
      statusEl.textContent = "cannot read ./meshz: " + e.message;
      statusEl.className = "err";
    }).then(function () { setTimeout(poll, interval); });
  }
  poll();
})();
`

const STYLE = `
  body { font-family: ui-sans-serif,system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; margin: 0 0 24px 32px; color: rgb(40 40 56) }
  header { display: flex; align-items: baseline; gap: 16px; margin-top: 18px }
  h2 { margin: 0 }
  .version { color: rgb(96 96 120) }
  .wrap { display: flex; gap: 28px; align-items: flex-start }
  nav { min-width: 150px; padding-top: 12px }
  nav a { display:block; margin-left: 7px; padding-bottom: 6px; color: rgb(72 72 92); text-decoration: none; font-size: 17px }
  nav a:hover { font-weight: 600; color: rgb(59 50 202) }
  nav a.last { padding-bottom: 16px }
  main { flex: 1; max-width: 980px }
  #status { font-size: 13px; margin: 10px 0 4px; color: rgb(96 96 120) }
  #status.err { color: rgb(190 40 40) }
  svg { width: 100%; max-width: 960px; background: rgb(248 248 252); border: 1px solid rgb(226 226 236); border-radius: 10px }
  .route { stroke: rgb(120 120 200); stroke-width: 3 }
  .route.one { stroke-dasharray: 7 6; stroke: rgb(160 160 190) }
  .edge-label-bg { fill: white; stroke: rgb(210 210 230) }
  .edge-label { font-size: 11px; text-anchor: middle; fill: rgb(70 70 100) }
  .server { fill: white; stroke: rgb(90 90 110); stroke-width: 2.5 }
  .self .server { stroke: rgb(59 50 202); stroke-width: 4; fill: rgb(242 241 255) }
  .peer .server { stroke: rgb(20 130 120) }
  .unknown .server { stroke: rgb(170 170 180); stroke-dasharray: 5 4 }
  .client { fill: rgb(240 160 40) }
  .name { font-size: 14px; font-weight: 600; text-anchor: middle }
  .sub { font-size: 12px; text-anchor: middle; fill: rgb(90 90 110) }
  .rates { font-size: 12px; fill: rgb(40 40 56) }
  .meta { font-size: 11px; fill: rgb(120 120 140) }
  table { border-collapse: collapse; margin-top: 14px; font-size: 13px }
  th, td { padding: 4px 10px; border-bottom: 1px solid rgb(230 230 240); text-align: left; white-space: nowrap }
  td.n { text-align: right; font-variant-numeric: tabular-nums }
  td.err { color: rgb(190 40 40) }
  .legend { font-size: 12px; color: rgb(110 110 130); margin-top: 6px }
`

/**
 * The `/` document. `links` are the endpoint paths and titles listed on the left, as nats-server's
 * index lists them (relative `href=./path`, so it works behind a base path).
 */
export const meshPage = (links: ReadonlyArray<readonly [path: string, text: string]>): string => {
  const nav = links
    .map(([path, text], i) => `    <a href=.${path}${i === links.length - 1 ? " class=last" : ""}>${escapeHtml(text)}</a>\n`)
    .join("")
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta http-equiv="Content-Security-Policy" content="default-src 'none'; connect-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
    <title>${SERVER_NAME} monitoring</title>
    <style>${STYLE}</style>
  </head>
  <body>
    <header>
      <h2>${SERVER_NAME}</h2>
      <span class="version" id="version">v${SERVER_VERSION} · nats-server ${NATS_COMPAT_VERSION} protocol</span>
    </header>
    <div class="wrap">
    <nav>
${nav}    <a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring class="help">Help</a>
    </nav>
    <main>
    <div id="status">loading ./meshz …</div>
    <svg id="mesh" viewBox="0 0 960 560" role="img" aria-label="cluster mesh"></svg>
    <div class="legend">Circles are servers (this one in indigo), lines are routes (dashed: reported by one end only), orange dots are client connections. Peers are read through this server's <a href=./meshz>/meshz</a>.</div>
    <table>
      <thead><tr><th>Server</th><th>Version</th><th>Clients</th><th>Subs</th><th>In msg/s</th><th>Out msg/s</th><th>Bytes in / out</th><th>Routes</th><th>Uptime</th><th>Monitor</th></tr></thead>
      <tbody id="servers"></tbody>
    </table>
    </main>
    </div>
    <script>${SCRIPT}</script>
  </body>
</html>`
}
