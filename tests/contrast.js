// WCAG 2 AA text contrast over the visible page, the check axe-core calls "color-contrast":
// every visible text node, and the value of every text field, against the background it is drawn on.
// The background is found through the ancestors (each translucent layer composited over the next),
// translucent text and ancestors' opacity are blended into it, and text counts as large at 24px, or at
// 18.66px when bold (3:1 then; 4.5:1 otherwise). Disabled controls are exempt, as in WCAG. Background images
// and gradients are not looked at.
// Returns the failures: [{text, ratio, needed, color, background, where}].
() => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });

  // any CSS colour (rgb, color(srgb ...), oklch, color-mix results) as sRGB 0-255 and alpha 0-1
  function rgba(css) {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = "#000";
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = ctx.getImageData(0, 0, 1, 1).data;  // not premultiplied
    return [r, g, b, a / 255];
  }
  const over = (top, under) => {  // top composited over an opaque colour
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat(1);
  };
  const luminance = c => {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [l1, l2] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (l1 + 0.05) / (l2 + 0.05);
  };

  function background(el) {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let bg = rgba(getComputedStyle(document.body).backgroundColor);
    if (bg[3] < 1) bg = over(bg, [255, 255, 255, 1]);  // the canvas under the page is white
    for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  }
  function opacity(el) {
    let o = 1;
    for (let e = el; e; e = e.parentElement) o *= parseFloat(getComputedStyle(e).opacity);
    return o;
  }
  function visible(el, rect) {
    if (!rect || rect.width < 1 || rect.height < 1) return false;
    const s = getComputedStyle(el);
    return s.visibility !== "hidden" && s.display !== "none" && !el.closest("[aria-hidden=true], .sr-only, .hide");
  }
  const where = el => {
    const parts = [];
    for (let e = el; e && parts.length < 4; e = e.parentElement)
      parts.push(e.id ? `#${e.id}` : e.tagName.toLowerCase() + (e.classList[0] ? "." + e.classList[0] : ""));
    return parts.reverse().join(" > ");
  };

  const failures = [];
  function check(el, text, rect) {
    if (!visible(el, rect) || el.closest(":disabled, [aria-disabled=true]")) return;
    const s = getComputedStyle(el), o = opacity(el);
    if (o === 0) return;  // hidden by opacity, as the plots hide axis labels that would overlap
    const bg = background(el);
    const fg = over(rgba(el instanceof SVGElement ? s.fill : s.color), bg);  // SVG text (the plots) is filled
    const seen = over([...fg.slice(0, 3), o], bg);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight) >= 700;
    const needed = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    const r = ratio(seen, bg);
    if (r < needed - 0.005)
      failures.push({ text: text.trim().slice(0, 60), ratio: Math.round(r * 100) / 100, needed,
                      color: s.color, background: `rgb(${bg.slice(0, 3).map(Math.round)})`, where: where(el) });
  }

  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.data.trim() || ["SCRIPT", "STYLE", "NOSCRIPT"].includes(node.parentElement.tagName)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    check(node.parentElement, node.data, range.getBoundingClientRect());
  }
  for (const field of document.querySelectorAll("textarea, input:not([type]), input[type=text], input[type=number]")) {
    if (field.value.trim()) check(field, field.value, field.getBoundingClientRect());
  }
  return failures;
}
