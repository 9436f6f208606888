// What memory costs (issue 16): tokens injected per day and channel against the daily cap, and per
// session what was injected and why. Uses app.js's helpers ($, api, esc, when); plain SVG.
"use strict";

const CHANNELS = ["session_pack", "prompt_recall", "mcp_results"];

function tokensSvg(days, cap) {
  const max = Math.max(...days.map(([, d]) => d.tokens), 1);
  const showCap = cap > 0 && cap <= max * 1.25;
  const top = showCap ? Math.max(max, cap) : max;
  const w = 600, h = 170, bw = w / days.length;
  const bars = days.map(([day, d], i) => {
    let y = h - 16;
    const parts = CHANNELS.map((c) => {
      const v = d.channels[c] || 0;
      const bh = (h - 26) * (v / top);
      y -= bh;
      return v ? `<rect class="ch-${c}" data-channel="${c}" x="${i * bw + 1}" y="${y}" width="${Math.max(bw - 2, 1)}" height="${bh}"><title>${esc(day)} ${c}: ${v} tokens</title></rect>` : "";
    }).join("");
    const label = i % Math.ceil(days.length / 8) === 0 ? `<text x="${i * bw}" y="${h - 2}">${esc(day.slice(5))}</text>` : "";
    return `<g data-day="${esc(day)}" data-tokens="${d.tokens}">${parts}${label}</g>`;
  }).join("");
  const capY = h - 16 - (h - 26) * (cap / top);
  const capLine = showCap ? `<line class="cap" x1="0" x2="${w}" y1="${capY}" y2="${capY}"></line>
    <text x="${w - 4}" y="${capY - 3}" text-anchor="end" class="num">cap ${cap.toLocaleString()} per agent</text>` : "";
  return `<svg viewBox="0 0 ${w} ${h}" class="chart tokens" role="img">${bars}${capLine}</svg>`;
}

async function showCosts() {
  const box = $("#cost-totals");
  try {
    const r = await api("/stats/injections?days=30&sessions=50");
    const byDay = Object.fromEntries(r.per_day.map((d) => [d.day, d]));
    const days = [];
    for (let i = 29; i >= 0; i--) {
      const t = new Date(r.today + "T12:00:00");
      t.setDate(t.getDate() - i);
      const d = `${t.getFullYear()}-${String(t.getMonth() + 1).padStart(2, "0")}-${String(t.getDate()).padStart(2, "0")}`;
      days.push([d, byDay[d] || { tokens: 0, channels: {} }]);
    }
    const total = r.per_day.reduce((s, d) => s + d.tokens, 0);
    const today = Object.entries(r.today_by_agent).map(([a, v]) => {
      const cap = r.caps[a] || 0;
      return `<span data-testid="cost-today">${esc(a)} today <b>${v.toLocaleString()}</b>${cap ? ` / ${cap.toLocaleString()}` : ""}${cap && v >= cap ? ' <span class="tag archived">cap spent</span>' : ""}</span>`;
    }).join("");
    box.innerHTML = `<span><b data-testid="cost-total">${total.toLocaleString()}</b> tokens injected in 30 days</span>${today}`;
    $("#chart-tokens").innerHTML = tokensSvg(days, r.default_cap) +
      `<p class="legend">${CHANNELS.map((c) => `<span class="key ch-${c}"></span>${c.replace("_", " ")}`).join(" ")}</p>`;
    $("#cost-sessions").innerHTML = r.sessions.map((s) => `<tr data-testid="cost-session" data-session="${esc(s.session_key)}" data-agent="${esc(s.agent_type)}">
        <td>${esc(s.agent_type)}</td><td><a href="#/stats" class="sess"><code>${esc(s.session_key || "-")}</code></a></td>
        <td>${s.tokens.toLocaleString()} / ${s.budget ? s.budget.toLocaleString() : "-"}</td><td>${s.injections}</td>
        <td>${s.capped || ""}</td><td>${when(s.last_at)}</td><td class="muted">${esc(s.project ?? "")}</td></tr>`).join("")
      || '<tr><td colspan="7" class="muted">Nothing injected yet.</td></tr>';
    document.querySelectorAll("[data-testid=cost-session]").forEach((row) => row.addEventListener("click", (ev) => {
      ev.preventDefault();
      showInjections(row.dataset.session, row.dataset.agent);
    }));
  } catch (err) { box.innerHTML = `<p class="error">${esc(err.message)}</p>`; }
}

function reasonText(why) {
  if (!why) return "";
  return Object.entries(why).map(([k, v]) => (k === "follows" ? `follows #${v}` : `${k} ${v}`)).join(", ");
}

async function showInjections(sessionKey, agent) {
  const box = $("#cost-detail");
  try {
    const r = await api(`/injections?session_key=${encodeURIComponent(sessionKey)}&agent_type=${encodeURIComponent(agent)}`);
    box.innerHTML = `<h3>Session <code>${esc(sessionKey)}</code> (${esc(agent)}): ${r.count} injection${r.count === 1 ? "" : "s"}</h3>
      <ol class="injections">${r.injections.map((i) => `<li data-testid="injection" data-channel="${esc(i.channel)}">
        <div class="meta"><span class="tag">${esc(i.channel)}</span><span>${esc(i.source)}</span>
          <span><b>${i.tokens}</b> tokens${i.budget ? ` of ${i.budget}` : ""}</span>
          ${i.capped ? '<span class="tag archived">cap spent: strict bar</span>' : ""}<span class="when">${when(i.recorded_at)}</span></div>
        ${i.query ? `<p class="query">“${esc(i.query)}”</p>` : ""}
        <ul>${i.memory_ids.map((id) => `<li><a href="#/memory/${id}">#${id}</a> <span class="muted" data-testid="reason">${esc(reasonText(i.reasons[String(id)]))}</span></li>`).join("")}</ul>
      </li>`).join("")}</ol>`;
  } catch (err) { box.innerHTML = `<p class="error">${esc(err.message)}</p>`; }
}
