// netmon pages' shared code: formatting, the element builder, fetching
// and polling. Every page loads this first; it defines window.NM and
// nothing else. Nothing from the server is ever parsed as HTML: el sets
// textContent, so a hostile name is shown as text.
"use strict";

(function () {
  const TIMEOUT_MS = 5000;

  // humanBytes is n in IEC units: "9 B", "1.5 KiB", "20 KiB".
  function humanBytes(n) {
    if (n < 10) {
      return n + " B";
    }
    const sizes = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    const e = Math.floor(Math.log(n) / Math.log(1024));
    const val = Math.floor((n / Math.pow(1024, e)) * 10 + 0.5) / 10;
    return (val < 10 ? val.toFixed(1) : val.toFixed(0)) + " " + sizes[e];
  }

  // humanRate is a rate given in bits per second, in SI units as ISP
  // plans are quoted: "840 bit/s", "1.2 kbit/s", "16 Mbit/s"; with unit
  // "bytes" in bytes per second ("2.0 MB/s"). null or undefined (no rate
  // yet) is "–", never 0.
  function humanRate(bps, unit) {
    if (bps === null || bps === undefined) {
      return "–";
    }
    let v = bps;
    let names = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
    if (unit === "bytes") {
      v = bps / 8;
      names = ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"];
    }
    let e = 0;
    while (v >= 1000 && e < names.length - 1) {
      v /= 1000;
      e++;
    }
    const s = e === 0 ? String(Math.round(v)) : v < 10 ? v.toFixed(1) : v.toFixed(0);
    return s + " " + names[e];
  }

  // ago is how long before nowMs the time iso was, coarsely: "just now",
  // "42 s ago", "5 min ago", "3 h ago", "2 d ago".
  function ago(nowMs, iso) {
    const s = Math.floor((nowMs - Date.parse(iso)) / 1000);
    if (!(s >= 1)) {
      return "just now";
    }
    if (s < 60) {
      return s + " s ago";
    }
    if (s < 3600) {
      return Math.floor(s / 60) + " min ago";
    }
    if (s < 48 * 3600) {
      return Math.floor(s / 3600) + " h ago";
    }
    return Math.floor(s / 86400) + " d ago";
  }

  // span is a duration in seconds in the largest unit that divides it
  // exactly: "4 s", "1 min", "2 h".
  function span(s) {
    for (const [n, unit] of [[86400, "d"], [3600, "h"], [60, "min"]]) {
      if (s >= n && s % n === 0) {
        return s / n + " " + unit;
      }
    }
    return s + " s";
  }

  // comma is a counter with thousands separators: "262,144".
  function comma(n) {
    return Number(n).toLocaleString("en-US");
  }

  // clock is d's local time of day, "20:31:05".
  function clock(d) {
    const p = (n) => String(n).padStart(2, "0");
    return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }

  // el makes an element with text (as text, never markup) and a class.
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) {
      e.textContent = text;
    }
    if (cls) {
      e.className = cls;
    }
    return e;
  }

  // getJSON fetches url, uncached, with a timeout; a 401 (the session
  // ended) goes to the login page.
  async function getJSON(url) {
    const res = await fetch(url, { cache: "no-store", signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (res.status === 401) {
      location.assign("/login");
      throw new Error(url + ": HTTP 401");
    }
    if (!res.ok) {
      throw new Error(url + ": HTTP " + res.status);
    }
    return { res: res, body: await res.json() };
  }

  // poll runs fn every ms milliseconds, the next run starting after the
  // last one finished, and keeps going whatever happens; in a hidden tab
  // it waits, and runs at once when the tab shows again. state is
  // {okAt, failing}, updated after every run; then onDone(state) runs.
  function poll(state, ms, fn, onDone) {
    let timer = 0;
    const tick = async () => {
      timer = 0;
      if (document.hidden) {
        return;
      }
      try {
        await fn();
        state.okAt = new Date();
        state.failing = false;
        state.polls = (state.polls || 0) + 1;
      } catch (err) {
        state.failing = true;
      }
      if (onDone) {
        onDone(state);
      }
      timer = setTimeout(tick, ms);
    };
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && timer === 0) {
        tick();
      }
    });
    timer = setTimeout(tick, ms);
  }

  window.NM = { humanBytes, humanRate, ago, span, comma, clock, el, getJSON, poll };
})();

// Additions for the Now page (and any other): counts with their noun,
// one absolute time format, and the rate sparkline.
(function () {
  const SVG = "http://www.w3.org/2000/svg";

  // plural is n with thousands separators and its noun: "1 cycle",
  // "1,234 cycles".
  function plural(n, one, many) {
    return NM.comma(n) + " " + (n === 1 ? one : many || one + "s");
  }

  // stamp is the time iso in the page's one absolute format, local:
  // "2026-12-01 20:31:05" ("" for a missing or bad time).
  function stamp(iso) {
    const d = new Date(iso);
    if (!iso || isNaN(d.getTime())) {
      return "";
    }
    const p = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + NM.clock(d);
  }

  // sparkline draws points ([unix ms, up, down], oldest first) between
  // fromMs and toMs as an SVG w x h: downlink as a filled area, uplink as
  // a line, both on one scale (the larger of the two peaks).
  function sparkline(points, fromMs, toMs, w, h) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("class", "spark");
    svg.setAttribute("aria-hidden", "true");
    let peak = 1;
    for (const p of points) {
      peak = Math.max(peak, p[1], p[2]);
    }
    const spanMs = Math.max(toMs - fromMs, 1);
    const x = (t) => (((t - fromMs) / spanMs) * w).toFixed(1);
    const y = (v) => (h - 1 - (v / peak) * (h - 2)).toFixed(1);
    if (points.length > 0) {
      const down = points.map((p) => x(p[0]) + "," + y(p[2]));
      const area = document.createElementNS(SVG, "polygon");
      area.setAttribute("points", x(points[0][0]) + "," + h + " " + down.join(" ") + " " + x(points[points.length - 1][0]) + "," + h);
      area.setAttribute("class", "dn");
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("points", points.map((p) => x(p[0]) + "," + y(p[1])).join(" "));
      line.setAttribute("class", "up");
      svg.append(area, line);
    }
    return svg;
  }

  Object.assign(window.NM, { plural, stamp, sparkline });
})();
