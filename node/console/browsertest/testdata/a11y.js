// The console's accessibility audit (issue 12 §6; node/console DESIGN §9),
// evaluated in the page by a11y_test.go. axe-core is not reachable here, so
// this is the subset the console promises, computed from the DOM and the
// computed styles. audit() returns
//   violations: ["rule: what, where", ...]
//   focusables: descriptions of the elements in sequential focus order as
//               the DOM gives it (the keyboard walk in Go presses Tab and
//               compares each focusState() against it).
// Rules: lang, landmark, h1, label, name, contrast. No side effects.
//
// The file holds declarations only: a11y_test.go wraps it in a function
// that calls audit() or focusState().

function desc(el) {
  let s = el.tagName.toLowerCase();
  if (el.id) s += "#" + el.id;
  else if (el.getAttribute("href")) s += '[href="' + el.getAttribute("href") + '"]';
  else if (el.getAttribute("name")) s += '[name="' + el.getAttribute("name") + '"]';
  const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
  if (text) s += ' "' + text + '"';
  return s;
}

function shown(el) {
  return el.checkVisibility({ visibilityProperty: true, opacityProperty: true });
}

function labelOf(el) {
  const by = el.getAttribute("aria-labelledby");
  if (by) {
    const t = by.split(/\s+/).map((id) => document.getElementById(id)).filter(Boolean).map((e) => e.textContent.trim()).join(" ").trim();
    if (t) return t;
  }
  return (el.getAttribute("aria-label") || "").trim();
}

// focusSequence is the sequential focus order the DOM gives: what Tab
// must follow (positive tabindex values, which reorder it, fail the walk).
function focusSequence() {
  const focusable = "a[href], button, input, select, textarea, summary, [tabindex]";
  return Array.from(document.querySelectorAll(focusable)).filter((el) => {
    if (el.disabled) return false;
    if (el.tagName === "INPUT" && (el.getAttribute("type") || "").toLowerCase() === "hidden") return false;
    if (el.tabIndex < 0) return false;
    if (el.tagName === "SUMMARY" && el.parentElement.tagName !== "DETAILS") return false;
    return shown(el);
  });
}

// focusState describes the focused element: its place in focusSequence
// (-1 if none), and whether its focus is drawn (an outline or a box
// shadow).
function focusState() {
  const el = document.activeElement;
  if (!el || el === document.body) return { index: -1, what: "nothing", drawn: false, style: "" };
  const cs = getComputedStyle(el);
  const outline = cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0;
  const shadow = cs.boxShadow && cs.boxShadow !== "none";
  return {
    index: focusSequence().indexOf(el),
    what: desc(el),
    drawn: outline || !!shadow,
    style: "outline: " + cs.outlineStyle + " " + cs.outlineWidth + " " + cs.outlineColor + "; box-shadow: " + cs.boxShadow,
  };
}

