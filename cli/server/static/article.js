"use strict";
(async function () {
  const params = new URLSearchParams(location.search);
  const box = document.getElementById("article");
  const key = sessionStorage.getItem("vraagbaak-key");
  const id = params.get("id") || "";
  // A URL cannot hold the ids "." and ".." as a path segment, not even as %2E: every browser
  // resolves them, and would fetch another address.
  if (id === "." || id === "..") { box.textContent = `Het artikel met id '${id}' kan deze pagina niet openen.`; return; }
  // The whole id as one path segment: "/" and the dots of "nos/../2021/1" stay data, so the
  // browser cannot resolve them into the path of another article (the server decodes %2F).
  const response = await fetch("/documents/" + encodeURIComponent(id),
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
  const start = Number(params.get("start")), end = Number(params.get("end"));  // code points
  // One paragraph element per paragraph of the text, keeping the offsets of the whole article:
  // ``offset`` counts code units (for indexOf), ``point`` the same place in code points.
  let offset = 0, point = 0;
  for (const para of doc.text.split(/\n\s*\n/)) {
    const at = doc.text.indexOf(para, offset);
    point += codePointCount(doc.text.slice(offset, at));
    const size = codePointCount(para);
    const p = document.createElement("p");
    const overlap = start < point + size && end > point;
    p.append(markedText(para, point, overlap ? [Math.max(start, point), Math.min(end, point + size)] : null, []));
    text.append(p);
    offset = at + para.length;
    point += size;
  }
  box.replaceChildren(h, meta, text);
  const first = box.querySelector("mark");
  if (first) { first.id = "passage"; first.setAttribute("tabindex", "-1"); first.scrollIntoView({ block: "center" }); first.focus(); }
})();
