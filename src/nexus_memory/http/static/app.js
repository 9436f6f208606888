// Nexus Memory dashboard: plain JavaScript, no framework, no network beyond this server.
"use strict";

const API = "/api/v1";
const state = { token: null, results: [], query: "", offset: 0, enums: {}, ws: null, liveCount: 0 };
const $ = (sel) => document.querySelector(sel);

// ---------------------------------------------------------------- helpers
function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
// FTS snippets mark matches as [word]; escape first, then turn the brackets into <mark>.
function highlight(snippet) {
  return esc(snippet).replace(/\[([^\[\]]+)\]/g, "<mark>$1</mark>");
}
function when(iso) {
  if (!iso) return "-";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}
function toast(text) {
  const el = $("#toast");
  el.textContent = text;
  el.classList.remove("hidden");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.add("hidden"), 4000);
}

async function api(path, options = {}) {
  const headers = { "content-type": "application/json", ...(options.headers || {}) };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  const res = await fetch(API + path, { ...options, headers });
  if (res.status === 401) {
    $("#token-box").classList.remove("hidden");
    throw new Error("this server needs an API token");
  }
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : null;
  if (!res.ok) {
    const msg = body ? `${body.message}${body.hint ? ` (${body.hint})` : ""}` : `HTTP ${res.status}`;
    throw new Error(msg);
  }
  return body;
}

function options(select, values, keepFirst = true) {
  const first = keepFirst ? select.options[0].outerHTML : "";
  select.innerHTML = first + values.map((v) => `<option value="${esc(v)}">${esc(v)}</option>`).join("");
}

// ---------------------------------------------------------------- search
function filters() {
  const val = (id) => $(id).value.trim();
  const f = {};
  if (val("#f-agent")) f.agent_type = val("#f-agent");
  if (val("#f-category")) f.category = val("#f-category");
  if (val("#f-lane")) f.memory_lane_type = val("#f-lane");
  if (val("#f-level")) f.cognitive_level = val("#f-level");
  if (val("#f-session")) f.session_key = val("#f-session");
  if (val("#f-label")) f.labels = [val("#f-label")];
  if (val("#f-since")) f.since = `${val("#f-since")}T00:00:00Z`;
  if (val("#f-until")) f.until = `${val("#f-until")}T23:59:59Z`;
  if ($("#f-archived").checked) f.include_archived = true;
  return f;
}

function resultItem(memory, score, snippet) {
  const li = document.createElement("li");
  li.className = "result";
  li.dataset.id = memory.id;
  li.setAttribute("data-testid", "result");
  const text = snippet ? highlight(snippet) : esc(memory.content.length > 400 ? memory.content.slice(0, 400) + "…" : memory.content);
  li.innerHTML = `
    <a class="content" href="#/memory/${memory.id}">${text}</a>
    <div class="meta">
      <span class="id">#${memory.id}</span>
      <span class="tag agent">${esc(memory.agent_type)}</span>
      <span class="tag">${esc(memory.category)}</span>
      <span class="tag level">${esc(memory.cognitive_level)}</span>
      ${memory.memory_lane_type ? `<span class="tag">${esc(memory.memory_lane_type)}</span>` : ""}
      ${memory.labels.map((l) => `<span class="label">${esc(l)}</span>`).join("")}
      ${memory.is_archived ? '<span class="tag archived">archived</span>' : ""}
      <span class="when">${when(memory.created_at)}</span>
      ${score !== null ? `<span class="score" data-testid="score">score ${score.toFixed(3)}</span>` : ""}
    </div>`;
  return li;
}

async function runSearch(append = false) {
  const q = $("#q").value.trim();
  state.query = q;
  const list = $("#results");
  try {
    if (q) {
      const body = { query: q, limit: 50, explain: true, ...filters() };
      const res = await api("/memories/search", { method: "POST", body: JSON.stringify(body) });
      list.innerHTML = "";
      res.results.forEach((h) => list.appendChild(resultItem(h.memory, h.score, h.highlight)));
      $("#search-summary").textContent = `${res.count} result${res.count === 1 ? "" : "s"} for “${q}”`;
      $("#more").classList.add("hidden");
    } else {
      if (!append) state.offset = 0;
      const params = new URLSearchParams({ limit: "25", offset: String(state.offset) });
      const f = filters();
      for (const [k, v] of Object.entries(f)) params.append(k === "labels" ? "label" : k, Array.isArray(v) ? v[0] : v);
      const page = await api(`/memories?${params}`);
      if (!append) list.innerHTML = "";
      page.items.forEach((m) => list.appendChild(resultItem(m, null, null)));
      $("#search-summary").textContent = `${page.total} memor${page.total === 1 ? "y" : "ies"}, newest first`;
      state.offset = page.next_offset ?? state.offset;
      $("#more").classList.toggle("hidden", page.next_offset === null);
    }
  } catch (err) {
    $("#search-summary").textContent = err.message;
  }
}

