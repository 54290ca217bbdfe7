"use strict";
(function () {
  const form = document.getElementById("search");
  const status = document.getElementById("status");
  const list = document.getElementById("results");

  function headers() {
    const key = document.getElementById("key").value || sessionStorage.getItem("vraagbaak-key");
    if (document.getElementById("key").value) sessionStorage.setItem("vraagbaak-key", key);
    return key ? { Authorization: "Bearer " + key, "Content-Type": "application/json" } : { "Content-Type": "application/json" };
  }

  function hitItem(hit) {
    const li = document.createElement("li");
    const meta = document.createElement("p");
    meta.className = "meta";
    const title = document.createElement("strong");
    title.textContent = hit.title || hit.doc_id;
    meta.append(title, ` · ${hit.date || "zonder datum"} · score ${(hit.dense_score ?? hit.score).toFixed(3)}`);
    li.append(meta);
    for (const p of [hit, ...hit.passages]) {
      const para = document.createElement("p");
      para.className = "passage";
      para.append(markedText(p.text, p.start, [p.snippet_start, p.snippet_end], p.highlights, p.quotes));
      li.append(para);
      const speakers = speakersLine(p.quotes);
      if (speakers) li.append(speakers);
    }
    const open = document.createElement("a");
    open.className = "open";
    open.href = `/static/article.html?id=${encodeURIComponent(hit.doc_id)}&start=${hit.snippet_start}&end=${hit.snippet_end}`;
    open.textContent = "Open het artikel met deze passage";
    li.append(open);
    for (const d of hit.duplicates) {
      const dup = document.createElement("p");
      dup.className = "meta";
      dup.textContent = `Ook in ${d.doc_id}`;
      li.append(dup);
    }
    return li;
  }

  async function search(event) {
    event.preventDefault();
    const body = { q: form.q.value, k: 5, mode: form.mode.value };
    if (form.since.value) body.since = form.since.value;
    if (form.until.value) body.until = form.until.value;
    status.textContent = "Zoeken…";
    list.replaceChildren();
    document.getElementById("notice").hidden = true;
    const response = await fetch("/search", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    const data = await response.json();
    if (!response.ok) {
      status.textContent = data.error ? data.error.message + (data.error.hint ? ` (${data.error.hint})` : "") : "Er ging iets mis.";
      if (response.status === 401) document.querySelector("details").open = true;
      return;
    }
    const f = data.filter;
    const parts = [`${data.results.length} artikelen`];
    if (f && f.applied) parts.push(`dates: ${f.description}`);
    if (f && !f.applied) parts.push(`no article from ${f.description}; all dates searched`);
    status.textContent = parts.join(" · ");
    document.getElementById("notice").hidden = data.confident || !data.results.length;
    for (const hit of data.results) list.append(hitItem(hit));
  }

  form.addEventListener("submit", (e) => search(e).catch((err) => { status.textContent = "Geen verbinding: " + err; }));
})();
