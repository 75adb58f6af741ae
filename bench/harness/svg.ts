/**
 * The chart for the README: produce throughput per workload (bars, one colour
 * per target, the ceiling as a dashed line) and end-to-end latency at 50% of
 * max (bar to p99, whisker from p50 to p99.9, log scale). Plain SVG, no deps.
 */
import type { Ceilings } from './types.ts';
import type { WorkloadReport } from './report.ts';
import { produceCeiling } from './report.ts';

const COLORS: Record<string, string> = { samsa: '#d9480f', kafka: '#495057', nats: '#1971c2', redis: '#2f9e44' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function renderSvg(reports: WorkloadReport[], ceilings: Ceilings, title: string): string {
  const targets = [...new Set(reports.flatMap((r) => r.results.map((x) => x.target)))];
  const W = Math.max(900, 90 + reports.length * 70);
  const panelH = 260;
  const top = 60;
  const left = 70;
  const plotW = W - left - 20;
  const groupW = plotW / Math.max(1, reports.length);
  const barW = Math.min(18, (groupW - 10) / Math.max(1, targets.length));
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${top + panelH * 2 + 150}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="${left}" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`);
  targets.forEach((t, i) => {
    out.push(
      `<rect x="${left + i * 90}" y="32" width="12" height="12" fill="${COLORS[t] ?? '#888'}"/><text x="${left + i * 90 + 16}" y="42">${esc(t)}</text>`,
    );
  });

  // panel 1: produce MB/s, linear
  const y1 = top + 10;
  const mb = (r: WorkloadReport, t: string) => {
    const p = r.results.find((x) => x.target === t)?.produce;
    return p ? p.bytes / 1e6 / p.seconds : 0;
  };
  const ceil = produceCeiling(ceilings);
  const max1 = Math.max(1, ...reports.flatMap((r) => targets.map((t) => mb(r, t)))) * 1.1;
  out.push(`<text x="${left}" y="${y1 - 2}" font-weight="bold">produce throughput, MB/s (max)</text>`);
  axis(out, left, y1 + 10, plotW, panelH - 40, (v) => v, max1, false);
  reports.forEach((r, gi) => {
    const gx = left + gi * groupW + (groupW - barW * targets.length) / 2;
    targets.forEach((t, ti) => {
      const v = mb(r, t);
      const h = (v / max1) * (panelH - 40);
      out.push(
        `<rect x="${(gx + ti * barW).toFixed(1)}" y="${(y1 + 10 + panelH - 40 - h).toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[t] ?? '#888'}"><title>${esc(`${r.workload.name} ${t}: ${v.toFixed(1)} MB/s`)}</title></rect>`,
      );
    });
  });
  if (ceil !== undefined && ceil < max1) {
    const cy = y1 + 10 + (panelH - 40) * (1 - ceil / max1);
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${cy}" y2="${cy}" stroke="#000" stroke-dasharray="4 3"/><text x="${left + plotW - 4}" y="${cy - 3}" text-anchor="end">ceiling ${ceil.toFixed(0)} MB/s</text>`,
    );
  } else if (ceil !== undefined) {
    out.push(
      `<text x="${left + plotW - 4}" y="${y1 - 2}" text-anchor="end">ceiling (loopback/disk) ${ceil.toFixed(0)} MB/s, off scale</text>`,
    );
  }

  // panel 2: latency ms, log scale
  const y2 = y1 + panelH + 20;
  const lats = reports
    .flatMap((r) => r.results.flatMap((x) => (x.latency ? [x.latency.p50, x.latency.p999] : [])))
    .filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(1, Math.min(...lats, 1e3)) / 1000)));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...lats, 1e3) / 1000)));
  out.push(
    `<text x="${left}" y="${y2 - 2}" font-weight="bold">end-to-end latency at 50% of max, ms (bar = p99, whisker = p50..p99.9, log scale)</text>`,
  );
  const h2 = panelH - 40;
  const ly = (ms: number) =>
    y2 + 10 + h2 * (1 - (Math.log10(Math.max(ms, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)));
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    const yy = ly(d);
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${yy}" y2="${yy}" stroke="#ddd"/><text x="${left - 4}" y="${yy + 4}" text-anchor="end">${d >= 1 ? d : d.toPrecision(1)}</text>`,
    );
  }
  reports.forEach((r, gi) => {
    const gx = left + gi * groupW + (groupW - barW * targets.length) / 2;
    targets.forEach((t, ti) => {
      const l = r.results.find((x) => x.target === t)?.latency;
      if (!l) return;
      const x = gx + ti * barW;
      const yb = ly(l.p99 / 1000);
      out.push(
        `<rect x="${x.toFixed(1)}" y="${yb.toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${(y2 + 10 + h2 - yb).toFixed(1)}" fill="${COLORS[t] ?? '#888'}" opacity="0.8"><title>${esc(`${r.workload.name} ${t}: p50 ${(l.p50 / 1000).toFixed(2)} p99 ${(l.p99 / 1000).toFixed(2)} p99.9 ${(l.p999 / 1000).toFixed(2)} ms at ${l.targetRate.toFixed(0)} msgs/s`)}</title></rect>`,
      );
      const cx = x + (barW - 1) / 2;
      out.push(
        `<line x1="${cx}" x2="${cx}" y1="${ly(l.p50 / 1000)}" y2="${ly(l.p999 / 1000)}" stroke="#000"/><line x1="${cx - 3}" x2="${cx + 3}" y1="${ly(l.p999 / 1000)}" y2="${ly(l.p999 / 1000)}" stroke="#000"/>`,
      );
    });
  });
  // workload labels, rotated
  const yl = y2 + panelH - 20;
  reports.forEach((r, gi) => {
    const x = left + gi * groupW + groupW / 2;
    out.push(`<text transform="translate(${x.toFixed(1)},${yl + 10}) rotate(40)" >${esc(r.workload.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function axis(
  out: string[],
  x: number,
  y: number,
  w: number,
  h: number,
  _f: (v: number) => number,
  max: number,
  _log: boolean,
) {
  const step = Math.pow(10, Math.floor(Math.log10(max / 2)));
  const nice = max / step > 10 ? step * 2 : step;
  for (let v = 0; v <= max; v += nice) {
    const yy = y + h * (1 - v / max);
    out.push(
      `<line x1="${x}" x2="${x + w}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}" stroke="#ddd"/><text x="${x - 4}" y="${(yy + 4).toFixed(1)}" text-anchor="end">${v}</text>`,
    );
  }
}