// ---------------------------------------------------------------- memory page
function evidenceList(items) {
  if (!items.length) return '<p class="muted">none</p>';
  return `<ul>${items.map((e) => `<li><a href="#/memory/${e.id}">#${e.id}</a> <span class="tag">${esc(e.role)}</span>
    <span class="tag level">${esc(e.level)}</span> ${esc(e.content ?? "(deleted)")}</li>`).join("")}</ul>`;
}

async function showMemory(id) {
  const box = $("#memory");
  box.innerHTML = '<p class="muted">loading…</p>';
  let m;
  let lineage = { sources: [], derived: [], relations: [] };
  try {
    m = await api(`/memories/${id}?touch=true`);
    lineage = await api(`/memories/${id}/lineage`);
  } catch (err) {
    box.innerHTML = `<p class="error" data-testid="memory-error">${esc(err.message)}</p>`;
    if (!m) return;
  }
  const cog = (m.metadata && m.metadata.cognitive) || {};
  const rest = { ...m.metadata };
  delete rest.cognitive;
  const cats = state.enums.MemoryCategory || [m.category];
  box.innerHTML = `
    <h2>Memory #${m.id} ${m.is_archived ? '<span class="tag archived">archived</span>' : ""}</h2>
    <p class="content-full" data-testid="memory-content">${esc(m.content)}</p>
    <div class="grid">
      <dl>
        <dt>agent</dt><dd>${esc(m.agent_type)}</dd><dt>category</dt><dd>${esc(m.category)}</dd>
        <dt>lane</dt><dd>${esc(m.memory_lane_type ?? "-")}</dd><dt>labels</dt><dd>${esc(m.labels.join(", ") || "-")}</dd>
        <dt>session</dt><dd>${esc(m.session_key ?? "-")}</dd><dt>created</dt><dd>${when(m.created_at)}</dd>
        <dt>updated</dt><dd>${when(m.updated_at)}</dd><dt>accessed</dt><dd>${m.access_count}×, last ${when(m.last_accessed)}</dd>
      </dl>
      <dl data-testid="cognitive">
        <dt>level</dt><dd>${esc(m.cognitive_level)}</dd><dt>confidence</dt><dd>${esc(cog.confidence ?? "-")}</dd>
        <dt>observer</dt><dd>${esc(cog.observer ?? "-")}</dd><dt>subject</dt><dd>${esc(cog.subject ?? "-")}</dd>
        <dt>reinforced</dt><dd>${esc(cog.times_reinforced ?? 0)}</dd><dt>contradicted</dt><dd>${esc(cog.times_contradicted ?? 0)}</dd>
        <dt>source</dt><dd>${esc(cog.source_stage ?? "-")} / ${esc(cog.generated_by ?? "-")}</dd>
        <dt>resolution</dt><dd>${esc(cog.resolution_status ?? "-")}</dd>
      </dl>
    </div>
    <h3>Lineage</h3>
    <div class="grid" data-testid="lineage"><div><h4>Derived from</h4>${evidenceList(lineage.sources)}</div>
      <div><h4>Derived into</h4>${evidenceList(lineage.derived)}</div></div>
    <h3>Relations</h3>
    ${lineage.relations.length ? `<ul>${lineage.relations.map((r) => {
      const other = r.source_memory_id === m.id ? r.target_memory_id : r.source_memory_id;
      return `<li>${esc(r.relation_type)} <a href="#/memory/${other}">#${other}</a> (strength ${esc(r.strength)})</li>`;
    }).join("")}</ul>` : '<p class="muted">none</p>'}
    <h3>Metadata</h3><pre>${esc(JSON.stringify(rest, null, 2))}</pre>
    <h3>Edit</h3>
    <form id="edit-form" class="edit" data-testid="edit-form">
      <textarea id="e-content" rows="5" data-testid="edit-content">${esc(m.content)}</textarea>
      <label>Category <select id="e-category">${cats.map((c) => `<option ${c === m.category ? "selected" : ""}>${esc(c)}</option>`).join("")}</select></label>
      <label>Labels <input id="e-labels" value="${esc(m.labels.join(", "))}"></label>
      <div class="actions">
        <button type="submit" data-testid="save">Save</button>
        <button type="button" id="archive" data-testid="archive">${m.is_archived ? "Restore" : "Archive"}</button>
        <button type="button" id="delete" class="danger" data-testid="delete">Delete</button>
      </div>
    </form>`;
  $("#edit-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const labels = $("#e-labels").value.split(",").map((s) => s.trim()).filter(Boolean);
    try {
      await api(`/memories/${m.id}`, { method: "PUT", body: JSON.stringify({ content: $("#e-content").value, category: $("#e-category").value, labels }) });
      toast(`memory #${m.id} saved`);
      showMemory(m.id);
    } catch (err) { toast(err.message); }
  });
  $("#archive").addEventListener("click", async () => {
    const archive = !m.is_archived;
    try {
      await api(`/memories/${m.id}`, { method: "PUT", body: JSON.stringify({ is_archived: archive, is_active: !archive }) });
      toast(`memory #${m.id} ${archive ? "archived" : "restored"}`);
      showMemory(m.id);
    } catch (err) { toast(err.message); }
  });
  $("#delete").addEventListener("click", async () => {
    if (!window.confirm(`Delete memory #${m.id} for good?`)) return;
    try {
      await api(`/memories/${m.id}`, { method: "DELETE" });
      toast(`memory #${m.id} deleted`);
      location.hash = "#/search";
    } catch (err) { toast(err.message); }
  });
}

