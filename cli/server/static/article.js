"use strict";
(async function () {
  const params = new URLSearchParams(location.search);
  const box = document.getElementById("article");
  const key = sessionStorage.getItem("vraagbaak-key");
  const response = await fetch("/documents/" + params.get("id").split("/").map(encodeURIComponent).join("/"),
                               { headers: key ? { Authorization: "Bearer " + key } : {} });
  const doc = await response.json();
  if (!response.ok) { box.textContent = doc.error ? doc.error.message : "Artikel niet gevonden."; return; }
  document.title = (doc.title || doc.doc_id) + " — vraagbaak";
  const h = document.createElement("h2");
  h.textContent = doc.title || doc.doc_id;
  const meta = document.createElement("p");
  meta.className = "meta";
  meta.textContent = [doc.date || "zonder datum", doc.source, doc.doc_id].filter(Boolean).join(" · ");
  const text = document.createElement("div");
  text.className = "text";
  const start = Number(params.get("start")), end = Number(params.get("end"));
  // One paragraph element per paragraph of the text, keeping the offsets of the whole article.
  let offset = 0;
  for (const para of doc.text.split(/\n\s*\n/)) {
    const at = doc.text.indexOf(para, offset);
    offset = at + para.length;
    const p = document.createElement("p");
    const overlap = start < at + para.length && end > at;
    p.append(markedText(para, at, overlap ? [Math.max(start, at), Math.min(end, at + para.length)] : null, []));
    text.append(p);
  }
  box.replaceChildren(h, meta, text);
  const first = box.querySelector("mark");
  if (first) { first.id = "passage"; first.setAttribute("tabindex", "-1"); first.scrollIntoView({ block: "center" }); first.focus(); }
})();
