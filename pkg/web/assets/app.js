// netmon dashboard: renders the page from JSON and keeps it fresh. The
// first paint comes from the page's JSON block (#netmon-data), which holds
// what the two polled endpoints answer; every later paint from polling
// them, through the same functions. No framework, and nothing from the
// server is ever parsed as HTML: every value goes into the page through
// textContent or a DOM property, so a hostile string in a connection's
// state is shown as text. The script knows no protocol: the server sends
// each endpoint as text.
"use strict";

(function () {
  const CONN_MS = 1000;
  const METRICS_MS = 2000;

  const root = document.getElementById("netmon");
  const block = document.getElementById("netmon-data");
  if (!root || !block) {
    return;
  }
  const data = JSON.parse(block.textContent);
  const $ = (id) => document.getElementById(id);

  // Polls that failed and the time of their last success (initially the
  // page load, whose data the JSON block holds).
  const loadedAt = new Date();
  const pollers = {
    connections: { okAt: loadedAt, failing: false },
    metrics: { okAt: loadedAt, failing: false },
  };

  const { humanBytes, ago, span, comma, clock, el, getJSON } = NM;

  function row(c, nowMs) {
    const tr = document.createElement("tr");
    tr.dataset.key = c.key;
    tr.append(
      el("td", c.proto),
      el("td", c.source, "addr"),
      el("td", c.destination, "addr"),
      el("td", c.state, "state"),
      el("td", c.flags.join(","), "flags"),
    );
    const cells = [
      [c.uplink_bytes, c.uplink_bytes + " bytes, " + c.uplink_packets + " packets"],
      [c.downlink_bytes, c.downlink_bytes + " bytes, " + c.downlink_packets + " packets"],
      [c.total_bytes, c.total_bytes + " bytes"],
    ];
    for (const [n, title] of cells) {
      const td = el("td", humanBytes(n), "num");
      td.title = title;
      tr.append(td);
    }
    const seen = el("td", ago(nowMs, c.last_seen_at), "seen");
    seen.title = c.last_seen_at;
    tr.append(seen);
    const badge = c.seen_before ? el("span", "SEEN", "badge seen") : el("span", "NEW", "badge new");
    const td = el("td");
    td.append(badge);
    tr.append(td);
    return tr;
  }

  // renderConnections shows one /connections.json answer: {rows, total,
  // server_time}, the body and its X-Total-Count and X-Server-Time.
  function renderConnections(answer) {
    const nowMs = Date.parse(answer.server_time) || Date.now();
    const conns = answer.rows;
    const rows = conns.map((c) => row(c, nowMs));
    if (rows.length === 0) {
      const tr = el("tr", undefined, "empty");
      const td = el("td", "no active outbound connections");
      td.colSpan = 10;
      tr.append(td);
      rows.push(tr);
    }
    $("rows").replaceChildren(...rows);
    $("shown").textContent = String(conns.length);
    $("total").textContent = String(answer.total);
  }

  function rate(v) {
    return v === null || v === undefined ? "–" : humanBytes(Math.floor(v)) + "/s";
  }

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
      tr.append(
        el("th", dir),
        el("td", humanBytes(it[dir + "_bytes"]), dir),
        el("td", rate(it[dir + "_bytes_per_second"]), dir + "-rate"),
        el("td", comma(it[dir + "_packets"]) + " pkts", dir + "-packets"),
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
      return;
    }
    const nowMs = Date.parse(m.at) || Date.now();
    const l = m.load;
    $("load").textContent = [l.load1, l.load5, l.load15].map((x) => x.toFixed(2)).join("  ");
    $("mem").textContent = humanBytes(m.memory.used_bytes) + " / " + humanBytes(m.memory.total_bytes);
    $("mem-bar").max = Math.max(m.memory.total_bytes, 1);
    $("mem-bar").value = m.memory.used_bytes;

    const ct = m.conntrack;
    $("tile-conntrack").hidden = !ct;
    if (ct) {
      $("ct-text").textContent = ct.error ? "–" : comma(ct.count) + " / " + comma(ct.max);
      $("ct-bar").max = Math.max(ct.max, 1);
      $("ct-bar").value = ct.error ? 0 : ct.count;
      $("ct-error").textContent = ct.error || "";
    }
    $("ifaces").replaceChildren(...(m.interfaces || []).map(ifaceTile));

    const ing = m.ingest;
    const text = $("ingest-text");
    text.textContent = ing.last_cycle_at
      ? ago(nowMs, ing.last_cycle_at) + " · " + comma(ing.cycles) + " cycles"
      : "no cycle yet";
    text.classList.toggle("bad", !ing.healthy);
    $("ingest-detail").textContent = ing.reason || "";
  }

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
    NM.poll(pollers[name], ms, fn, (state) => {
      root.dataset[name + "Polls"] = String(state.polls || 0);
      updateStale();
    });
  }

  $("window").textContent = span(data.new_host_window_seconds);
  renderConnections(data.connections);
  renderMetrics(data.metrics);

  poll("connections", CONN_MS, async () => {
    const { res, body } = await getJSON("/connections.json?limit=" + data.limit);
    const total = Number(res.headers.get("X-Total-Count"));
    renderConnections({
      rows: body,
      total: Number.isFinite(total) ? total : body.length,
      server_time: res.headers.get("X-Server-Time") || "",
    });
  });
  poll("metrics", METRICS_MS, async () => {
    const { body } = await getJSON("/metrics.json");
    renderMetrics(body);
  });
})();
