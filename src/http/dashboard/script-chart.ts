/**
 * The page's statechart drawing (browser JavaScript, served inline): turns a laid-out chart from
 * `…/api/charts` and the active state ids into SVG markup.
 */
export const CHART_SCRIPT = String.raw`
function esc(v) {
  return String(v).replace(/[&<>"']/g, function (c) {
    return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
  });
}
function drawChart(chart, active) {
  var w = chart.nodeWidth, h = chart.nodeHeight, at = {};
  chart.nodes.forEach(function (n) { at[n.id] = n; });
  var parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="' + chart.width + '" height="' + chart.height +
    '" viewBox="0 0 ' + chart.width + ' ' + chart.height + '" role="img" aria-label="' + esc(chart.machine) + ' statechart">',
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">' +
    '<path d="M 0 0 L 10 5 L 0 10 z" fill="#718096"/></marker></defs>'];
  chart.edges.forEach(function (e, i) {
    var a = at[e.from], b = at[e.to];
    if (!a || !b) return;
    var x1, y1, x2, y2, d, lx, ly;
    if (b.x > a.x) {
      x1 = a.x + w; y1 = a.y + h / 2; x2 = b.x; y2 = b.y + h / 2;
      var mx = (x1 + x2) / 2;
      d = 'M' + x1 + ',' + y1 + ' C' + mx + ',' + y1 + ' ' + mx + ',' + y2 + ' ' + x2 + ',' + y2;
      lx = mx; ly = y1 === y2 ? a.y - 6 : (y1 + y2) / 2 - 4 - (i % 2) * 10;
    } else if (b.x < a.x) {
      x1 = a.x; y1 = a.y + h; x2 = b.x + w; y2 = b.y + h;
      var dip = Math.max(y1, y2) + 26 + (i % 3) * 8;
      d = 'M' + x1 + ',' + y1 + ' C' + x1 + ',' + dip + ' ' + x2 + ',' + dip + ' ' + x2 + ',' + y2;
      lx = (x1 + x2) / 2; ly = dip - 2;
    } else {
      var down = b.y > a.y;
      x1 = a.x + w / 2 + (down ? -12 : 12); y1 = down ? a.y + h : a.y;
      x2 = b.x + w / 2 + (down ? -12 : 12); y2 = down ? b.y : b.y + h;
      d = 'M' + x1 + ',' + y1 + ' L' + x2 + ',' + y2;
      lx = x1 + (down ? -6 : 6); ly = (y1 + y2) / 2;
    }
    var anchor = b.x === a.x ? (b.y > a.y ? 'end' : 'start') : 'middle';
    parts.push('<g class="edge" data-from="' + esc(e.from) + '" data-to="' + esc(e.to) + '"><path d="' + d +
      '" marker-end="url(#arrow)"/><text x="' + lx + '" y="' + ly + '" text-anchor="' + anchor + '">' + esc(e.label) + '</text></g>');
  });
  chart.nodes.forEach(function (n) {
    var on = active.indexOf(n.id) >= 0;
    parts.push('<g class="node' + (n.compound ? ' compound' : '') + (on ? ' active' : '') + '" data-state="' + esc(n.id) +
      '"><rect x="' + n.x + '" y="' + n.y + '" rx="8" width="' + w + '" height="' + h + '"/><text x="' + (n.x + w / 2) +
      '" y="' + (n.y + h / 2 + 4) + '" text-anchor="middle">' + esc(n.label) + '</text></g>');
  });
  parts.push('</svg>');
  return parts.join('');
}
`;
