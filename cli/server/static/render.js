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

// text starts at code point ``base`` of its article; snippet, highlights and quotes are code
// points too. ``quotes`` (optional): the API's quote marks; the quoted words become
// <q class="quote"> and the words that name the speaker <span class="speaker">, each titled with
// the speaker, and "asked" where he is the one the question asked about.
function markedText(text, base, snippet, highlights, quotes) {
  const frag = document.createDocumentFragment();
  const units = codeUnits(text);
  const size = units.length - 1;
  const cuts = new Set([0, size]);
  if (snippet) { cuts.add(snippet[0] - base); cuts.add(snippet[1] - base); }
  const bold = new Set();
  for (const [s, e] of highlights || []) { cuts.add(s - base); cuts.add(e - base); bold.add(s - base); }
  const quoted = (quotes || []).map((q) => [q.start - base, q.end - base, q]);
  const named = (quotes || []).map((q) => [q.speaker_start - base, q.speaker_end - base, q]);
  for (const [s, e] of [...quoted, ...named]) { cuts.add(s); cuts.add(e); }
  const points = [...cuts].filter((p) => p >= 0 && p <= size).sort((a, b) => a - b);
  let mark = null, open = null;  // the snippet's <mark>; the <q> the last piece went into
  for (let i = 0; i + 1 < points.length; i++) {
    const [s, e] = [points[i], points[i + 1]];
    const piece = text.slice(units[s], units[e]);
    if (snippet && s === snippet[0] - base) { mark = document.createElement("mark"); mark.className = "snippet"; frag.append(mark); open = null; }
    let node = bold.has(s) ? Object.assign(document.createElement("b"), { textContent: piece })
                           : document.createTextNode(piece);
    const speaker = named.find(([qs, qe]) => qs <= s && e <= qe);
    if (speaker) node = wrapped(node, "span", "speaker", "spreker: ", speaker[2]);
    const quote = quoted.find(([qs, qe]) => qs <= s && e <= qe);
    const container = mark || frag;
    if (quote) {  // one <q> for the quote's pieces (two where the snippet's edge cuts it)
      if (!open || open.quote !== quote[2] || open.element.parentNode !== container) {
        open = { quote: quote[2], element: wrapped(null, "q", "quote", "citaat van ", quote[2]) };
        container.append(open.element);
      }
      open.element.append(node);
    } else {
      open = null;
      container.append(node);
    }
    if (snippet && e === snippet[1] - base) { mark = null; open = null; }
  }
  return frag;
}

function wrapped(node, tag, kind, label, quote) {
  const element = document.createElement(tag);
  element.className = kind + (quote.asked ? " asked" : "");
  element.title = label + quote.speaker;
  if (node) element.append(node);
  return element;
}

// "Aan het woord: Vladimir Poetin, Joe Biden": the speakers of a passage's quotes, once each, the
// one the question asked about first and marked.
function speakersLine(quotes) {
  const names = new Map();
  for (const q of quotes || []) names.set(q.speaker, (names.get(q.speaker) || false) || q.asked);
  if (!names.size) return null;
  const line = document.createElement("p");
  line.className = "speakers";
  line.append("Aan het woord: ");
  const ordered = [...names].sort((a, b) => Number(b[1]) - Number(a[1]));
  ordered.forEach(([name, asked], i) => {
    if (i) line.append(", ");
    line.append(Object.assign(document.createElement("span"), { className: "speaker-name" + (asked ? " asked" : ""), textContent: name }));
  });
  return line;
}