function audit() {
  const out = [];
  const v = (rule, msg) => out.push(rule + ": " + msg);

  // lang: <html lang> is one of the console's languages.
  const lang = document.documentElement.getAttribute("lang") || "";
  if (!["en", "ru", "tr"].includes(lang)) v("lang", '<html lang="' + lang + '"> is not en, ru or tr');
  if (!document.title.trim()) v("lang", "the page has no <title>");

  // landmark: one banner header, one main, one contentinfo footer, a nav;
  // several navs are told apart by their labels.
  const sectioning = "article, aside, main, nav, section";
  const top = (sel) => Array.from(document.querySelectorAll(sel)).filter((e) => !e.parentElement.closest(sectioning));
  const banners = top("header"), footers = top("footer");
  const mains = document.querySelectorAll("main, [role=main]");
  const navs = Array.from(document.querySelectorAll("nav"));
  if (banners.length !== 1) v("landmark", "want one page <header>, found " + banners.length);
  if (mains.length !== 1) v("landmark", "want one <main>, found " + mains.length);
  if (footers.length !== 1) v("landmark", "want one page <footer>, found " + footers.length);
  if (navs.length === 0) v("landmark", "no <nav>");
  if (navs.length > 1) {
    const names = navs.map((n) => labelOf(n));
    names.forEach((n, i) => {
      if (!n) v("landmark", "nav " + (i + 1) + " of " + navs.length + " has no aria-label");
      else if (names.indexOf(n) !== i) v("landmark", 'two navs are both called "' + n + '"');
    });
  }

  // h1: exactly one, with text.
  const h1s = document.querySelectorAll("h1");
  if (h1s.length !== 1) v("h1", "want one <h1>, found " + h1s.length);
  else if (!h1s[0].textContent.trim()) v("h1", "the <h1> is empty");

  // label: every form field a person fills has a label with text.
  for (const el of document.querySelectorAll("input, select, textarea")) {
    const type = (el.getAttribute("type") || "").toLowerCase();
    if (el.tagName === "INPUT" && ["hidden", "submit", "button", "reset", "image"].includes(type)) continue;
    const viaLabel = Array.from(el.labels || []).map((l) => l.textContent.trim()).join(" ").trim();
    if (!viaLabel && !labelOf(el)) v("label", desc(el) + " has no label");
  }

  // name: buttons and links say what they do; images and SVG have a name
  // (or are hidden from assistive technology as decoration).
  for (const el of document.querySelectorAll("button, input[type=submit], input[type=button], a[href]")) {
    const name = (el.textContent || "").trim() || labelOf(el) || (el.getAttribute("value") || "").trim() || (el.getAttribute("title") || "").trim();
    if (!name) v("name", desc(el) + " has no accessible name");
  }
  for (const el of document.querySelectorAll("img")) {
    if (!el.hasAttribute("alt")) v("name", desc(el) + " has no alt");
  }
  for (const el of document.querySelectorAll("svg")) {
    if (el.parentElement && el.parentElement.closest("svg")) continue;
    if (el.getAttribute("aria-hidden") === "true") continue;
    const title = Array.from(el.children).find((c) => c.tagName.toLowerCase() === "title");
    if (!labelOf(el) && !(title && title.textContent.trim())) v("name", "an <svg> has no accessible name (aria-label, aria-labelledby or <title>)");
  }

  // contrast: WCAG 2.1 1.4.3 AA, 4.5:1 (3:1 for large text), text colour
  // against the background it is painted on (the element's and its
  // ancestors' backgrounds composed over white).
  const parse = (s) => {
    const m = /^rgba?\(([^)]*)\)$/.exec((s || "").trim());
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (fg, bg) => ({
    r: fg.r * fg.a + bg.r * (1 - fg.a),
    g: fg.g * fg.a + bg.g * (1 - fg.a),
    b: fg.b * fg.a + bg.b * (1 - fg.a),
    a: 1,
  });
  const lum = (c) => {
    const f = (x) => {
      x /= 255;
      return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => {
    const la = lum(a), lb = lum(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  };
  const hex = (c) => "#" + [c.r, c.g, c.b].map((x) => Math.round(x).toString(16).padStart(2, "0")).join("");
  const background = (el) => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.push(e);
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const e of chain.reverse()) {
      const cs = getComputedStyle(e);
      if (cs.backgroundImage && cs.backgroundImage !== "none") return null; // an image: its contrast is not computable
      const c = parse(cs.backgroundColor);
      if (c && c.a > 0) bg = over(c, bg);
    }
    return bg;
  };
  const skipText = new Set(["SCRIPT", "STYLE", "TITLE", "OPTION", "NOSCRIPT", "TEMPLATE"]);
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    if (!t.nodeValue.trim()) continue;
    const el = t.parentElement;
    if (!el || seen.has(el) || skipText.has(el.tagName)) continue;
    seen.add(el);
    const inSVG = el instanceof SVGElement;
    if (inSVG && ["title", "desc"].includes(el.tagName.toLowerCase())) continue;
    if (!shown(el)) continue;
    const cs = getComputedStyle(el);
    const bg = background(el);
    const paint = inSVG ? cs.fill : cs.color;
    if (paint === "none") continue;
    const fg0 = parse(paint);
    if (!bg || !fg0) {
      v("contrast", desc(el) + ": text on a background image or in a colour (" + paint + ") this check cannot measure");
      continue;
    }
    const fg = over(fg0, bg);
    const size = parseFloat(cs.fontSize), bold = parseInt(cs.fontWeight, 10) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    const need = large ? 3 : 4.5;
    const r = ratio(fg, bg);
    if (r < need) v("contrast", desc(el) + ": " + hex(fg) + " on " + hex(bg) + " is " + r.toFixed(2) + ":1, want " + need + ":1");
  }

  // keyboard: the first stop is a skip link to the main content.
  const seq = focusSequence();
  const first = seq[0];
  const target = first && first.tagName === "A" && (first.getAttribute("href") || "").startsWith("#") ? document.getElementById(first.getAttribute("href").slice(1)) : null;
  if (!first) v("keyboard", "nothing on the page takes focus");
  else if (!target || target !== document.querySelector("main")) v("keyboard", "the first focusable element is " + desc(first) + ", not a skip link to <main>");

  return { violations: out, focusables: seq.map(desc) };
}
