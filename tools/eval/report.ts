// The evaluation's report: a markdown table and a hand-written SVG plot of perplexity against
// average bits per weight (one series per method, f32 as a horizontal line). Pure functions of the
// rows, so the same rows give the same bytes.
import { basename } from 'node:path';
import { GGUF_EVAL_TYPES } from './gguf.ts';
import type { EvalResult, EvalRow } from './index.ts';

/** llama.cpp's formats share one series on the plot (each point labelled with its format). */
const LLAMA_CPP = 'llama.cpp';
const seriesOf = (method: string): string => (method in GGUF_EVAL_TYPES ? LLAMA_CPP : method);

/** A perplexity for a table: 4 decimals, or 5 significant digits when huge (an untrained model). */
export function pplText(v: number): string {
  return Math.abs(v) < 1e5 ? v.toFixed(4) : v.toExponential(4);
}

const groupText = (r: EvalRow) => (r.group === null ? '–' : r.group === 0 ? 'row' : String(r.group));

/** results.md: one line per row, perplexity change against the f32 row. */
export function resultsMarkdown(result: EvalResult, checkpoint: string): string {
  const f32 = result.rows.find((r) => r.method === 'f32');
  const lines = [
    `# Evaluation of ${basename(checkpoint)}`,
    '',
    `Perplexity: sliding window, ctx ${result.ctx}, stride ${result.stride}, ${result.rows[0]?.tokens ?? 0} scored tokens (docs/PERPLEXITY.md).`,
    'Bits/weight: average over the quantized linear layers, everything stored for them counted (docs/EVAL.md).',
    ...(result.layerBits === null ? [] : [`Mixed precision for every method: \`--layer-bits ${result.layerBits}\` (each row's bits is the default; matrices the spec names are counted too).`]),
    '',
    '| method | bits | group | bits/weight | file KiB | perplexity | vs f32 |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of result.rows) {
    let vs = '–';
    if (f32 && r !== f32) {
      const d = r.perplexity - f32.perplexity;
      vs = `${d >= 0 ? '+' : ''}${Math.abs(d) < 1e5 ? d.toFixed(3) : d.toExponential(3)} (${d >= 0 ? '+' : ''}${((100 * d) / f32.perplexity).toFixed(1)}%)`;
    }
    lines.push(`| ${r.method} | ${r.bits} | ${groupText(r)} | ${r.avgBits.toFixed(3)} | ${(r.bytes / 1024).toFixed(1)} | ${pplText(r.perplexity)} | ${vs} |`);
  }
  if (result.notes.length) lines.push('', ...result.notes.map((n) => `- ${n}`));
  return lines.join('\n') + '\n';
}

/** Distinct colours (Okabe–Ito), one per method in this order. */
export const SERIES_COLOURS: Record<string, string> = {
  squeezellm: '#0072B2',
  'squeezellm-sparse': '#009E73',
  rtn: '#D55E00',
  gptq: '#CC79A7',
  awq: '#E69F00',
  'squeezellm-unweighted': '#56B4E9',
  'gptq-act-order': '#000000',
  [LLAMA_CPP]: '#7F3C8D',
};
const F32_COLOUR = '#555555';

/** About `n` round tick values covering [lo, hi] (steps 1, 2 or 5 × 10^k). */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.05 || 0.5;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.floor(lo / step + 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toFixed(12)));
  if (ticks[ticks.length - 1] < hi - step * 1e-9) ticks.push(Number((ticks[ticks.length - 1] + step).toFixed(12)));
  return ticks;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => Number(v.toFixed(2)).toString();
const label = (v: number) => Number(v.toPrecision(6)).toString();

/**
 * results.svg: perplexity (y) against average bits per weight (x), quantized rows only on the x
 * axis. One `<g class="series">` per method (a circle per row, a polyline per group size joining
 * its bit widths; llama.cpp's formats together, each point labelled, no line), f32 as a dashed
 * horizontal `<line class="f32">`, a legend on the right.
 */
