"use strict";
// Shared by both pages: text with marked ranges, built as DOM nodes (never as HTML strings,
// since article text is data, not markup).
function markedText(text, base, snippet, highlights) {
  const frag = document.createDocumentFragment();
  const cuts = new Set([0, text.length]);
  if (snippet) { cuts.add(snippet[0] - base); cuts.add(snippet[1] - base); }
  const bold = new Set();
  for (const [s, e] of highlights || []) { cuts.add(s - base); cuts.add(e - base); bold.add(s - base); }
  const points = [...cuts].filter((p) => p >= 0 && p <= text.length).sort((a, b) => a - b);
  let mark = null;
  for (let i = 0; i + 1 < points.length; i++) {
    const [s, e] = [points[i], points[i + 1]];
    if (snippet && s === snippet[0] - base) { mark = document.createElement("mark"); mark.className = "snippet"; frag.append(mark); }
    const piece = bold.has(s) ? Object.assign(document.createElement("b"), { textContent: text.slice(s, e) })
                              : document.createTextNode(text.slice(s, e));
    (mark || frag).append(piece);
    if (snippet && e === snippet[1] - base) mark = null;
  }
  return frag;
}
