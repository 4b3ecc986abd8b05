// netmon's Now page: who is using the bandwidth right now. It renders
// the page from JSON and keeps it fresh. The first paint comes from the
// page's JSON block (#netmon-data), which holds what the polled
// endpoints answer; every later paint from polling them, through the
// same functions: /api/now every second (router total, devices by rate
// with their sparklines, appended with ?since=, and the connections),
// or /connections.json when the server reads no rates; /metrics.json
// every 2 s; /api/alerts every 10 s. No framework, and nothing from the
// server is ever parsed as HTML: every value goes into the page through
// textContent or a DOM property, so a hostile name or state is shown as
// text. The script knows no protocol: the server sends each endpoint as
// text.
"use strict";

(function () {
  const NOW_MS = 1000;
  const METRICS_MS = 2000;
  const ALERTS_MS = 10000;
  const SPARK_SPAN_MS = 5 * 60 * 1000;

  const root = document.getElementById("netmon");
  const block = document.getElementById("netmon-data");
  if (!root || !block) {
    return;
  }
  const data = JSON.parse(block.textContent);
  const $ = (id) => document.getElementById(id);
  const { humanBytes, humanRate, ago, span, comma, clock, el, getJSON, plural, stamp, sparkline } = NM;

  const hasRates = data.now !== null;
  let unit = hasRates ? data.now.unit : "bits";
  const rate = (bps) => humanRate(bps, unit);

  // The server's clock minus the browser's, from the last answer that
  // carried it: ages are shown against the server's clock.
  let skewMs = 0;
  const serverNow = () => Date.now() + skewMs;
  const setServerTime = (iso) => {
    const t = Date.parse(iso);
    if (Number.isFinite(t)) {
      skewMs = t - Date.now();
    }
  };

  // Polls that failed and the time of their last success (initially the
  // page load, whose data the JSON block holds).
  const loadedAt = new Date();
  const pollers = {};

  // ---- connections: one renderer, its sort and its filter ----

  // The last rows received, and how they are shown.
  const conns = { rows: [], total: 0, nowMs: Date.now() };
  const view = { key: "total", dir: -1, filter: "" };

  // Sort keys of the columns (th data-sort): the value compared.
  const lower = (s) => String(s).toLowerCase();
  const nullLow = (v) => (v === null || v === undefined ? -1 : v);
  const SORTS = {
    proto: (c) => lower(c.proto),
    device: (c) => lower(c.device_name || c.device),
    remote: (c) => lower(c.dst_name || c.destination),
    state: (c) => lower(c.state),
    flags: (c) => c.flags.join(","),
    up_rate: (c) => nullLow(c.uplink_bps),
    down_rate: (c) => nullLow(c.downlink_bps),
    up: (c) => c.uplink_bytes,
    down: (c) => c.downlink_bytes,
    total: (c) => c.total_bytes,
    seen: (c) => Date.parse(c.last_seen_at) || 0,
    new: (c) => (c.seen_before ? 0 : 1),
  };
  const TEXT_KEYS = ["proto", "device", "remote", "state", "flags"];

  // serverSort is the ?sort= that brings the right rows into the top N
  // for the column shown: the server ranks by rate or by bytes; every
  // other column is sorted here, over the rows shown.
  const serverSort = () => (hasRates && (view.key === "up_rate" || view.key === "down_rate") ? "rate" : "bytes");

  // matches reports whether a row holds the filter text in any of the
  // fields a person reads (the endpoints carry the ports).
  function matches(c, q) {
    if (!q) {
      return true;
    }
    const text = [c.proto, c.source, c.destination, c.device, c.device_name, c.dst_name, c.state, c.flags.join(" ")].join("\n");
    return lower(text).includes(q);
  }

  function twoLines(main, sub, cls) {
    const td = el("td", undefined, cls);
    td.append(el("span", main, "main"));
    if (sub) {
      td.append(el("span", sub, "sub"));
    }
    return td;
  }

  const windowText = () => span(data.new_host_window_seconds);

  function row(c, nowMs) {
    const tr = document.createElement("tr");
    tr.dataset.key = c.key;
    const dev = twoLines(c.device_name || c.device, c.source, "c-device");
    dev.title = c.device;
    const rem = twoLines(c.dst_name || c.destination, c.dst_name ? c.destination : "", "c-remote");
    if (c.dst_name) {
      rem.title = c.dst_name + " at " + c.destination;
    }
    tr.append(el("td", c.proto, "c-proto"), dev, rem, el("td", c.state, "state c-state"), el("td", c.flags.join(","), "flags c-flags"));
    const up = el("td", rate(c.uplink_bps), "num c-uprate");
    const down = el("td", rate(c.downlink_bps), "num c-downrate");
    tr.append(up, down);
    const cells = [
      [c.uplink_bytes, comma(c.uplink_bytes) + " bytes, " + plural(c.uplink_packets, "packet"), "c-up"],
      [c.downlink_bytes, comma(c.downlink_bytes) + " bytes, " + plural(c.downlink_packets, "packet"), "c-down"],
      [c.total_bytes, comma(c.total_bytes) + " bytes", "c-total"],
    ];
    for (const [n, title, cls] of cells) {
      const td = el("td", humanBytes(n), "num " + cls);
      td.title = title;
      tr.append(td);
    }
    const seen = el("td", ago(nowMs, c.last_seen_at), "seen c-seen");
    seen.title = stamp(c.last_seen_at);
    tr.append(seen);
    const badge = c.seen_before ? el("span", "seen before", "badge seen") : el("span", "new", "badge new");
    badge.title = c.seen_before
      ? "remote host first seen more than " + windowText() + " ago"
      : "remote host first seen within the last " + windowText();
    const td = el("td", undefined, "c-host");
    td.append(badge);
    tr.append(td);
    return tr;
  }

  // showConnections paints the rows held, sorted and filtered as the view says.
  function showConnections() {
    const q = lower(view.filter.trim());
    const key = SORTS[view.key];
    const shown = conns.rows
      .map((c, i) => [c, i])
      .filter(([c]) => matches(c, q))
      .sort(([a, i], [b, j]) => {
        const x = key(a);
        const y = key(b);
        return x < y ? -view.dir : x > y ? view.dir : i - j;
      })
      .map(([c]) => row(c, conns.nowMs));
    const matching = shown.length;
    if (shown.length === 0) {
      const tr = el("tr", undefined, "empty");
      const td = el("td", q ? "no connection matches the filter" : "no active outbound connections");
      td.colSpan = 12;
      tr.append(td);
      shown.push(tr);
    }
    $("rows").replaceChildren(...shown);
    $("shown").textContent = comma(conns.rows.length);
    $("total").textContent = comma(conns.total);
    $("match").textContent = q ? " · " + comma(matching) + " matching" : "";
    for (const th of $("conn-head").children) {
      th.setAttribute("aria-sort", th.dataset.sort === view.key ? (view.dir < 0 ? "descending" : "ascending") : "none");
    }
  }

  // renderConnections takes one answer: {rows, total, server_time}.
  function renderConnections(answer) {
    conns.rows = answer.rows || [];
    conns.total = answer.total;
    conns.nowMs = Date.parse(answer.server_time) || Date.now();
    showConnections();
  }

  // The column headers become buttons: a click sorts by that column, a
  // second click turns the order round.
  for (const th of $("conn-head").children) {
    const b = el("button", th.textContent, "sort");
    b.type = "button";
    b.addEventListener("click", () => {
      const k = th.dataset.sort;
      if (view.key === k) {
        view.dir = -view.dir;
      } else {
        view.key = k;
        view.dir = TEXT_KEYS.includes(k) ? 1 : -1;
      }
      showConnections();
    });
    th.replaceChildren(b);
  }
  $("filter").addEventListener("input", (e) => {
    view.filter = e.target.value;
    showConnections();
  });

  // ---- the router's total and the devices ----

  // Sparklines: [unix ms, up, down] points per series, five minutes back;
  // since is the last tick held (null: ask for all of them).
  const spark = { since: null, total: [], devices: new Map() };
  // names are the device names the connection rows carry, by device id.
  const names = new Map();

  function append(series, ticks, up, down) {
    for (let i = 0; i < ticks.length; i++) {
      series.push([ticks[i], up[i], down[i]]);
    }
  }

  function trim(series, from) {
    let n = 0;
    while (n < series.length && series[n][0] < from) {
      n++;
    }
    series.splice(0, n);
  }

  function deviceRow(d, from, to) {
    const li = el("li");
    li.dataset.device = d.device;
    const a = el("a", undefined, "dev");
    a.href = "/devices/" + encodeURIComponent(d.device);
    const name = el("span", d.name || names.get(d.device) || d.device, "dname");
    name.title = d.device;
    const rates = el("span", undefined, "drates");
    rates.append(el("span", "↑ " + rate(d.uplink_bps), "up"), el("span", "↓ " + rate(d.downlink_bps), "down"));
    a.append(name, el("span", (d.addrs || []).join(", "), "daddr"), rates, sparkline(spark.devices.get(d.device) || [], from, to, 120, 24));
    li.append(a);
    return li;
  }

  // renderNow shows one /api/now answer; incremental: its sparklines
  // hold only the ticks after spark.since, to be appended.
  function renderNow(n, incremental) {
    unit = n.unit;
    setServerTime(n.time);
    for (const c of n.connections || []) {
      if (c.device_name) {
        names.set(c.device, c.device_name);
      }
    }
    if (!incremental) {
      spark.total = [];
      spark.devices = new Map();
    }
    append(spark.total, n.ticks, n.total.spark_up, n.total.spark_down);
    const seen = new Map();
    for (const d of n.devices) {
      const s = spark.devices.get(d.device) || [];
      append(s, n.ticks, d.spark_up, d.spark_down);
      seen.set(d.device, s);
    }
    spark.devices = seen;
    if (n.ticks.length > 0) {
      spark.since = n.ticks[n.ticks.length - 1];
    }
    const to = spark.since === null ? serverNow() : spark.since;
    let from = to - SPARK_SPAN_MS;
    trim(spark.total, from);
    for (const s of spark.devices.values()) {
      trim(s, from);
    }
    // Until five minutes are held, the lines span what there is.
    if (spark.total.length > 1) {
      from = spark.total[0][0];
    }

    $("total-up").textContent = rate(n.total.uplink_bps);
    $("total-down").textContent = rate(n.total.downlink_bps);
    $("rate-note").textContent = n.at
      ? "mean over the last " + span(n.window_seconds) + " · last cycle " + ago(Date.parse(n.time), n.at)
      : "no rates yet: they need two ingest cycles";
    $("total-spark").replaceChildren(sparkline(spark.total, from, to, 300, 40));

    const rows = n.devices.map((d) => deviceRow(d, from, to));
    if (rows.length === 0) {
      rows.push(el("li", "no device sent or received anything in the last 5 min", "empty"));
    }
    $("devices").replaceChildren(...rows);

    renderConnections({ rows: n.connections, total: n.connections_total, server_time: n.time });
  }

  // ---- router figures ----

  function ifaceTile(it) {
    const tile = el("div", undefined, "tile iface");
    tile.dataset.iface = it.name;
    tile.append(el("h2", it.name));
    if (it.error) {
      tile.append(el("p", it.error, "small bad"));
      return tile;
    }
    const table = el("table", undefined, "io");
    for (const dir of ["rx", "tx"]) {
      const tr = document.createElement("tr");
      const bps = it[dir + "_bytes_per_second"];
      tr.append(
        el("th", dir),
        el("td", humanBytes(it[dir + "_bytes"]), dir),
        el("td", bps === null || bps === undefined ? "–" : humanRate(bps * 8, unit), dir + "-rate"),
        el("td", plural(it[dir + "_packets"], "pkt"), dir + "-packets"),
      );
      table.append(tr);
    }
    tile.append(table);
    return tile;
  }

  // renderMetrics shows a /metrics.json body; null means the server could
  // not read the system figures.
  function renderMetrics(m) {
    if (!m) {
      const tile = el("div", undefined, "tile");
      tile.append(el("p", "system figures unavailable", "small bad"));
      $("ifaces").replaceChildren(tile);
      $("sys-summary").textContent = "router figures unavailable";
      return;
    }
    const nowMs = Date.parse(m.at) || serverNow();
    const l = m.load;
    const load = [l.load1, l.load5, l.load15].map((x) => x.toFixed(2));
    $("load").textContent = load.join("  ");
    const mem = humanBytes(m.memory.used_bytes) + " / " + humanBytes(m.memory.total_bytes);
    $("mem").textContent = mem;
    $("mem-bar").max = Math.max(m.memory.total_bytes, 1);
    $("mem-bar").value = m.memory.used_bytes;
    const summary = ["load " + load[0], "mem " + mem];

    const ct = m.conntrack;
    $("tile-conntrack").hidden = !ct;
    if (ct) {
      $("ct-text").textContent = ct.error ? "–" : comma(ct.count) + " / " + comma(ct.max);
      $("ct-bar").max = Math.max(ct.max, 1);
      $("ct-bar").value = ct.error ? 0 : ct.count;
      $("ct-error").textContent = ct.error || "";
      summary.push("conntrack " + $("ct-text").textContent);
    }
    // accounting false: the kernel counts no bytes (absent: not known).
    $("acct").hidden = !(ct && ct.accounting === false);
    $("ifaces").replaceChildren(...(m.interfaces || []).map(ifaceTile));

    const ing = m.ingest;
    const text = $("ingest-text");
    text.textContent = ing.last_cycle_at ? ago(nowMs, ing.last_cycle_at) + " · " + plural(ing.cycles, "cycle") : "no cycle yet";
    text.title = stamp(ing.last_cycle_at);
    text.classList.toggle("bad", !ing.healthy);
    let detail = "";
    if (!ing.healthy) {
      detail = ing.last_cycle_at ? "ingest is behind: last successful cycle " + ago(nowMs, ing.last_cycle_at) : ing.reason || "";
      if (ing.last_error) {
        detail += "; last error: " + ing.last_error;
      }
    }
    $("ingest-detail").textContent = detail;
    summary.push(ing.healthy ? "last cycle " + ago(nowMs, ing.last_cycle_at) : "ingest unhealthy");
    $("sys-summary").textContent = summary.join(" · ");
    $("sys-summary").classList.toggle("bad", !ing.healthy);
  }

  // ---- alerts ----

  // renderAlerts shows an /api/alerts body; null: this server has no
  // alerts to show.
  function renderAlerts(a) {
    $("alerts-box").hidden = !a;
    if (!a) {
      return;
    }
    const nowMs = serverNow();
    const items = a.alerts.map((x) => {
      const li = el("li", undefined, "alert " + x.severity);
      li.title = x.message;
      const when = el("span", ago(nowMs, x.at), "when");
      when.title = stamp(x.at);
      li.append(el("span", x.severity, "badge sev"), when, el("span", x.title, "what"));
      return li;
    });
    if (items.length === 0) {
      items.push(el("li", "no alerts", "empty"));
    }
    $("alerts").replaceChildren(...items);
  }

  // ---- polling ----

  function updateStale() {
    const failing = Object.values(pollers).filter((p) => p.failing);
    const banner = $("stale");
    if (failing.length === 0) {
      banner.hidden = true;
      return;
    }
    const since = new Date(Math.min(...failing.map((p) => p.okAt.getTime())));
    banner.textContent = "data stale since " + clock(since) + " (server unreachable, retrying)";
    banner.hidden = false;
  }

  // poll runs fn every ms milliseconds (NM.poll: paused in a hidden
  // tab) and counts its successes in the root's data attributes.
  function poll(name, ms, fn) {
    pollers[name] = { okAt: loadedAt, failing: false };
    NM.poll(pollers[name], ms, fn, (state) => {
      root.dataset[name + "Polls"] = String(state.polls || 0);
      updateStale();
    });
  }

  // The router figures fold into one line on a narrow screen.
  const wide = window.matchMedia("(min-width: 760px)");
  $("system").open = wide.matches;
  wide.addEventListener("change", (e) => {
    $("system").open = e.matches;
  });
  $("logout").hidden = !data.logout;
  $("window").textContent = windowText();
  $("host-head").title = "“new”: remote host first seen within the last " + windowText();

  if (hasRates) {
    renderNow(data.now, false);
    poll("now", NOW_MS, async () => {
      let url = "/api/now?limit=" + data.limit + "&sort=" + serverSort();
      const incremental = spark.since !== null;
      if (incremental) {
        url += "&since=" + spark.since;
      }
      const { body } = await getJSON(url);
      renderNow(body, incremental);
    });
  } else {
    renderConnections(data.connections);
    $("total-spark").hidden = true;
    $("rate-note").textContent = "no rates: this server reads no live rates";
    $("devices").replaceChildren(el("li", "no rates: this server reads no live rates", "empty"));
    poll("connections", NOW_MS, async () => {
      const { res, body } = await getJSON("/connections.json?limit=" + data.limit);
      const total = Number(res.headers.get("X-Total-Count"));
      setServerTime(res.headers.get("X-Server-Time") || "");
      renderConnections({
        rows: body,
        total: Number.isFinite(total) ? total : body.length,
        server_time: res.headers.get("X-Server-Time") || "",
      });
    });
  }
  renderMetrics(data.metrics);
  poll("metrics", METRICS_MS, async () => {
    const { body } = await getJSON("/metrics.json");
    renderMetrics(body);
  });
  renderAlerts(data.alerts);
  if (data.alerts) {
    poll("alerts", ALERTS_MS, async () => {
      const { body } = await getJSON("/api/alerts?limit=" + data.alerts_limit);
      renderAlerts(body);
    });
  }
})();
