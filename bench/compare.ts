// Before and after: two results files of bench/run.ts side by side, as markdown. Each product of
// each group both runs have: its tokens/s then and now and the ratio, and beside it the ratio of
// llama.cpp Q4_0 (or wllama Q4_0 in the browser) between the runs, which tells a faster product
// from a quieter machine. Then each profile both have, part by part.
//
//   node --import tsx bench/compare.ts BEFORE.json AFTER.json [> table.md]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { BenchResults } from './_report.ts';
import { profileParts } from './_report.ts';

const { positionals } = parseArgs({ allowPositionals: true, options: {} });
if (positionals.length !== 2) {
  console.error('usage: node --import tsx bench/compare.ts BEFORE.json AFTER.json');
  process.exit(1);
}
const [before, after] = positionals.map((f) => {
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as BenchResults;
  } catch (e) {
    console.error(`${f}: ${(e as Error).message}`);
    process.exit(1);
  }
});

interface Row {
  label: string;
  promptTokPerS: number;
  genTokPerS: number;
}

const x = (a: number, b: number) => `×${(b / a).toFixed(2)}`;
const f1 = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

function table(title: string, a: Row[], b: Row[], ref: (r: Row) => boolean): string {
  const refA = a.find(ref);
  const refB = b.find(ref);
  const rows = b.flatMap((r) => {
    const o = a.find((q) => q.label === r.label);
    return o ? [`| ${r.label} | ${f1(o.promptTokPerS)} → ${f1(r.promptTokPerS)} (${x(o.promptTokPerS, r.promptTokPerS)}) | ${f1(o.genTokPerS)} → ${f1(r.genTokPerS)} (${x(o.genTokPerS, r.genTokPerS)}) |`] : [];
  });
  const peer = refA && refB ? `the reference (${refB.label}) went ${x(refA.promptTokPerS, refB.promptTokPerS)} / ${x(refA.genTokPerS, refB.genTokPerS)} (prompt / generate) between the runs` : 'no reference in both runs';
  return `### ${title}\n\n${peer}.\n\n| product | prompt tok/s | generate tok/s |\n| --- | --- | --- |\n${rows.join('\n')}\n`;
}

const out: string[] = [`Before: ${before.date} (${before.mode}, ${before.machine.host}); after: ${after.date} (${after.mode}, ${after.machine.host}).\n`];
for (const g of after.groups) {
  const o = before.groups.find((q) => q.name === g.name && q.prompt === g.prompt && q.gen === g.gen);
  if (o) out.push(table(g.name, o.results, g.results, (r) => r.label === 'llama.cpp Q4_0'));
}
if (before.browser && after.browser && 'results' in before.browser && 'results' in after.browser) {
  out.push(table('In the browser', before.browser.results, after.browser.results, (r) => r.label === 'wllama Q4_0, 1 thread'));
}
for (const p of after.profiles) {
  const o = before.profiles.find((q) => q.file.split('/').pop() === p.file.split('/').pop() && q.fast === p.fast && q.threads === p.threads && q.position === p.position);
  if (!o) continue;
  const old = new Map(profileParts(o));
  const rows = profileParts(p).map(([k, ms]) => `| ${k} | ${old.has(k) ? old.get(k)!.toFixed(3) : '–'} | ${ms.toFixed(3)} |`);
  out.push(`### Profile: ${p.file.split('/').pop()}${p.fast ? ' --fast' : ''}, ${p.threads} thread(s), position ${p.position}\n\nStep ${o.stepMs.toFixed(2)} → ${p.stepMs.toFixed(2)} ms.\n\n| part (ms per step) | before | after |\n| --- | ---: | ---: |\n${rows.join('\n')}\n`);
}
console.log(out.join('\n'));