// ---------------------------------------------------------------- sessions
async function showSessions() {
  const agent = $("#s-agent").value;
  const box = $("#timeline");
  try {
    const res = await api(`/sessions?limit=200${agent ? `&agent_type=${encodeURIComponent(agent)}` : ""}`);
    if (!res.sessions.length) { box.innerHTML = '<p class="muted">No sessions recorded yet.</p>'; return; }
    const groups = {};
    for (const s of res.sessions) (groups[`${s.agent_type} · ${s.project ?? s.cwd ?? "no project"}`] ||= []).push(s);
    const times = res.sessions.flatMap((s) => [s.started_at, s.last_event_at]).filter(Boolean).map((t) => Date.parse(t));
    const lo = Math.min(...times), hi = Math.max(...times, lo + 1);
    const x = (t) => 2 + 96 * ((Date.parse(t) - lo) / (hi - lo));
    box.innerHTML = Object.entries(groups).map(([name, items]) => `
      <div class="lane"><h3>${esc(name)}</h3>${items.map((s) => {
        const a = x(s.started_at ?? s.last_event_at), b = x(s.ended_at ?? s.last_event_at ?? s.started_at);
        const dots = s.events.map((e) => `<circle cx="${x(e.at)}%" cy="12" r="4"><title>${esc(e.event)} ${when(e.at)}</title></circle>`).join("");
        return `<div class="session" data-testid="session">
          <div class="slabel"><code>${esc(s.session_key)}</code> ${s.active ? '<span class="tag live-tag">active</span>' : ""}
            <span class="muted">${when(s.started_at)} → ${s.ended_at ? when(s.ended_at) : "…"} · ${s.events.length} events</span></div>
          <svg class="track" viewBox="0 0 100 24" preserveAspectRatio="none" width="100%" height="24">
            <rect x="${a}%" y="9" width="${Math.max(b - a, 0.5)}%" height="6" rx="3"></rect>${dots}</svg></div>`;
      }).join("")}</div>`).join("");
  } catch (err) { box.innerHTML = `<p class="error">${esc(err.message)}</p>`; }
}

