// A turn of the event loop. A generation's steps only await promises (microtasks), so without
// this a long generation would hold the thread: no signal (Ctrl-C, an abort), no network write
// or new request would be handled until it ends. setImmediate in Node; a MessageChannel message
// elsewhere (setTimeout(0) is clamped to 4 ms once nested in browsers).
const viaChannel = (): Promise<void> =>
  new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });

export const nextTick: () => Promise<void> =
  typeof globalThis.setImmediate === 'function' ? () => new Promise((resolve) => globalThis.setImmediate(resolve)) : viaChannel;