export function resultsSvg(rows: EvalRow[], subtitle?: string): string {
  const W = 720;
  const H = 440;
  const m = { left: 70, right: 170, top: subtitle ? 52 : 40, bottom: 60 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const f32 = rows.find((r) => r.method === 'f32');
  const quant = rows.filter((r) => r.method !== 'f32' && Number.isFinite(r.perplexity));
  const xs = quant.map((r) => r.avgBits);
  const ys = quant.map((r) => r.perplexity).concat(f32 && Number.isFinite(f32.perplexity) ? [f32.perplexity] : []);
  const xTicks = niceTicks(xs.length ? Math.min(...xs) : 2, xs.length ? Math.max(...xs) : 5);
  const yTicks = niceTicks(ys.length ? Math.min(...ys) : 1, ys.length ? Math.max(...ys) : 2);
  const [x0, x1] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const X = (v: number) => m.left + ((v - x0) / (x1 - x0)) * pw;
  const Y = (v: number) => m.top + ph - ((v - y0) / (y1 - y0)) * ph;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="22" text-anchor="middle" font-size="14">Perplexity against bits per weight</text>`);
  if (subtitle) out.push(`<text x="${m.left + pw / 2}" y="39" text-anchor="middle" font-size="11" fill="#444">${esc(subtitle)}</text>`);
  // grid and ticks
  out.push('<g class="axes" stroke="#000" fill="none">');
  out.push(`<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}"/>`);
  out.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}"/>`);
  for (const t of xTicks) out.push(`<line class="tick" x1="${fmt(X(t))}" y1="${m.top + ph}" x2="${fmt(X(t))}" y2="${m.top + ph + 5}"/>`);
  for (const t of yTicks) out.push(`<line class="tick" x1="${m.left - 5}" y1="${fmt(Y(t))}" x2="${m.left}" y2="${fmt(Y(t))}"/>`);
  out.push('</g>');
  out.push('<g class="grid" stroke="#e5e5e5">');
  for (const t of yTicks.slice(1)) out.push(`<line x1="${m.left + 1}" y1="${fmt(Y(t))}" x2="${m.left + pw}" y2="${fmt(Y(t))}"/>`);
  out.push('</g>');
  out.push('<g class="tick-labels" fill="#000">');
  for (const t of xTicks) out.push(`<text x="${fmt(X(t))}" y="${m.top + ph + 20}" text-anchor="middle">${label(t)}</text>`);
  for (const t of yTicks) out.push(`<text x="${m.left - 8}" y="${fmt(Y(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  out.push('</g>');
  out.push(`<text class="x-label" x="${m.left + pw / 2}" y="${H - 15}" text-anchor="middle">average bits per weight</text>`);
  out.push(`<text class="y-label" transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">perplexity</text>`);

  // f32 reference line
  const legend: { name: string; colour: string; dashed: boolean }[] = [];
  if (f32 && Number.isFinite(f32.perplexity)) {
    const y = fmt(Y(f32.perplexity));
    out.push(`<line class="f32" x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="${F32_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"><title>f32: ${pplText(f32.perplexity)}</title></line>`);
    legend.push({ name: `f32 (${pplText(f32.perplexity)})`, colour: F32_COLOUR, dashed: true });
  }

  // one group per method: a polyline through its points by bits per weight, and a circle per point
  const methods = [...new Set(quant.map((r) => seriesOf(r.method)))];
  const extra = ['#56B4E9', '#F0E442', '#000000'];
  for (const [i, method] of methods.entries()) {
    const colour = SERIES_COLOURS[method] ?? extra[i % extra.length];
    const pts = quant.filter((r) => seriesOf(r.method) === method).sort((a, b) => a.avgBits - b.avgBits || a.perplexity - b.perplexity);
    out.push(`<g class="series" data-method="${esc(method)}" stroke="${colour}" fill="${colour}">`);
    // one line per group setting, joining its bit widths (SqueezeLLM has one setting); per row solid, groups dashed
    // (llama.cpp's formats are different formats, not one at several widths: points only)
    const settings = method === LLAMA_CPP ? [] : [...new Set(pts.map((r) => r.group))];
    for (const [k, g] of settings.entries()) {
      const line = pts.filter((r) => r.group === g);
      if (line.length < 2) continue;
      const dash = g === null || g === 0 ? '' : ` stroke-dasharray="${['5 3', '2 2', '8 3 2 3'][k % 3]}"`;
      out.push(`<polyline data-group="${g === null ? '' : g === 0 ? 'row' : g}" fill="none" stroke-width="2"${dash} points="${line.map((r) => `${fmt(X(r.avgBits))},${fmt(Y(r.perplexity))}`).join(' ')}"/>`);
    }
    for (const r of pts) {
      const g = r.group === null ? '' : r.group === 0 ? ', per row' : `, group ${r.group}`;
      const what = method === LLAMA_CPP ? esc(r.method) : `${esc(method)} ${r.bits}-bit${g}`;
      out.push(`<circle cx="${fmt(X(r.avgBits))}" cy="${fmt(Y(r.perplexity))}" r="4"><title>${what}: ${r.avgBits.toFixed(3)} bits/weight, ppl ${pplText(r.perplexity)}</title></circle>`);
      // one series, many formats: each point names its own
      if (method === LLAMA_CPP) out.push(`<text x="${fmt(X(r.avgBits) + 6)}" y="${fmt(Y(r.perplexity) - 6)}" font-size="10" stroke="none">${esc(r.method)}</text>`);
    }
    out.push('</g>');
    legend.push({ name: method, colour, dashed: false });
  }

  // legend
  const lx = m.left + pw + 20;
  out.push('<g class="legend">');
  for (const [i, e] of legend.entries()) {
    const y = m.top + 10 + i * 20;
    out.push(`<line x1="${lx}" y1="${y}" x2="${lx + 24}" y2="${y}" stroke="${e.colour}" stroke-width="2"${e.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (!e.dashed) out.push(`<circle cx="${lx + 12}" cy="${y}" r="4" fill="${e.colour}"/>`);
    out.push(`<text x="${lx + 32}" y="${y + 4}">${esc(e.name)}</text>`);
  }
  if (methods.some((mm) => quant.some((r) => r.method === mm && r.group !== null && r.group > 0))) {
    const y = m.top + 10 + legend.length * 20 + 6;
    out.push(`<text x="${lx}" y="${y}" font-size="10" fill="#555">lines join bit widths at one</text>`);
    out.push(`<text x="${lx}" y="${y + 13}" font-size="10" fill="#555">group size; dashed: groups,</text>`);
    out.push(`<text x="${lx}" y="${y + 26}" font-size="10" fill="#555">solid: one group per row</text>`);
  }
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}