// ---------------------------------------------------------------- stats (plain SVG)
function barsSvg(entries, { vertical = false } = {}) {
  if (!entries.length) return '<p class="muted">no data</p>';
  const max = Math.max(...entries.map(([, v]) => v), 1);
  if (vertical) {
    const w = 600, h = 160, bw = w / entries.length;
    const bars = entries.map(([k, v], i) => {
      const bh = (h - 20) * (v / max);
      return `<g><rect x="${i * bw + 1}" y="${h - 16 - bh}" width="${Math.max(bw - 2, 1)}" height="${bh}"><title>${esc(k)}: ${v}</title></rect>
        ${entries.length <= 31 && i % Math.ceil(entries.length / 8) === 0 ? `<text x="${i * bw}" y="${h - 2}">${esc(k.slice(5))}</text>` : ""}</g>`;
    }).join("");
    return `<svg viewBox="0 0 ${w} ${h}" class="chart" role="img">${bars}</svg>`;
  }
  const rowH = 22, w = 600, h = entries.length * rowH;
  const rows = entries.map(([k, v], i) => `<g transform="translate(0 ${i * rowH})">
      <text x="0" y="15">${esc(k)}</text><rect x="150" y="3" height="16" width="${Math.max(380 * (v / max), 1)}"></rect>
      <text x="${156 + 380 * (v / max)}" y="15" class="num">${v}</text></g>`).join("");
  return `<svg viewBox="0 0 ${w} ${h}" class="chart" role="img">${rows}</svg>`;
}

async function showStats() {
  try {
    const c = await api("/stats/charts?days=30");
    $("#stat-totals").innerHTML = `<span data-testid="total-memories"><b>${c.total_memories}</b> memories</span>
      <span><b>${c.active_memories}</b> active</span><span><b>${c.archived_memories}</b> archived</span>`;
    const days = [];
    for (let i = 29; i >= 0; i--) {
      const d = new Date(Date.now() - i * 86400000).toISOString().slice(0, 10);
      days.push([d, c.per_day[d] || 0]);
    }
    const sorted = (o) => Object.entries(o).sort((a, b) => b[1] - a[1]);
    $("#chart-day").innerHTML = barsSvg(days, { vertical: true });
    $("#chart-agent").innerHTML = barsSvg(sorted(c.per_agent));
    $("#chart-category").innerHTML = barsSvg(sorted(c.per_category));
    $("#chart-level").innerHTML = barsSvg(sorted(c.per_level));
  } catch (err) { $("#stat-totals").innerHTML = `<p class="error">${esc(err.message)}</p>`; }
  if (typeof showCosts === "function") showCosts();  // costs.js: tokens injected, per day and session
}

// ---------------------------------------------------------------- jobs
async function showJobs() {
  const status = $("#j-status").value;
  try {
    const res = await api(`/jobs?limit=100${status ? `&status=${status}` : ""}`);
    $("#job-counts").innerHTML = Object.entries(res.counts).map(([k, v]) => `<span><b>${v}</b> ${esc(k)}</span>`).join("");
    $("#job-rows").innerHTML = res.items.map((j) => `<tr data-testid="job">
      <td>${j.id}</td><td>${esc(j.job_type)}</td><td>${esc(j.agent_type ?? j.namespace_id)}</td>
      <td><span class="tag status-${esc(j.status)}">${esc(j.status)}</span></td><td>${j.attempts}</td>
      <td>${when(j.updated_at)}</td><td class="err">${esc(j.last_error ?? "")}</td>
      <td>${j.status === "failed" ? `<button data-retry="${j.id}">Retry</button>` : ""}</td></tr>`).join("")
      || '<tr><td colspan="8" class="muted">No jobs.</td></tr>';
    document.querySelectorAll("[data-retry]").forEach((b) => b.addEventListener("click", async () => {
      try { await api(`/jobs/${b.dataset.retry}/retry`, { method: "POST" }); toast(`job ${b.dataset.retry} queued again`); showJobs(); }
      catch (err) { toast(err.message); }
    }));
  } catch (err) { $("#job-counts").innerHTML = `<p class="error">${esc(err.message)}</p>`; }
}

// ---------------------------------------------------------------- live updates
function connectLive() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = state.token
    ? new WebSocket(`${scheme}://${location.host}/ws`, ["nexus-token", state.token])
    : new WebSocket(`${scheme}://${location.host}/ws`);
  state.ws = ws;
  const live = $("#live");
  ws.onopen = () => { live.textContent = "live"; live.className = "live on"; };
  ws.onclose = () => {
    live.textContent = "offline"; live.className = "live off";
    setTimeout(connectLive, 3000);
  };
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg.type === "hello" || msg.type === "pong") return;
    onEvent(msg);
  };
}

