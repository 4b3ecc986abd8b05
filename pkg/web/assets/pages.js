// netmon's Device, Remote host and History pages: the one renderer of
// each. The page's JSON block names the URLs the page shows (urls) and
// holds their first answers (answers); load() takes an answer from the
// block the first time and from the server after, so the first paint
// and every refresh run the same code. Every value is set as text
// (NM.el, textContent); nothing from the server is parsed as HTML.
"use strict";

(function () {
  const data = JSON.parse(document.getElementById("netmon-data").textContent);
  const root = document.getElementById("page");
  const main = document.getElementById("netmon");
  const block = data.answers || {};
  const el = NM.el;
  const TIMEOUT_MS = 5000;
  const DAY = 86400;

  // load answers url as {status, body, total}: from the block the first
  // time, then from the server. An error status is an answer too (its
  // body is {"error": ...}); a network failure or a 401 throws.
  async function load(url) {
    if (Object.prototype.hasOwnProperty.call(block, url)) {
      const a = block[url];
      delete block[url];
      return a;
    }
    const res = await fetch(url, { cache: "no-store", signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (res.status === 401) {
      location.assign("/login");
      throw new Error(url + ": HTTP 401");
    }
    const total = res.headers.get("X-Total-Count");
    const a = { status: res.status, body: await res.json() };
    if (total !== null) {
      a.total = Number(total);
    }
    return a;
  }

  // date is an RFC 3339 time as a local "2026-11-25 18:02", "–" for none.
  function date(iso) {
    if (!iso) {
      return "–";
    }
    const d = new Date(iso);
    const p = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes());
  }

  // link is an <a> to href with text.
  function link(href, text, cls) {
    const a = el("a", text, cls);
    a.href = href;
    return a;
  }

  // named is a link showing name (or, without one, key) with key on a
  // second line when the name stands in for it.
  function named(href, name, key, cls) {
    const f = document.createDocumentFragment();
    f.append(link(href, name || key, cls));
    if (name) {
      f.append(el("span", key, "sub addr"));
    }
    return f;
  }

  function deviceHref(id) {
    return "/devices/" + encodeURIComponent(id);
  }

  function remoteHref(addr) {
    return "/remotes/" + encodeURIComponent(addr);
  }

  // section is a titled panel; its body is returned.
  function section(title, cls) {
    const s = el("section", undefined, "panel " + (cls || ""));
    s.append(el("h2", title));
    root.append(s);
    return s;
  }

  // facts fills a panel with label/value pairs.
  function facts(parent, pairs) {
    const dl = el("dl", undefined, "facts");
    for (const [k, v] of pairs) {
      dl.append(el("dt", k), el("dd", v));
    }
    parent.append(dl);
  }

  // bytesCell is a size with its exact byte count as the title.
  function bytesCell(n) {
    const s = el("span", NM.humanBytes(n || 0));
    s.title = NM.comma(n || 0) + " bytes";
    return s;
  }

  // table renders rows into a table whose rows become cards on a phone
  // (each cell labelled by its column, style.css). cols: {label, cls,
  // cell(row) -> Node|string, sort(row) -> value}. With sort.key set the
  // headers of sortable columns sort on click.
  function table(parent, cols, rows, empty, sort) {
    let t = parent.querySelector("table.ptable");
    if (!t) {
      t = el("table", undefined, sort ? "ptable sortable-cards" : "ptable");
      const head = el("tr");
      cols.forEach((c, i) => {
        const th = el("th", c.label, c.cls);
        if (sort && c.sort) {
          th.classList.add("sortable");
          th.tabIndex = 0;
          th.dataset.col = String(i);
          const go = () => {
            sort.dir = sort.col === i ? -sort.dir : c.num ? -1 : 1;
            sort.col = i;
            sort.render();
          };
          th.addEventListener("click", go);
          th.addEventListener("keydown", (e) => {
            if (e.key === "Enter" || e.key === " ") {
              e.preventDefault();
              go();
            }
          });
        }
        head.append(th);
      });
      const thead = el("thead");
      thead.append(head);
      t.append(thead, el("tbody"));
      parent.append(t);
    }
    if (sort && sort.col !== undefined) {
      const c = cols[sort.col];
      rows = rows.slice().sort((a, b) => {
        const x = c.sort(a);
        const y = c.sort(b);
        return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
      });
      t.querySelectorAll("th").forEach((th) => {
        th.removeAttribute("aria-sort");
        if (th.dataset.col === String(sort.col)) {
          th.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
        }
      });
    }
    const body = el("tbody");
    for (const r of rows) {
      const tr = el("tr");
      for (const c of cols) {
        const td = el("td", undefined, c.cls);
        td.dataset.label = c.label;
        const v = c.cell(r);
        td.append(typeof v === "string" ? document.createTextNode(v) : v);
        tr.append(td);
      }
      body.append(tr);
    }
    if (rows.length === 0) {
      const tr = el("tr", undefined, "empty");
      const td = el("td", empty);
      td.colSpan = cols.length;
      tr.append(td);
      body.append(tr);
    }
    t.tBodies[0].replaceWith(body);
  }

  // note shows an answer's error in a panel instead of its content.
  function note(parent, a) {
    let p = parent.querySelector("p.note");
    if (!p) {
      p = el("p", undefined, "note");
      parent.append(p);
    }
    p.textContent = a && a.body && a.body.error ? a.body.error : "";
    p.hidden = p.textContent === "";
  }

  // css reads a colour the style sheet defines for the charts.
  function css(name) {
    return getComputedStyle(main).getPropertyValue(name).trim();
  }

  // bucketSeconds is about how long one bucket of res lasts.
  const bucketSeconds = { hour: 3600, day: 86400, month: 31 * 86400 };

  // Chart is a uPlot bar chart of uplink and downlink bytes per bucket
  // over the last spanDays days (at least: older buckets widen it), so a
  // chart with one bucket still shows its period, not one bar stretched
  // over years. render(cols) takes the columns of a history answer.
  function Chart(parent, title, res, spanDays) {
    const box = el("div", undefined, "chart");
    box.append(el("h3", title));
    const area = el("div", undefined, "chart-area");
    box.append(area);
    parent.append(box);
    let plot = null;
    const width = () => Math.max(200, area.clientWidth || parent.clientWidth || 300);
    const bar = (align) => uPlot.paths.bars({ size: [0.42, 24], align: align });
    const value = (u, v) => (v === null || v === undefined ? "–" : NM.humanBytes(v));
    const dateFmt = res === "month" ? "{YYYY}-{MM}" : res === "day" ? "{YYYY}-{MM}-{DD}" : "{YYYY}-{MM}-{DD} {HH}:00";
    function make(cols) {
      const ink = css("--ink");
      const grid = css("--line");
      const opts = {
        width: width(),
        height: 190,
        cursor: { drag: { x: false, y: false } },
        legend: { live: true },
        scales: {
          x: {
            time: true,
            // From the data itself: uPlot widens a one-point range
            // before it asks.
            range: (u) => {
              const xs = u.data[0] || [];
              const now = Date.now() / 1000;
              const first = xs.length ? xs[0] : now;
              const last = xs.length ? xs[xs.length - 1] : now;
              // Room on the right for the last bucket's two bars.
              const pad = Math.max(bucketSeconds[res], spanDays * 86400 * 0.04);
              return [Math.min(now - spanDays * 86400, first), Math.max(now, last) + pad];
            },
          },
          y: { range: (u, lo, hi) => [0, hi > 0 ? hi * 1.1 : 1024] },
        },
        axes: [
          { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
          {
            stroke: ink, size: 64, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 },
            values: (u, splits) => splits.map((v) => NM.humanBytes(v)),
          },
        ],
        series: [
          {},
          { label: "up", stroke: css("--chart-up"), fill: css("--chart-up"), width: 0, paths: bar(-1), value: value, points: { show: false } },
          { label: "down", stroke: css("--chart-down"), fill: css("--chart-down"), width: 0, paths: bar(1), value: value, points: { show: false } },
        ],
      };
      const when = uPlot.fmtDate(dateFmt);
      opts.series[0].value = (u, v) => (v === null || v === undefined ? "–" : when(new Date(v * 1000)));
      return new uPlot(opts, cols, area);
    }
    this.render = function (a) {
      note(box, a);
      if (a.status !== 200) {
        return;
      }
      const cols = [a.body.t, a.body.uplink_bytes, a.body.downlink_bytes];
      if (plot === null) {
        plot = make(cols);
        window.addEventListener("resize", () => plot.setSize({ width: width(), height: 190 }));
      } else {
        plot.setData(cols);
      }
      box.dataset.points = String(a.body.t.length);
    };
  }

  // stale shows the failing-refresh banner.
  function stale(state) {
    const p = document.getElementById("stale");
    p.hidden = !state.failing;
    p.textContent = state.failing ? "data stale since " + NM.clock(state.okAt || new Date()) + ": the server does not answer" : "";
  }

  // --- Device page -------------------------------------------------------

  function devicePage() {
    const d = data.device || { device: data.key, addresses: [] };
    const title = d.name || data.key;
    document.title = title + " · netmon";
    const head = section("Device", "who");
    const h = el("p", title, "title");
    head.append(h);
    facts(head, [
      ["id", d.device],
      ["MAC", d.mac || "–"],
      ["addresses", d.addresses.length ? d.addresses.join(", ") : "–"],
      ["vendor", d.vendor || "–"],
      ["name from", d.name_source || "–"],
      ["first seen", date(d.first_seen_at)],
      ["last seen", date(d.last_seen_at)],
    ]);

    const rate = section("Rate now", "rate");
    const up = el("p", "–", "big up");
    const down = el("p", "–", "big down");
    const rup = el("div", undefined, "ratebox");
    rup.append(el("span", "up", "lbl"), up);
    const rdown = el("div", undefined, "ratebox");
    rdown.append(el("span", "down", "lbl"), down);
    const rates = el("div", undefined, "rates");
    rates.append(rup, rdown);
    rate.append(rates);
    let since = 0;
    function renderNow(a) {
      note(rate, a);
      if (a.status !== 200) {
        up.textContent = down.textContent = "–";
        return;
      }
      const n = a.body;
      if (n.ticks.length) {
        since = n.ticks[n.ticks.length - 1];
      }
      // Not listed: no traffic for five minutes, idle; before the
      // ingest process's second cycle (at null) nobody has a rate.
      const me = n.devices.find((x) => x.device === data.key);
      const idle = n.at === null ? null : 0;
      up.textContent = NM.humanRate(me ? me.uplink_bps : idle, n.unit);
      down.textContent = NM.humanRate(me ? me.downlink_bps : idle, n.unit);
      rate.dataset.unit = n.unit;
      rate.dataset.active = me ? "true" : "false";
    }

    const charts = section("History", "charts");
    const cs = [
      ["hour", "Last 48 hours, by hour", "hour", 2],
      ["day30", "Last 30 days, by day", "day", 30],
      ["day400", "Last 400 days, by day", "day", 400],
      ["month", "By month", "month", 365],
    ].map(([key, t, res, days]) => [key, new Chart(charts, t, res, days)]);

    const tops = section("Top remote hosts", "tops");
    const topCols = [
      {
        label: "remote host",
        cls: "host",
        cell: (r) => {
          if (!r.remote) {
            return el("span", "all other hosts", "muted");
          }
          return named(remoteHref(r.remote), r.name, r.remote, "addr");
        },
      },
      { label: "up", cls: "num", cell: (r) => bytesCell(r.uplink_bytes) },
      { label: "down", cls: "num", cell: (r) => bytesCell(r.downlink_bytes) },
      { label: "total", cls: "num", cell: (r) => bytesCell(r.total_bytes) },
    ];
    const topBoxes = [
      ["today", "today"],
      ["yesterday", "yesterday"],
      ["7d", "last 7 days"],
    ].map(([key, t]) => {
      const box = el("div", undefined, "top");
      box.dataset.period = key;
      box.append(el("h3", t));
      tops.append(box);
      return [key, box];
    });
    function renderTop(box, a) {
      // 404: no traffic of the device in the period.
      const rows = a.status === 200 ? a.body.remotes : [];
      note(box, a.status === 404 ? null : a);
      table(box, topCols, rows, "no traffic");
    }

    const conns = section("Active connections", "dconns");
    const count = el("p", "", "muted count");
    conns.append(count);
    const connCols = [
      { label: "proto", cls: "proto", cell: (r) => r.proto },
      {
        label: "remote",
        cls: "host",
        cell: (r) => named(remoteHref(r.dst_ip), r.dst_name, r.destination, "addr"),
      },
      { label: "state", cls: "state", cell: (r) => r.state || "–" },
      { label: "rate up", cls: "num", cell: (r) => NM.humanRate(r.uplink_bps, unit()) },
      { label: "rate down", cls: "num", cell: (r) => NM.humanRate(r.downlink_bps, unit()) },
      { label: "total", cls: "num", cell: (r) => bytesCell(r.total_bytes) },
    ];
    const unit = () => rate.dataset.unit || data.unit;
    function renderConns(a) {
      note(conns, a);
      const rows = a.status === 200 ? a.body : [];
      const total = a.total === undefined ? rows.length : a.total;
      count.textContent = rows.length < total ? "the " + NM.comma(rows.length) + " biggest of " + NM.comma(total) : NM.comma(total) + " active";
      table(conns, connCols, rows, "no active connections");
    }

    const u = data.urls;
    async function live() {
      renderNow(await load(since ? u.now + "&since=" + since : u.now));
      renderConns(await load(u.connections));
    }
    async function slow() {
      for (const [key, c] of cs) {
        c.render(await load(u[key]));
      }
      for (const [key, box] of topBoxes) {
        renderTop(box, await load(u[key]));
      }
    }
    return [live, slow];
  }

  // --- Remote host page --------------------------------------------------

  function remotePage() {
    const head = section("Remote host", "who");
    const h = el("p", data.key, "title");
    head.append(h);
    const dl = el("div");
    head.append(dl);
    const devs = section("Devices that talked to it", "rdevs");
    const chart = new Chart(section("History", "charts"), "Last 400 days, by day", "day", 400);
    const cols = [
      {
        label: "device",
        cls: "host",
        cell: (r) => named(deviceHref(r.device), r.name, r.device),
      },
      { label: "today", cls: "num", cell: (r) => bytesCell(r.today) },
      { label: "7 days", cls: "num", cell: (r) => bytesCell(r.d7) },
      { label: "30 days", cls: "num", cell: (r) => bytesCell(r.d30) },
    ];
    const u = data.urls;
    async function slow() {
      const a = { today: await load(u.today), d7: await load(u["7d"]), d30: await load(u["30d"]) };
      const info = [a.today, a.d7, a.d30].find((x) => x.status === 200);
      note(devs, info ? null : a.today);
      if (info) {
        const r = info.body;
        h.textContent = r.name || r.remote;
        document.title = (r.name || r.remote) + " · netmon";
        dl.replaceChildren();
        facts(dl, [
          ["address", r.remote],
          ["name", r.name || "–"],
          ["name from", r.name_source || "–"],
          ["first seen", date(r.first_seen_at)],
        ]);
      }
      // One row per device, its totals of the three periods side by side.
      const rows = new Map();
      for (const k of ["today", "d7", "d30"]) {
        if (a[k].status !== 200) {
          continue;
        }
        for (const d of a[k].body.devices) {
          const r = rows.get(d.device) || { device: d.device, name: d.name, today: 0, d7: 0, d30: 0 };
          r[k] = d.total_bytes;
          r.name = r.name || d.name;
          rows.set(d.device, r);
        }
      }
      const list = [...rows.values()].sort((x, y) => y.d30 - x.d30 || (x.device < y.device ? -1 : 1));
      table(devs, cols, list, "no device talked to it in the last 30 days");
      chart.render(await load(u.days));
    }
    return [null, slow];
  }

  // --- History page ------------------------------------------------------

  function historyPage() {
    document.title = "History · netmon";
    const top = section("History", "hist");
    const picker = el("div", undefined, "picker");
    picker.setAttribute("role", "group");
    picker.setAttribute("aria-label", "period");
    top.append(picker);
    const span = el("p", "", "muted span");
    top.append(span);
    const sum = el("p", "", "summary");
    const csv = link("#", "download CSV", "csv");
    csv.setAttribute("download", "");
    const bar = el("div", undefined, "histbar");
    bar.append(sum, csv);
    top.append(bar);
    const list = el("div", undefined, "histlist");
    top.append(list);
    let current = data.periods.find((p) => p.period === data.period);
    let last = null;
    const sort = { col: undefined, dir: -1, render: () => last && show(last) };
    const cols = [
      {
        label: "device",
        cls: "host",
        sort: (r) => (r.name || r.device).toLowerCase(),
        cell: (r) => named(deviceHref(r.device), r.name, r.device),
      },
      { label: "up", cls: "num", num: true, sort: (r) => r.uplink_bytes, cell: (r) => bytesCell(r.uplink_bytes) },
      { label: "down", cls: "num", num: true, sort: (r) => r.downlink_bytes, cell: (r) => bytesCell(r.downlink_bytes) },
      { label: "total", cls: "num", num: true, sort: (r) => r.total_bytes, cell: (r) => bytesCell(r.total_bytes) },
      { label: "connections", cls: "num", num: true, sort: (r) => r.connections, cell: (r) => NM.comma(r.connections) },
      {
        label: "rate now",
        cls: "num",
        num: true,
        sort: (r) => (r.uplink_bps || 0) + (r.downlink_bps || 0),
        cell: (r) => (r.uplink_bps === null && r.downlink_bps === null ? "–" : "↑ " + NM.humanRate(r.uplink_bps, data.unit) + " ↓ " + NM.humanRate(r.downlink_bps, data.unit)),
      },
    ];
    function show(a) {
      last = a;
      note(top, a);
      const rows = a.status === 200 ? a.body : [];
      let up = 0;
      let down = 0;
      for (const r of rows) {
        up += r.uplink_bytes;
        down += r.downlink_bytes;
      }
      sum.textContent = NM.comma(rows.length) + (rows.length === 1 ? " device" : " devices") + " · up " + NM.humanBytes(up) + " · down " + NM.humanBytes(down);
      table(list, cols, rows, "no traffic in this period", sort);
    }
    const buttons = data.periods.map((p) => {
      const b = el("button", p.label);
      b.type = "button";
      b.dataset.period = p.period;
      b.addEventListener("click", () => {
        current = p;
        window.history.replaceState(null, "", "/history?period=" + encodeURIComponent(p.period));
        refresh().catch(() => {});
      });
      picker.append(b);
      return b;
    });
    async function refresh() {
      for (const b of buttons) {
        b.setAttribute("aria-pressed", String(b.dataset.period === current.period));
      }
      csv.href = current.csv;
      const to = current.period === "yesterday" || current.period === "last-billing" ? date(current.to) : "now";
      span.textContent = "from " + date(current.from) + " to " + to;
      main.dataset.period = current.period;
      show(await load(current.url));
    }
    return [null, refresh];
  }

  // --- start -------------------------------------------------------------

  const pages = { device: devicePage, remote: remotePage, history: historyPage };
  const [live, slow] = pages[data.kind]();
  const state = { okAt: new Date(), failing: false };
  const run = async (fn, name) => {
    await fn();
    main.dataset[name] = String(Number(main.dataset[name] || 0) + 1);
  };
  // The first paint, from the block.
  Promise.all([live && run(live, "livePolls"), slow && run(slow, "slowPolls")]).then(
    () => {
      main.dataset.painted = "true";
    },
    (err) => {
      main.dataset.painted = "error";
      console.warn("netmon: first paint", err);
    },
  );
  if (live) {
    NM.poll(state, 2000, () => run(live, "livePolls"), stale);
  }
  if (slow) {
    NM.poll({}, 5 * 60 * 1000, () => run(slow, "slowPolls"));
  }
})();
