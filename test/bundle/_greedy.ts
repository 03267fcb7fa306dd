// What the bundle tests compare against: greedy text from the runtime run from sources.
import { loadModel } from '../../src/index.ts';

export const PROMPT = 'Once upon a time';
export const MAX_TOKENS = 24;

export async function greedyFromSources(file: string): Promise<string> {
  const m = await loadModel(file);
  try {
    let text = '';
    for await (const piece of m.generate(PROMPT, { temperature: 0, maxTokens: MAX_TOKENS })) text += piece;
    return text;
  } finally {
    await m.close();
  }
}
