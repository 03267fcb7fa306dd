// Types of the modules the build-time plugin gives an app (squeezeEdge() from squeeze-edge/toolchain,
// docs/PACKAGE.md): `import model from 'squeeze-edge:model'` is the emitted .sqz's URL, or its bytes
// with `inline: true`; loadModel takes either. Reference it once: /// <reference types="squeeze-edge/model" />
declare module 'squeeze-edge:*' {
  const model: URL | Uint8Array;
  export default model;
}
