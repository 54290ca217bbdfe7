"use strict";
// Shared by both pages: text with marked ranges, built as DOM nodes (never as HTML strings,
// since article text is data, not markup).

// The API counts offsets in Unicode code points (Python's string indices); JS strings count
// UTF-16 code units, two for every character beyond U+FFFF (emoji, 𝔘). Every offset from the
// API is converted through these before a string is sliced.
function codeUnits(text) {
  const units = [0];  // units[i]: where code point i of text starts, in code units
  for (const ch of text) units.push(units[units.length - 1] + ch.length);
  return units;
}

function codePointCount(text) {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

// text starts at code point ``base`` of its article; snippet and highlights are code points too.
function markedText(text, base, snippet, highlights) {
  const frag = document.createDocumentFragment();
  const units = codeUnits(text);
  const size = units.length - 1;
  const cuts = new Set([0, size]);
  if (snippet) { cuts.add(snippet[0] - base); cuts.add(snippet[1] - base); }
  const bold = new Set();
  for (const [s, e] of highlights || []) { cuts.add(s - base); cuts.add(e - base); bold.add(s - base); }
  const points = [...cuts].filter((p) => p >= 0 && p <= size).sort((a, b) => a - b);
  let mark = null;
  for (let i = 0; i + 1 < points.length; i++) {
    const [s, e] = [points[i], points[i + 1]];
    const piece = text.slice(units[s], units[e]);
    if (snippet && s === snippet[0] - base) { mark = document.createElement("mark"); mark.className = "snippet"; frag.append(mark); }
    (mark || frag).append(bold.has(s) ? Object.assign(document.createElement("b"), { textContent: piece })
                                      : document.createTextNode(piece));
    if (snippet && e === snippet[1] - base) mark = null;
  }
  return frag;
}