function onEvent(msg) {
  const feed = $("#feed-items");
  const li = document.createElement("li");
  const m = msg.data && msg.data.memory;
  const id = m ? m.id : msg.data && msg.data.id;
  li.innerHTML = `<span class="tag">${esc(msg.type)}</span> ${id ? `<a href="#/memory/${id}">#${id}</a>` : esc(msg.data.session_key ?? "")}`;
  li.setAttribute("data-testid", "feed-item");
  feed.prepend(li);
  while (feed.children.length > 30) feed.lastChild.remove();

  const list = $("#results");
  const existing = id ? list.querySelector(`[data-id="${id}"]`) : null;
  if (msg.type === "memory.deleted" && existing) existing.remove();
  if (msg.type === "memory.updated" && existing && m) existing.replaceWith(resultItem(m, null, null));
  if (msg.type === "memory.created" && m && !state.query && !existing) {
    const item = resultItem(m, null, null);
    item.classList.add("fresh");
    list.prepend(item);
  }
  if (msg.type === "memory.created") toast(`new memory #${id}`);
  const route = location.hash;
  if (route === "#/stats" && msg.type.startsWith("memory.")) showStats();
  if (route === "#/sessions" && msg.type.startsWith("session.")) showSessions();
  if (route === "#/jobs" && msg.type.startsWith("job.")) showJobs();
  if (route === `#/memory/${id}` && msg.type === "memory.updated") showMemory(id);
}

// ---------------------------------------------------------------- routing and start-up
function takeToken() {
  const m = location.hash.match(/token=([^&]+)/);
  if (!m) return false;
  localStorage.setItem("nexus-token", decodeURIComponent(m[1]));
  history.replaceState(null, "", location.pathname + "#/search");
  return true;
}

function route() {
  if (takeToken()) { location.reload(); return; }
  const hash = location.hash || "#/search";
  const [, view, arg] = hash.split("/");
  const name = ["search", "memory", "sessions", "stats", "jobs"].includes(view) ? view : "search";
  document.querySelectorAll(".view").forEach((v) => v.classList.toggle("hidden", v.id !== `view-${name}`));
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === name));
  if (name === "memory") showMemory(Number(arg));
  if (name === "sessions") showSessions();
  if (name === "stats") showStats();
  if (name === "jobs") showJobs();
  if (name === "search" && !$("#results").children.length) runSearch();
}

async function loadChoices() {
  try {
    const ns = await api("/namespaces");
    const names = ns.namespaces.map((n) => n.name);
    options($("#f-agent"), names);
    options($("#s-agent"), names);
    const doc = await fetch(`${API}/openapi.json`, { headers: state.token ? { authorization: `Bearer ${state.token}` } : {} }).then((r) => r.json());
    for (const key of ["MemoryCategory", "MemoryLaneType", "CognitiveLevel"]) state.enums[key] = doc.components.schemas[key].enum;
    options($("#f-category"), state.enums.MemoryCategory);
    options($("#f-lane"), state.enums.MemoryLaneType);
    options($("#f-level"), state.enums.CognitiveLevel);
  } catch (err) { $("#search-summary").textContent = err.message; }
}

function start() {
  takeToken();
  state.token = localStorage.getItem("nexus-token");
  $("#token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    localStorage.setItem("nexus-token", $("#token-input").value.trim());
    location.reload();
  });
  $("#search-form").addEventListener("submit", (ev) => { ev.preventDefault(); location.hash = "#/search"; runSearch(); });
  document.querySelectorAll(".filters select, .filters input").forEach((el) => {
    if (el.closest("#view-search")) el.addEventListener("change", () => runSearch());
  });
  $("#more").addEventListener("click", () => runSearch(true));
  $("#s-agent").addEventListener("change", showSessions);
  $("#j-status").addEventListener("change", showJobs);
  window.addEventListener("hashchange", route);
  loadChoices().then(route);
  connectLive();
}

document.addEventListener("DOMContentLoaded", start);
