// cad-sidecar dashboard: reads the admin API (/api/v1/, /readyz) every few seconds and
// renders it; no framework, no build step, nothing from outside the admin listener
// (Content-Security-Policy: default-src 'self'). Every value is put into the page with
// textContent, never as HTML. Note text is fetched (content=1) only while the operator
// has ticked "Show note content".
"use strict";

(function () {
  const REFRESH_MS = 3000;
  const TOKEN_KEY = "cad-sidecar.admin-token";

  const $ = (id) => document.getElementById(id);
  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || "",
    needToken: false,
    content: false,
    trace: "", // the incident whose trace is shown
    busy: null, // the running refresh's promise
    again: false, // refresh asked while one ran
  };

  // ---------- the admin API ----------

  class AuthError extends Error {}

  // api fetches a path of the admin listener and returns its JSON. A 401 asks for the
  // token (and throws AuthError); any other error answer throws its {"error"} message.
  async function api(path, opts) {
    opts = opts || {};
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, {
      method: opts.method || "GET",
      headers: headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      cache: "no-store",
      credentials: "omit",
    });
    if (resp.status === 401) {
      askToken(state.token ? "The token was refused: enter it again." : "");
      throw new AuthError("the admin API needs its token");
    }
    let body = null;
    try {
      body = await resp.json();
    } catch (e) {
      body = null;
    }
    if (!resp.ok && !(opts.okStatus && opts.okStatus.includes(resp.status))) {
      const msg = body && body.error ? body.error : resp.status + " " + resp.statusText;
      const err = new Error(msg);
      err.status = resp.status;
      throw err;
    }
    return { status: resp.status, body: body };
  }

  function askToken(msg) {
    state.needToken = true;
    const panel = $("token-panel");
    const wasHidden = panel.hidden;
    panel.hidden = false;
    $("token-error").textContent = msg || "";
    if (wasHidden) $("token-input").focus();
  }

  // ---------- formatting ----------

  function fmtTime(t) {
    if (!t) return "never";
    const d = new Date(t);
    if (isNaN(d)) return String(t);
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace("Z", " UTC");
  }

  function fmtAge(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min" + (s % 60 ? " " + (s % 60) + " s" : "");
    const m = Math.floor((s % 3600) / 60);
    return Math.floor(s / 3600) + " h" + (m ? " " + m + " min" : "");
  }

  function ago(t) {
    if (!t) return "never";
    const d = new Date(t);
    if (isNaN(d)) return String(t);
    return fmtAge((Date.now() - d.getTime()) / 1000) + " ago";
  }

  // when renders a time as "5 s ago", kept current by tickAges (data-at) so that a table is
  // rebuilt only when its data changes.
  function when(t, attrs) {
    return el("span", Object.assign({ "data-at": t || "", title: fmtTime(t), text: ago(t) }, attrs || {}));
  }

  function tickAges() {
    for (const e of document.querySelectorAll("[data-at]")) e.textContent = ago(e.dataset.at);
  }

  // rebuild replaces a table body's rows when sig differs from the last one it was built
  // with, and gives the focus back to the control that had it (a Replay button, an
  // incident link): a keyboard user does not lose the place every refresh.
  const built = new Map();
  function rebuild(tbody, sig, fill) {
    if (built.get(tbody) === sig) return;
    built.set(tbody, sig);
    const a = document.activeElement;
    let again = null;
    if (a && tbody.contains(a)) {
      if (a.dataset.id) again = "button.replay[data-id=\"" + CSS.escape(a.dataset.id) + "\"]";
      else if (a.dataset.incident) again = "button[data-incident=\"" + CSS.escape(a.dataset.incident) + "\"]";
    }
    tbody.replaceChildren();
    fill();
    if (again) {
      const b = tbody.querySelector(again);
      if (b) b.focus();
    }
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // versionLabel is the header's version: "v1.2.3" for a release, a build without one as
  // it is ("dev", "dev-3f2a1c"), nothing when unknown.
  function versionLabel(v) {
    if (!v) return "";
    return /^[0-9]/.test(v) ? "v" + v : v;
  }

  // typeLabel is a note's type, marked when the sidecar made it from the call's summary
  // (as sidecar.NoteTypeLabel): "CALL_COMPLETED (summary fallback)".
  function typeLabel(type, source) {
    return source === "summary_fallback" ? type + " (summary fallback)" : type;
  }

  // setText changes a node's text only when it differs: a live region announces every
  // change, and the same value written again every refresh would be read out again.
  function setText(node, text) {
    text = String(text);
    if (node.textContent !== text) node.textContent = text;
  }

  function setBadge(node, ok, text, warn) {
    const cls = "badge " + (ok ? (warn ? "warn" : "ok") : "bad");
    if (node.className !== cls) node.className = cls;
    setText(node, text);
  }

  function facts(dl, rows) {
    dl.replaceChildren();
    for (const [k, v] of rows) {
      dl.append(el("dt", { text: k }), el("dd", { text: v }));
    }
  }

  function emptyRow(tbody, cols, text) {
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: cols, class: "empty", text: text })));
  }

  // ---------- panels ----------

  function renderHealth(status, ready) {
    const checks = (ready && ready.checks) || (status && status.ready && status.ready.checks) || {};
    const isReady = ready ? ready.ready : status && status.ready ? status.ready.ready : false;
    const list = $("checks");
    list.replaceChildren();
    for (const name of Object.keys(checks).sort()) {
      const c = checks[name];
      const badge = el("span", { class: "badge " + (c.ok ? (c.degraded ? "warn" : "ok") : "bad") }, c.ok ? (c.degraded ? "degraded" : "ok") : "not ok");
      list.append(el("li", {}, name + " ", badge, c.detail ? el("span", { class: "detail", text: " " + c.detail }) : null));
    }
    const degraded = Object.values(checks).some((c) => c.degraded);
    setBadge($("overall"), isReady, isReady ? (degraded ? "Ready (degraded)" : "Ready") : "Not ready", degraded);

    if (!status) {
      for (const id of ["cad-badge", "assist-badge"]) $(id).textContent = "";
      for (const id of ["cad-facts", "assist-facts"]) facts($(id), [["Status", "not available"]]);
      return;
    }
    setText($("version"), versionLabel(status.version));
    const cad = status.cad || {};
    const poll = checks.cad_poll, write = checks.cad_write;
    const cadOK = (poll ? poll.ok : cad.last_poll_ok) && (!write || write.ok);
    setBadge($("cad-badge"), cadOK, cadOK ? "reachable" : "failing", write && write.degraded);
    facts($("cad-facts"), [
      ["Adapter", (cad.adapter || "–") + (cad.sink && cad.sink !== cad.adapter ? " (notes: " + cad.sink + ")" : "")],
      ["Last contact", ago(cad.last_contact)],
      ["Last poll", ago(cad.last_poll) + (cad.last_poll_ok === false ? " (failed)" : "")],
      ["Poll error", cad.last_poll_error || "none"],
      ["Cursor", cad.cursor ? cad.cursor + (cad.cursor_kind ? " (" + cad.cursor_kind + ")" : "") : "not set"],
      ["Mode", status.mode || "normal"],
    ]);
    const as = status.assist || {};
    const hook = as.webhook || {};
    const asOK = checks.webhook ? checks.webhook.ok : !!hook.registered;
    setBadge($("assist-badge"), asOK, asOK ? "connected" : "not registered");
    facts($("assist-facts"), [
      ["Last contact", ago(as.last_contact)],
      ["Webhook", hook.registered ? "registered" + (hook.id ? " (" + hook.id + ")" : "") : "not registered"],
      ["Started", fmtTime(status.started_at)],
    ]);
  }

  function renderOutbox(status, deadTotal) {
    const ob = (status && status.outbox) || {};
    const note = ob.note || {}, link = ob.link || {};
    setText($("note-depth"), note.depth ?? "–");
    setText($("note-age"), note.depth ? fmtAge(note.oldest_age_seconds) : "–");
    setText($("link-depth"), link.depth ?? "–");
    setText($("link-age"), link.depth ? fmtAge(link.oldest_age_seconds) : "–");
    setText($("dead-total"), deadTotal ?? "–");
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // renderChart draws the history as three lines over the last hour (hand-written SVG).
  function renderChart(hist) {
    const chart = $("chart");
    const samples = (hist && hist.samples) || [];
    const W = 640, H = 170, L = 36, R = 8, T = 10, B = 22;
    const desc = svg("desc", { id: "chart-desc" });
    chart.replaceChildren(desc);
    const now = Date.now();
    // The last hour, or less while the sidecar has not run that long (at least 10 samples wide).
    const interval = ((hist && hist.interval_seconds) || 30) * 1000;
    const first = samples.length ? new Date(samples[0].at).getTime() : now;
    const span = Math.min(3600 * 1000, Math.max(now - first, 10 * interval));
    const t0 = now - span;
    const maxY = Math.max(1, ...samples.map((s) => Math.max(s.note_depth, s.link_depth, s.dead)));
    const x = (t) => L + ((t - t0) / span) * (W - L - R);
    const y = (v) => T + (1 - v / maxY) * (H - T - B);
    for (const f of [0, 0.5, 1]) {
      const v = Math.round(maxY * f);
      chart.append(svg("line", { class: "grid-line", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      chart.append(svg("text", { class: "axis-label", x: L - 6, y: y(v) + 4, "text-anchor": "end" }, String(v)));
    }
    [["−" + fmtAge(span / 1000), t0, "start"], ["−" + fmtAge(span / 2000), t0 + span / 2, "middle"], ["now", now, "end"]].forEach(([label, t, anchor]) => {
      chart.append(svg("text", { class: "axis-label", x: x(t), y: H - 6, "text-anchor": anchor }, label));
    });
    for (const [key, cls] of [["link_depth", "link"], ["dead", "dead"], ["note_depth", "note"]]) {
      const pts = samples
        .map((s) => [new Date(s.at).getTime(), s[key]])
        .filter(([t]) => t >= t0)
        .map(([t, v]) => x(t).toFixed(1) + "," + y(v).toFixed(1));
      if (pts.length === 1) pts.push(pts[0].replace(/^[\d.]+/, (m) => String(Number(m) + 2)));
      if (pts.length) chart.append(svg("polyline", { class: "series " + cls, points: pts.join(" ") }));
    }
    if (!samples.length) {
      desc.textContent = "No samples yet.";
      return;
    }
    const last = samples[samples.length - 1];
    const peak = Math.max(...samples.map((s) => s.note_depth));
    desc.textContent = samples.length + " samples every " + hist.interval_seconds + " s. Now: " + last.note_depth +
      " notes and " + last.link_depth + " links waiting, " + last.dead + " dead letters; at most " + peak + " notes waiting in the last hour.";
    $("chart-caption").textContent = (span >= 3600 * 1000 ? "Last hour" : "Since " + fmtAge(span / 1000) + " ago") +
      " (a sample every " + hist.interval_seconds + " s; kept for an hour)";
  }

  function renderLinks(status, page) {
    const tbody = $("links-table").tBodies[0];
    if (!page) {
      setText($("link-count"), status && status.links ? status.links.count : "–");
      built.delete(tbody);
      emptyRow(tbody, 6, "Not available.");
      return;
    }
    const links = page.links || [];
    setText($("link-count"), status && status.links ? status.links.count : links.length);
    rebuild(tbody, JSON.stringify(links), () => {
      if (!links.length) {
        emptyRow(tbody, 6, "No incident is linked.");
        return;
      }
      for (const l of links) {
        const open = el("button", {
          type: "button", class: "linkish", text: l.incident_id, "data-incident": l.incident_id,
          "aria-label": "Show the trace of incident " + l.incident_id,
          onclick: () => showTrace(l.incident_id, true),
        });
        let note = "none";
        if (l.last_note) {
          const n = l.last_note;
          note = el("span", {},
            typeLabel(n.type, n.source) + " ",
            el("span", { class: "state-" + n.state, text: n.state }),
            n.critical ? el("span", { class: "critical", text: " critical" }) : null,
            " · ", when(n.at));
        }
        tbody.append(el("tr", {},
          el("th", { scope: "row" }, open),
          el("td", { class: "mono", text: l.call_id || "–" }),
          el("td", { text: l.call_status || "–" }),
          el("td", {}, when(l.linked_at)),
          el("td", {}, note),
          el("td", { class: "num", text: String(l.queued_notes || 0) })));
      }
      if (page.next) {
        tbody.append(el("tr", {}, el("td", { colspan: 6, class: "empty", text: "Showing the first " + links.length + "; cad-sidecar links lists them all." })));
      }
    });
  }

  function deadTotal(page) {
    if (!page || !page.total) return null;
    return Object.values(page.total).reduce((a, b) => a + b, 0);
  }

  function renderDead(page) {
    const tbody = $("dead-table").tBodies[0];
    setText($("dead-count"), deadTotal(page) ?? "–");
    if (!page) {
      built.delete(tbody);
      emptyRow(tbody, 8, "Not available.");
      return;
    }
    const list = page.dead_letters || [];
    rebuild(tbody, JSON.stringify([list, state.content]), () => {
      if (!list.length) {
        emptyRow(tbody, 8, "No dead letters.");
        return;
      }
      for (const d of list) {
        const btn = el("button", {
          type: "button", class: "replay", "data-id": d.id, text: "Replay",
          "aria-label": "Replay dead letter " + d.id + " of incident " + d.incident_id,
          onclick: () => replay(d.id, btn),
        });
        tbody.append(el("tr", { "data-id": d.id },
          el("th", { scope: "row", class: "mono", text: d.id }),
          el("td", {}, el("button", { type: "button", class: "linkish", text: d.incident_id, "data-incident": d.incident_id, "aria-label": "Show the trace of incident " + d.incident_id, onclick: () => showTrace(d.incident_id, true) })),
          el("td", {}, typeLabel(d.type, d.source), d.critical ? el("span", { class: "critical", text: " critical" }) : null),
          el("td", { class: "num", text: String(d.attempts) }),
          el("td", {}, when(d.dead_at)),
          el("td", { text: d.reason }),
          el("td", { class: "content-col", text: state.content ? d.text || "" : "" }),
          el("td", {}, btn)));
      }
      if (page.next) {
        tbody.append(el("tr", {}, el("td", { colspan: 8, class: "empty", text: "Showing the first " + list.length + "; cad-sidecar deadletter list shows them all." })));
      }
    });
  }

  async function replay(id, btn) {
    btn.disabled = true;
    $("dead-status").textContent = "Replaying " + id + "…";
    try {
      await api("/api/v1/deadletters/" + encodeURIComponent(id) + "/replay", { method: "POST", body: {} });
      $("dead-status").textContent = "Replayed " + id + ": it is queued for delivery again.";
    } catch (e) {
      if (!(e instanceof AuthError)) $("dead-status").textContent = "Replay of " + id + " failed: " + e.message;
      btn.disabled = false;
    }
    refresh();
  }

  async function showTrace(incident, focus) {
    incident = (incident || "").trim();
    if (!incident) return;
    state.trace = incident;
    $("trace-input").value = incident;
    if (focus) $("trace").scrollIntoView({ block: "start" });
    await loadTrace(true);
    if (focus) $("trace-table").hidden ? $("trace-input").focus() : $("trace-h").focus();
  }

  async function loadTrace(announce) {
    const incident = state.trace;
    if (!incident) return;
    const table = $("trace-table"), tbody = table.tBodies[0], status = $("trace-status");
    try {
      const r = await api("/api/v1/trace/" + encodeURIComponent(incident));
      if (incident !== state.trace) return;
      const evs = r.body.events || [];
      rebuild(tbody, incident + "\n" + JSON.stringify(evs), () => {
        for (const ev of evs) {
          tbody.append(el("tr", {},
            el("td", { class: "mono", text: fmtTime(ev.at) }),
            el("td", { text: ev.kind }),
            el("td", { class: "mono id", title: ev.call_id, text: ev.call_id || "" }),
            el("td", { class: "mono id", title: ev.note_id, text: ev.note_id || "" }),
            el("td", { text: ev.detail || "" })));
        }
      });
      table.hidden = false;
      const msg = "Incident " + incident + ": " + evs.length + " events" + (r.body.truncated ? " (the oldest were dropped)" : "") + ".";
      if (announce) status.textContent = "";
      setText(status, msg);
    } catch (e) {
      if (e instanceof AuthError || incident !== state.trace) return;
      table.hidden = true;
      built.delete(tbody);
      setText(status, (e.status === 404 ? "No trace: " : "The trace of " + incident + " failed: ") + e.message);
    }
  }

  async function runMapper(ev) {
    ev.preventDefault();
    const out = $("map-outcome"), pre = $("map-request"), tbody = $("map-explain").tBodies[0];
    const btn = $("map-submit");
    btn.disabled = true;
    out.className = "";
    out.textContent = "Mapping…";
    try {
      const r = await api("/api/v1/map", { method: "POST", body: { text: $("map-input").value, format: $("map-format").value } });
      const a = r.body;
      out.className = a.outcome;
      out.textContent = a.outcome === "mapped" ? "Mapped: this is what Assist would receive." :
        a.outcome === "filtered" ? "Filtered out: " + a.reason : "Mapping failed: " + a.error;
      pre.textContent = a.request ? JSON.stringify(a.request, null, 2) : "(no request)";
      tbody.replaceChildren();
      for (const x of a.explain || []) {
        const steps = (x.steps || []).map((s) => s.transform + " → " + JSON.stringify(s.value)).join("\n");
        const result = x.error ? "error: " + x.error : x.omitted ? "(omitted)" : x.value === null ? "–" : JSON.stringify(x.value);
        tbody.append(el("tr", { class: x.error ? "failed" : "" },
          el("th", { scope: "row", text: x.field === x.key ? x.field : x.field + " (" + x.key + ")" }),
          el("td", { class: "mono", text: x.source }),
          el("td", { class: "mono", text: x.raw === null ? "(not in record)" : JSON.stringify(x.raw) }),
          el("td", { class: "mono", text: steps }),
          el("td", { class: "mono" + (x.error ? " critical" : ""), text: result })));
      }
    } catch (e) {
      if (!(e instanceof AuthError)) {
        out.className = "failed";
        out.textContent = "The record was refused: " + e.message;
        pre.textContent = "–";
        tbody.replaceChildren();
      }
    } finally {
      btn.disabled = false;
    }
  }

  // ---------- refresh loop ----------

  function settle(p) {
    return p.then((r) => ({ ok: true, value: r }), (e) => ({ ok: false, error: e }));
  }

  function showError(id, res) {
    setText($(id), res.ok || res.error instanceof AuthError ? "" : res.error.message);
  }

  // refresh reads every panel's data once. Asked while a refresh runs (a new token, a
  // replay), it runs again right after that one, so the answer reflects the change.
  async function refresh() {
    if (state.busy) {
      state.again = true;
      return state.busy;
    }
    let done;
    state.busy = new Promise((resolve) => (done = resolve));
    try {
      do {
        state.again = false;
        await refreshOnce();
      } while (state.again);
    } finally {
      state.busy = null;
      done();
    }
  }

  async function refreshOnce() {
    const dl = "/api/v1/deadletters?limit=100" + (state.content ? "&content=1" : "");
    const [st, ready, links, hist, dead] = await Promise.all([
      settle(api("/api/v1/status")),
      settle(api("/readyz", { okStatus: [503] })),
      settle(api("/api/v1/links?limit=200")),
      settle(api("/api/v1/history")),
      settle(api(dl)),
    ]);
    const status = st.ok ? st.value.body : null;
    renderHealth(status, ready.ok ? ready.value.body : null);
    setText($("health-error"), st.ok || st.error instanceof AuthError ? "" : "Status: " + st.error.message);
    const deadPage = dead.ok ? dead.value.body : null;
    renderOutbox(status, deadTotal(deadPage));
    renderChart(hist.ok ? hist.value.body : null);
    showError("outbox-error", hist);
    renderLinks(status, links.ok ? links.value.body : null);
    showError("links-error", links);
    renderDead(deadPage);
    showError("dead-error", dead);
    if (state.trace) await loadTrace(false);
    const authFailed = [st, links, hist, dead].some((r) => !r.ok && r.error instanceof AuthError);
    if (!authFailed) {
      state.needToken = false;
      $("token-panel").hidden = true;
    }
    tickAges();
    $("forget-token").hidden = !state.token;
    setText($("updated"), "Updated " + fmtTime(new Date().toISOString()) + "; refreshed every " + REFRESH_MS / 1000 + " s.");
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  }

  function init() {
    $("refresh").addEventListener("click", refresh);
    $("show-content").addEventListener("change", (e) => {
      state.content = e.target.checked;
      document.body.classList.toggle("content", state.content);
      refresh();
    });
    $("token-form").addEventListener("submit", (e) => {
      e.preventDefault();
      state.token = $("token-input").value.trim();
      sessionStorage.setItem(TOKEN_KEY, state.token);
      $("token-input").value = "";
      $("token-error").textContent = "Checking…";
      refresh().then(() => {
        if (!state.needToken) $("overall").focus();
      });
    });
    $("forget-token").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = "";
      refresh();
    });
    $("trace-form").addEventListener("submit", (e) => {
      e.preventDefault();
      showTrace($("trace-input").value, false);
    });
    $("map-form").addEventListener("submit", runMapper);
    $("overall").tabIndex = -1;
    $("trace-h").tabIndex = -1;
    refresh();
    setInterval(() => {
      if (!document.hidden && !state.needToken) refresh();
    }, REFRESH_MS);
  }

  document.addEventListener("DOMContentLoaded", init);
})();
